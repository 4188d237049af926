// Test helpers: load a job text and pick findings by code; edit the seed's example line by line.
import assert from 'node:assert/strict';
import { loadJob } from '../../../dom0/job/load.ts';
import type { Finding } from '../../../dom0/job/findings.ts';
import { SEED_EXAMPLE } from './seed-example.ts';

/** The findings of `text` with `code`. */
export function withCode(text: string, code: string): Finding[] {
  return loadJob(text).findings.filter((f) => f.code === code);
}

/** The one finding of `text` with `code`, checked to be at line:column. */
export function expectOne(text: string, code: string, line: number, column: number): Finding {
  const all = loadJob(text).findings;
  const found = all.filter((f) => f.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got: ${JSON.stringify(all, null, 1)}`);
  const f = found[0]!;
  assert.deepEqual([f.line, f.column], [line, column], `${code} position: ${f.message}`);
  return f;
}

/** The seed's example with one exact substring replaced (the substring must occur). */
export function seed(from: string, to: string): string {
  assert.ok(SEED_EXAMPLE.includes(from), `seed example lacks ${JSON.stringify(from)}`);
  return SEED_EXAMPLE.replace(from, to);
}
