// Terminal injection (issue 9 item 6): hostile text in every field every renderer prints (a
// receiver's zod message, a job file's double-quoted YAML escapes, a name) must reach neither
// stdout nor stderr as a control byte, bidi override or invisible character, and no one field may
// flood the screen. Text output with colour off has no raw ESC at all; JSON stays exact JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CalcResult } from '../../../dom0/commands/calc.ts';
import type { CheckResult } from '../../../dom0/commands/check.ts';
import type { ImportResult } from '../../../dom0/commands/import.ts';
import type { SnapshotResult } from '../../../dom0/commands/snapshot.ts';
import type { StatusResult } from '../../../dom0/commands/status.ts';
import type { Finding } from '../../../dom0/job/findings.ts';
import { calcJson, renderCalc } from '../../../dom0/output/calc.ts';
import { checkJson, renderCheck } from '../../../dom0/output/check.ts';
import { importJson, renderImport } from '../../../dom0/output/import.ts';
import { toJson } from '../../../dom0/output/json.ts';
import { renderSnapshot, snapshotJson } from '../../../dom0/output/snapshot.ts';
import { renderStatus, statusJson } from '../../../dom0/output/status.ts';
import { makeStyle, PLAIN } from '../../../dom0/output/style.ts';

/** Every class of dangerous character, then 500 KB of text. */
export const EVIL_CHARS = [
  '\u001b[2J', '\u001b]0;owned\u0007', '\u0007', '\r', '\b', '\u007f', '\u009b31m', '\u0085', '\t', '\n', '\u0000',
  '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069',
  '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\ufeff',
  '\u2028', '\u2029', '\u00ad', '\ud800', 'x\udc00',
];
const evil = (tag: string): string => `${tag}<${EVIL_CHARS.join('')}>` + 'A'.repeat(500_000);

/** Characters a terminal acts on or that hide text; a line feed is allowed between lines. */
export const FORBIDDEN = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
/** The longest line any renderer may print for these inputs (one field is at most ~2 000 chars). */
const MAX_LINE = 12_000;

// Asserts text is terminal-safe: no forbidden character, no huge line; returns it.
export function assertSafe(text: string, what: string): string {
  const m = FORBIDDEN.exec(text);
  assert.equal(m, null, `${what}: U+${(m?.[0].codePointAt(0) ?? 0).toString(16)} at ${m?.index ?? -1}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`);
  for (const line of text.split('\n')) assert.ok(line.length <= MAX_LINE, `${what}: a line of ${line.length} characters`);
  return text;
}

// Asserts a --json document is JSON, safe, and every string in it bounded.
function assertSafeJson(json: string, what: string): void {
  assertSafe(json, what);
  // Exact zfs command lines (`commands`) have their own, larger bound.
  const walk = (v: unknown, max: number): void => {
    if (typeof v === 'string') assert.ok(v.length <= max, `${what}: a JSON string of ${v.length} characters`);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, max));
    else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, k === 'commands' ? 300_000 : 2100));
  };
  walk(JSON.parse(json), 2100);
}

const findings = (): Finding[] => [
  { code: 'UNKNOWN_FIELD', severity: 'error', message: evil('zod'), line: 1, column: 2, subject: evil('subject') },
  { code: evil('CODE'), severity: 'warning', message: evil('warn') },
  { code: 'GROUP_UNUSED', severity: 'info', message: evil('note'), details: { list: [evil('detail')] } },
];

const renderers: { name: string; text: (color: boolean) => string; json: () => string }[] = [
  (() => {
    const r: CheckResult = {
      ok: false, job: evil('job'), source: { kind: 'file', path: evil('path') }, findings: findings(),
      designations: [{ dataset: evil('ds'), designation: 'include', object: evil('obj'), objectType: 'qube', group: evil('group') }],
      undesignated: { qubes: [evil('q')], datasets: [evil('d')] },
      targets: { datasets: 1, snapshots: 1, byKind: { target: 1, intermediate: 0, origin: 0 }, existing: 0, pending: 1 },
      systemChecked: true, snapshotCreation: true, systemFailures: [], fileOnly: false,
    };
    return { name: 'check', text: (c: boolean) => renderCheck(r, makeStyle(c)), json: () => toJson(checkJson(r)) };
  })(),
  (() => {
    const refused: ImportResult = { ok: false, job: evil('job'), action: 'refused', findings: findings(), sha256: evil('sha') };
    const done: ImportResult = { ok: true, job: evil('job'), action: 'replaced', findings: findings(), sha256: evil('sha'), dir: evil('dir'), discarded: { pending: 1, snapshotted: 0, sent: 0, verified: 0 } };
    return { name: 'import', text: (c: boolean) => renderImport(refused, evil('file'), makeStyle(c)) + renderImport(done, evil('file'), makeStyle(c)), json: () => toJson([importJson(refused), importJson(done)]) };
  })(),
  (() => {
    const r: CalcResult = {
      ok: false, job: evil('job'), label: evil('label'), findings: findings(),
      targets: [
        { dataset: evil('ds'), snapshot: evil('snap'), kind: 'target', send: { type: 'incremental', from: evil('from') }, exists: false, state: 'pending', guid: evil('guid') },
        { dataset: evil('ds'), snapshot: evil('snap'), kind: 'origin', send: { type: 'clone', origin: evil('origin') }, exists: true, state: 'sent' },
      ],
    };
    return { name: 'calc', text: (c: boolean) => renderCalc(r, makeStyle(c)), json: () => toJson(calcJson(r)) };
  })(),
  (() => {
    const base = {
      job: evil('job'), label: evil('label'), findings: findings(),
      created: [{ snapshot: evil('c'), guid: evil('g'), qube: evil('q') }], verified: [{ snapshot: evil('v'), guid: '1', qube: null }],
      pending: [{ snapshot: evil('p'), qube: evil('q'), message: evil('why') }], wouldCreate: [evil('w')], commands: [`zfs snapshot <${EVIL_CHARS.join('')}>${'a'.repeat(5000)}`],
      settings: [{ qube: evil('q'), label: evil('l'), sha256: evil('h'), file: evil('f') }],
      hashed: [{ snapshot: evil('h'), sha256: evil('s'), bytes: '1024', seconds: 1.5 }], wouldHash: [evil('wh')],
    } as unknown as Omit<SnapshotResult, 'dryRun' | 'exitCode'>;
    const live: SnapshotResult = { ...base, dryRun: false, exitCode: 3 };
    const dry: SnapshotResult = { ...base, dryRun: true, exitCode: 1 };
    return { name: 'snapshot', text: (c: boolean) => renderSnapshot(live, makeStyle(c)) + renderSnapshot(dry, makeStyle(c)), json: () => toJson(snapshotJson(live)) };
  })(),
  (() => {
    const r: StatusResult = {
      metadataDir: evil('meta'),
      jobs: [{ name: evil('job'), importedAt: evil('at'), sha256: evil('sha'), counts: { pending: 1, snapshotted: 0, sent: 0, verified: 0 }, bytesSent: '0', step: { snapshot: evil('s'), receiving: evil('r'), startedAt: evil('t'), updatedAt: evil('u'), bytes: '5', resumed: false, pid: 1, running: false }, targets: [{ snapshot: evil('s'), status: 'sent', guid: evil('g'), snapshottedAt: evil('t') }] }],
    };
    const empty: StatusResult = { metadataDir: evil('meta'), jobs: [] };
    return { name: 'status', text: (c: boolean) => renderStatus(r, makeStyle(c)) + renderStatus(empty, makeStyle(c)), json: () => toJson(statusJson(r)) };
  })(),
];

for (const r of renderers) {
  test(`${r.name}: hostile text is escaped and bounded in text output`, () => {
    const text = assertSafe(r.text(false), r.name);
    // Visible escapes instead of the characters, and a marker saying how much was cut.
    assert.match(text, /\\x1b\[2J/);
    assert.match(text, /\\u202e/);
    assert.match(text, /more characters cut/);
    // Exact zfs command lines are escaped but not cut.
    if (r.name === 'snapshot') assert.match(text, /^zfs snapshot <\\x1b\[2J.*>a{5000}$/m);
    // With colour on, the only ESC sequences are the Style's own colours.
    const colored = r.text(true);
    // eslint-disable-next-line no-control-regex
    assertSafe(colored.replace(/\u001b\[(?:1|2|22|31|32|33|36|39)m/g, ''), `${r.name} (colour)`);
    assert.equal(PLAIN.color, false);
  });

  test(`${r.name}: --json stays exact JSON, bounded, with no raw invisible characters`, () => {
    assertSafeJson(r.json(), r.name);
  });
}

test('plain names and messages are printed unchanged', () => {
  const r: StatusResult = { metadataDir: '/m', jobs: [{ name: 'mybackup1', importedAt: '2026-01-01T00:00:00.000Z', sha256: 'ab', counts: { pending: 0, snapshotted: 1, sent: 0, verified: 0 }, bytesSent: '0', step: null, targets: [{ snapshot: 'tank/ünï côdé@l', status: 'snapshotted', guid: '18446744073709551615' }] }] };
  const text = renderStatus(r, PLAIN);
  assert.match(text, /tank\/ünï côdé@l {2}snapshotted {2}guid 18446744073709551615/);
  assert.deepEqual(JSON.parse(toJson(statusJson(r))), r);
});
