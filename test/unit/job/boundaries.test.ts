// The loader stays pure (no I/O, process, clock or environment) and its README documents exactly
// the codes it can emit, with the right severities.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JOB_CODES } from '../../../dom0/job/codes.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dom0/job');
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts'));

test('dom0/job imports only yaml, its own files and shared/', () => {
  for (const file of sources) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/^import .* from '([^']+)';$/gm)) {
      const spec = m[1]!;
      assert.ok(spec === 'yaml' || spec.startsWith('./') || spec.startsWith('../../shared/'), `${file} imports ${spec}`);
    }
    assert.doesNotMatch(text, /\b(process|Date\.now|new Date|require|fetch)\b/, file);
  }
});

test('the README lists every code with its severity, and no others', () => {
  const full = readFileSync(path.join(dir, 'README.md'), 'utf8');
  // Only the job file's table (other sections document other catalogues).
  const start = full.indexOf('## Findings from the job file');
  const readme = full.slice(start, full.indexOf('\n## ', start + 1) >= 0 ? full.indexOf('\n## ', start + 1) : undefined);
  const rows = new Map([...readme.matchAll(/^\| `([A-Z_0-9]+)` \| (error|warning|info) \|/gm)].map((m) => [m[1]!, m[2]!]));
  const table = new Map(Object.entries(JOB_CODES).map(([c, i]) => [c, i.severity as string]));
  assert.deepEqual([...rows].sort(), [...table].sort());
});

test('every code in the table is emitted somewhere in the loader', () => {
  const all = sources.map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
  for (const code of Object.keys(JOB_CODES)) {
    if (code === 'TOO_MANY_FINDINGS') continue; // built by Report.sorted()
    assert.match(all, new RegExp(`'${code}'`), code);
  }
});
