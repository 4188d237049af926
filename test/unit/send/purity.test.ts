// The send step planner stays pure (DESIGN.md "Shape"): plan.ts, flags.ts, lineage.ts and receiver-view.ts import
// only types, findings, ZFS name rules and each other, and touch no process, clock or environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ALLOWED = [/^\.\.\/\.\.\/shared\/zfs-names\.ts$/, /^\.\.\/job\/findings\.ts$/, /^\.\.\/[a-z-]+\/types\.ts$/, /^\.\/(plan|flags|lineage|types|receiver-view)\.ts$/];

for (const file of ['plan.ts', 'flags.ts', 'lineage.ts', 'receiver-view.ts', 'types.ts']) {
  test(`dom0/send/${file} does no I/O`, () => {
    const src = readFileSync(fileURLToPath(new URL(`../../../dom0/send/${file}`, import.meta.url)), 'utf8');
    const imports = [...src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    for (const i of imports) assert.ok(ALLOWED.some((re) => re.test(i)), `${file} imports ${i}`);
    const code = src.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const banned of [/\bprocess\b/, /\bDate\b/, /Math\.random/, /\bconsole\b/, /\bsetTimeout\b/, /\bnode:/, /\bimport\s*\(/]) {
      assert.doesNotMatch(code, banned, `${file} uses ${banned}`);
    }
  });
}
