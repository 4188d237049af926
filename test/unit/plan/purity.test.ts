// Keeps the planning core pure (DESIGN.md "Shape"): its sources import nothing that does I/O and never
// touch the process, the clock, randomness or the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const planDir = path.join(root, 'dom0/plan');
const sources = readdirSync(planDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(path.join(planDir, f), 'utf8') }));

// What a pure module may import: its siblings, the job's findings/types, inventory types, ZFS name rules.
const ALLOWED = [/^\.\/[a-z-]+\.ts$/, /^\.\.\/job\/(findings|types)\.ts$/, /^\.\.\/inventory\/types\.ts$/, /^\.\.\/\.\.\/shared\/zfs-names\.ts$/];

test('dom0/plan has sources to check', () => {
  assert.ok(sources.length >= 5);
});

for (const { file, text } of sources) {
  test(`dom0/plan/${file} imports only pure modules`, () => {
    const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    for (const s of specs) assert.ok(ALLOWED.some((re) => re.test(s)), `${file} imports ${s}`);
    assert.doesNotMatch(text, /\bimport\s*\(/, `${file} uses dynamic import`);
    assert.doesNotMatch(text, /\brequire\s*\(/, `${file} uses require`);
  });

  test(`dom0/plan/${file} touches no process, clock, randomness or environment`, () => {
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const banned of [/\bprocess\b/, /\bDate\b/, /\bperformance\b/, /Math\.random/, /\bglobalThis\b/, /\bconsole\b/, /\bsetTimeout\b/, /\bfetch\s*\(/, /\bnode:/]) {
      assert.doesNotMatch(code, banned, `${file} uses ${banned}`);
    }
  });
}

test('every finding code the planner emits is in PLAN_CODES, and every listed code is emitted', async () => {
  const { PLAN_CODES } = await import('../../../dom0/plan/codes.ts');
  const emitted = new Set<string>();
  for (const { text } of sources) for (const m of text.matchAll(/finding\(\s*'([A-Z_]+)'/g)) emitted.add(m[1]!);
  assert.deepEqual([...emitted].sort(), Object.keys(PLAN_CODES).sort());
});
