// The snapshot planner stays pure: it imports only types, findings, ZFS name rules and itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ALLOWED = [/^\.\.\/\.\.\/shared\/zfs-names\.ts$/, /^\.\.\/job\/findings\.ts$/, /^\.\.\/[a-z-]+\/types\.ts$/, /^\.\/[a-z-]+\.ts$/];

for (const file of ['plan.ts', 'owners.ts', 'content-hash.ts']) {
  test(`dom0/snapshot/${file} does no I/O`, () => {
    const src = readFileSync(fileURLToPath(new URL(`../../../dom0/snapshot/${file}`, import.meta.url)), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
    for (const i of imports) assert.ok(ALLOWED.some((re) => re.test(i)), `${file} imports ${i}`);
    assert.doesNotMatch(src, /process\.|Date\.now|new Date\(/);
  });
}
