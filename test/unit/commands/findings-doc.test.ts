// dom0/FINDINGS.md is the one place every finding code is documented: the job file's, the
// planner's, the failures to read the system and the snapshot command's, each with the severities
// it can have; and the codes the sources emit are all in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOB_CODES } from '../../../dom0/job/codes.ts';
import { PLAN_CODES } from '../../../dom0/plan/codes.ts';
import { SNAPSHOT_CODES, SYSTEM_CODES } from '../../../dom0/commands/codes.ts';
import { SEND_CODES } from '../../../dom0/send/codes.ts';
import { SETTINGS_CODES } from '../../../dom0/settings/codes.ts';
import { RESTORE_CODES } from '../../../dom0/restore/codes.ts';
import type { CodeInfo } from '../../../dom0/job/findings.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Resume-token decoding failures: send turns them into STALE_RESUME_TOKEN (the token is discarded), never a finding of their own. */
const TOKEN_ERRORS = new Set(['RESUME_TOKEN_IMPLAUSIBLE', 'RESUME_TOKEN_DUMP_UNPARSABLE']);
/** Codes whose severity depends on the designation (the catalogues list the usual one). */
const DUAL: Record<string, string> = { QUBE_NOT_ON_ZFS: 'warning', DISPOSABLE_QUBE: 'info' };

function documented(): Map<string, string[]> {
  const doc = readFileSync(path.join(root, 'dom0/FINDINGS.md'), 'utf8');
  return new Map([...doc.matchAll(/^\| `([A-Z_0-9]+)` \| ([a-z /]+) \|/gm)].map((m) => [m[1]!, m[2]!.split(' / ').sort()]));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

test('every catalogued code is documented once with exactly its severities, and nothing else is', () => {
  const expected = new Map<string, Set<string>>();
  for (const catalogue of [JOB_CODES, PLAN_CODES, SYSTEM_CODES, SNAPSHOT_CODES, SEND_CODES, SETTINGS_CODES, RESTORE_CODES] as Record<string, CodeInfo>[]) {
    for (const [code, info] of Object.entries(catalogue)) {
      const set = expected.get(code) ?? new Set<string>();
      set.add(info.severity);
      if (DUAL[code]) set.add(DUAL[code]);
      expected.set(code, set);
    }
  }
  const doc = documented();
  assert.deepEqual([...doc.keys()].sort(), [...expected.keys()].sort());
  for (const [code, severities] of doc) assert.deepEqual(severities, [...expected.get(code)!].sort(), code);
  // The severity words are the three --json uses.
  for (const s of new Set([...doc.values()].flat())) assert.ok(['error', 'warning', 'info'].includes(s), s);
});

test('every code the sources build a finding with, and every way reading the system fails, is catalogued', () => {
  const doc = documented();
  for (const file of sources(path.join(root, 'dom0'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b(?:finding|fail)\('([A-Z_0-9]+)'/g)) assert.ok(doc.has(m[1]!), `${path.relative(root, file)}: ${m[1]}`);
    if (/dom0\/(qubes|zfs)\//.test(file)) {
      for (const m of text.matchAll(/(?:QzbError|super)\('([A-Z_0-9]+)'/g)) {
        if (m[1] !== 'INTERNAL' && !TOKEN_ERRORS.has(m[1]!)) assert.ok(m[1]! in SYSTEM_CODES, `${path.relative(root, file)} throws ${m[1]}, which is not in SYSTEM_CODES`);
      }
    }
  }
});
