// Rendering: check/calc/snapshot text and the --json shapes scenarios rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { check } from '../../../dom0/commands/check.ts';
import { importJob } from '../../../dom0/commands/import.ts';
import { calc } from '../../../dom0/commands/calc.ts';
import { snapshot } from '../../../dom0/commands/snapshot.ts';
import { renderCheck, checkJson } from '../../../dom0/output/check.ts';
import { calcJson, describeSend, renderCalc } from '../../../dom0/output/calc.ts';
import { renderSnapshot, snapshotJson } from '../../../dom0/output/snapshot.ts';
import { toJson } from '../../../dom0/output/json.ts';
import { makeStyle, PLAIN, styleFor } from '../../../dom0/output/style.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';
import { fakeContext, type FakeSystem } from '../commands/helpers.ts';

function ctxWith(text: string, states: { work?: string } = {}) {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf(states), created: [] };
  const ctx = fakeContext(sys);
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), text);
  return ctx;
}

test('colour only on a TTY and without NO_COLOR', () => {
  assert.equal(styleFor({ isTTY: true }, {}).color, true);
  assert.equal(styleFor({ isTTY: true }, { NO_COLOR: '1' }).color, false);
  assert.equal(styleFor({ isTTY: false }, {}).color, false);
  assert.equal(makeStyle(true).red('x'), '\u001b[31mx\u001b[39m');
});

test('check text groups designations and lists findings with file:line:col', async () => {
  const ctx = ctxWith('name: j1\nWARN\n');
  const text = renderCheck(await check({ job: 'backup1.yaml' }, ctx), PLAIN);
  assert.match(text, /Included \(backed up\): 5/);
  assert.match(text, /tank\/qubes\/work +← qube work, group g/);
  assert.match(text, /tank\/dom0 +← dataset, group d/);
  assert.match(text, /Void \(never backed up\): 0/);
  assert.match(text, /warning {2}backup1\.yaml:9:1 {2}GROUP_UNUSED {2}group x is unused/);
  assert.match(text, /8 snapshots not created yet \(the snapshot command will create them\)/);
  assert.match(text, /OK: 0 errors, 1 warning, 0 info\. Next: import backup1\.yaml/);
});

test('check --json has the SCENARIOS.md shape', async () => {
  const ctx = ctxWith('name: j1\nWARN\n');
  const j = JSON.parse(toJson(checkJson(await check({ job: 'backup1.yaml' }, ctx)))) as Record<string, unknown>;
  assert.equal(j.ok, true);
  assert.deepEqual((j.findings as unknown[])[0], { code: 'GROUP_UNUSED', severity: 'warning', message: 'group x is unused', line: 9, column: 1 });
  assert.deepEqual((j.designations as unknown[])[0], { dataset: 'tank/qubes/work', designation: 'include', object: 'work', objectType: 'qube', group: 'g' });
});

test('calc text and --json (GUIDs as decimal strings)', async () => {
  const ctx = ctxWith('name: j1\n');
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  await snapshot({ name: 'j1', dryRun: false }, ctx);
  const r = await calc({ name: 'j1' }, ctx);
  assert.match(renderCalc(r, PLAIN), /tank\/dom0@l +target +yes +snapshotted +full/);
  const j = JSON.parse(toJson(calcJson(r))) as { job: string; targets: Record<string, unknown>[] };
  assert.equal(j.job, 'j1');
  assert.deepEqual(Object.keys(j.targets[0]!).slice(0, 6), ['dataset', 'snapshot', 'kind', 'send', 'exists', 'state']);
  assert.equal(typeof j.targets[0]!.guid, 'string');
  assert.equal(describeSend({ type: 'incremental', from: 'p/a@x' }), 'incremental from p/a@x');
  assert.equal(describeSend({ type: 'clone', origin: 'p/t@c' }), 'clone of p/t@c');
});

test('snapshot text: summary and the qube to shut down; --dry-run prints exactly the commands', async () => {
  const ctx = ctxWith('name: j1\n', { work: 'Running' });
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const dry = renderSnapshot(await snapshot({ name: 'j1', dryRun: true }, ctx), PLAIN).split('\n');
  assert.deepEqual(dry.slice(0, 3), ['zfs snapshot tank/qubes/vault@l tank/qubes/vault/private@l', 'zfs snapshot tank/dom0@l', 'zfs snapshot aux/dom0@l']);
  assert.ok(dry.slice(3).every((l) => l === '' || l.startsWith('#')));
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  const text = renderSnapshot(r, PLAIN);
  assert.match(text, /Snapshot j1: 4 created, 0 verified, 4 pending\./);
  assert.match(text, /qube work is Running: shut it down \(qvm-shutdown --wait work\)/);
  const j = snapshotJson(r) as { summary: unknown };
  assert.deepEqual(j.summary, { created: 4, verified: 0, pending: 4, hashed: 0, errors: 0 });
});

test('long output stays readable: lists one item per line past a few, messages wrapped to the width', async () => {
  const { itemList, wrapText } = await import('../../../dom0/output/wrap.ts');
  assert.deepEqual(itemList('qubes: ', ['a', 'b'], '  ', 80), ['  qubes: a, b']);
  assert.deepEqual(itemList('qubes: ', ['a', 'b', 'c', 'd', 'e'], '  ', 80), ['  qubes:', '    a', '    b', '    c', '    d', '    e']);
  const lines = wrapText('  error  CODE  ', 'word '.repeat(40).trim(), '           ', 60);
  assert.ok(lines.length > 1);
  for (const l of lines) assert.ok(l.length <= 60, l);
  assert.ok(lines.slice(1).every((l) => l.startsWith('           word')));
  // A word longer than the line is kept whole.
  assert.deepEqual(wrapText('', `${'x'.repeat(70)} y`, '', 40), ['x'.repeat(70), 'y']);
  // The undesignated qubes of `check`, and the terminal's width from the stream.
  const r = await check({ job: 'backup1.yaml' }, ctxWith('name: j1\n'));
  r.undesignated = { qubes: ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'], datasets: ['tank/x'] };
  const text = renderCheck(r, { ...PLAIN, width: 50 });
  assert.match(text, /^ {2}qubes:\n {4}q1\n {4}q2\n/m);
  assert.match(text, /^ {2}datasets: tank\/x$/m);
  assert.equal(styleFor({ isTTY: true, columns: 132 }, {}).width, 132);
  assert.equal(styleFor({ isTTY: false, columns: 132 }, {}).width, undefined);
});
