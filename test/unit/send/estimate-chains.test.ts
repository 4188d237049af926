// Which steps share one range estimate: consecutive incrementals of a dataset, each from the one
// before, same flags; everything else (full, clone, resume, from a bookmark, a broken chain, a
// lone incremental) is estimated on its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateChains } from '../../../dom0/send/estimate-chains.ts';
import type { SendStep } from '../../../dom0/send/types.ts';

const flags = { raw: false, largeBlocks: true, compressed: true, embedded: true };
function step(snapshot: string, from: string | null, over: Partial<SendStep> = {}): SendStep {
  const dataset = snapshot.slice(0, snapshot.indexOf('@'));
  return {
    snapshot, dataset, label: snapshot.slice(snapshot.indexOf('@') + 1), kind: 'target', qube: null, receiving: `bk/${dataset}`, type: 'volume',
    guid: 1n, action: 'send', stream: from === null ? 'full' : 'incremental', from, fromGuid: null, receiverOrigin: null, flags,
    token: null, abortFirst: false, intoPlaceholder: false, reason: null, patched: false, ...over,
  };
}
const names = (r: ReturnType<typeof estimateChains>): { chains: string[]; singles: string[] } => ({
  chains: r.chains.map((c) => `${c.from}..${c.last}: ${c.steps.map((s) => s.label).join(' ')}`),
  singles: r.singles.map((s) => s.snapshot),
});

test('a progressive lineage after its full step is one chain; two datasets interleaved are two', () => {
  const steps = [
    step('p/a@1', null), step('p/a@2', 'p/a@1'), step('p/b@1', 'p/b@0'), step('p/a@3', 'p/a@2'), step('p/b@2', 'p/b@1'), step('p/a@4', 'p/a@3'),
  ];
  assert.deepEqual(names(estimateChains(steps)), { chains: ['p/a@1..p/a@4: 2 3 4', 'p/b@0..p/b@2: 1 2'], singles: ['p/a@1'] });
});

test('not chained: a lone incremental, one from a bookmark, a clone, a resume, a gap, a flags change', () => {
  const steps = [
    step('p/a@2', 'p/a@1'),
    step('p/b@2', 'p/b#1'), step('p/b@3', 'p/b@2'),
    step('p/c@1', 'p/o@x', { stream: 'clone' }),
    step('p/d@2', 'p/d@1', { action: 'resume', token: '1-x' }), step('p/d@3', 'p/d@2'),
    step('p/e@2', 'p/e@1'), step('p/e@4', 'p/e@3'),
    step('p/f@2', 'p/f@1'), step('p/f@3', 'p/f@2', { flags: { ...flags, raw: true } }),
  ];
  const r = names(estimateChains(steps));
  assert.deepEqual(r.chains, []);
  assert.deepEqual(r.singles.sort(), steps.map((s) => s.snapshot).sort());
});

test('a chain broken in the middle becomes two (or a chain and a single)', () => {
  const steps = [step('p/a@2', 'p/a@1'), step('p/a@3', 'p/a@2'), step('p/a@5', 'p/a@4'), step('p/a@6', 'p/a@5'), step('p/a@7', 'p/a@6')];
  assert.deepEqual(names(estimateChains(steps)), { chains: ['p/a@1..p/a@3: 2 3', 'p/a@4..p/a@7: 5 6 7'], singles: [] });
  assert.deepEqual(names(estimateChains([step('p/a@2', 'p/a@1'), step('p/a@3', 'p/a@2'), step('p/a@9', 'p/a@8')])), { chains: ['p/a@1..p/a@3: 2 3'], singles: ['p/a@9'] });
});
