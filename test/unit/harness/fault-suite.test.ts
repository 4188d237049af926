// The generated fault-injection suite: deterministic per seed, a valid scenario, ≥ 20 interrupts
// spread over full, incremental and clone sends, each followed by another send of the same job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSuite, prng } from '../../harness/fault-suite.ts';
import { normaliseScenario } from '../../harness/scenario.ts';

test('prng: same seed, same sequence; values in [0, 1)', () => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, prng(43)));
});

test('buildSuite: deterministic, valid, >= 20 interrupts over the three kinds, each followed by a send', () => {
  for (const seed of [1, 7, 123456789]) {
    const s = buildSuite(seed);
    assert.deepEqual(s, buildSuite(seed));
    const n = normaliseScenario(`fault-suite-${seed}.yaml`, JSON.parse(JSON.stringify(s.scenario)));
    assert.ok(s.cases.length >= 20);
    for (const kind of ['full', 'incremental', 'clone'] as const) assert.ok(s.cases.filter((c) => c.kind === kind).length >= 6, kind);
    for (const c of s.cases) {
      const st = n.steps[c.interruptedStep - 1]!;
      assert.equal(st.kind, 'run');
      const run = st as Extract<typeof st, { kind: 'run' }>;
      assert.deepEqual(run.argv, ['send', c.job, '--json']);
      assert.equal(run.interrupt?.afterBytes ?? run.fault?.killAgentAfterBytes, c.offset);
      assert.ok(c.offset >= 192 * 1024 && c.offset <= 3 * 1024 * 1024);
      const next = n.steps[c.nextStep - 1] as Extract<typeof st, { kind: 'run' }>;
      assert.deepEqual(next.argv, ['send', c.job, '--json']);
      assert.ok(c.nextStep > c.interruptedStep);
    }
    assert.equal(n.watchDestroyed, true);
    assert.ok(n.steps.some((x) => x.kind === 'assert-replicated' && x.exact));
  }
  // Offsets differ between seeds.
  assert.notDeepEqual(buildSuite(1).cases.map((c) => c.offset), buildSuite(2).cases.map((c) => c.offset));
});
