// SEND_CODES lists exactly the finding codes send and verify emit, with the severity they use.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SEND_CODES } from '../../../dom0/send/codes.ts';

const FILES = ['dom0/send/plan.ts', 'dom0/commands/send.ts', 'dom0/commands/verify.ts'];

test('every code send/verify emit is in SEND_CODES with its severity, and every listed code is emitted', async () => {
  const emitted = new Map<string, string>();
  for (const f of FILES) {
    const text = await readFile(f, 'utf8');
    for (const m of text.matchAll(/finding\('([A-Z_]+)', '(error|warning|info)'/g)) emitted.set(m[1]!, m[2]!);
    for (const m of text.matchAll(/(?:fail|problem)\('([A-Z_]+)'/g)) emitted.set(m[1]!, 'error');
  }
  for (const [code, severity] of emitted) {
    const info = (SEND_CODES as Record<string, { severity: string }>)[code];
    assert.ok(info, `${code} is not in SEND_CODES`);
    assert.equal(info.severity, severity, code);
  }
  assert.deepEqual([...emitted.keys()].sort(), Object.keys(SEND_CODES).sort());
});
