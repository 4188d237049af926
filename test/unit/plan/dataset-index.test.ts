// The sorted-name index: subtree ranges must hold even when siblings sort between a dataset and its
// children ('tank/a-b', 'tank/a.b' and 'tank/a b' all sort before 'tank/a/…').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ancestorsOf, descendantsOf, indexDatasets, nearestIn, subtreeOf } from '../../../dom0/plan/dataset-index.ts';
import { closestNames, editDistance } from '../../../dom0/plan/suggest.ts';
import { sys } from './fixtures.ts';

const s = sys('ds tank/a/x/y\nds tank/a-b\nds tank/a.b/z\nds tank/ab\nds tank/a0');
// The fixture format splits on spaces, so the name with a space is added by hand.
s.zfs.datasets.push({ ...s.zfs.datasets.find((d) => d.name === 'tank/ab')!, name: 'tank/a b' });

test('subtree ranges are exact despite awkwardly sorting siblings', () => {
  const index = indexDatasets({ datasets: [...s.zfs.datasets].reverse() });
  assert.deepEqual(subtreeOf(index, 'tank/a').map((d) => d.name), ['tank/a', 'tank/a/x', 'tank/a/x/y']);
  assert.deepEqual(descendantsOf(index, 'tank/a.b').map((d) => d.name), ['tank/a.b/z']);
  assert.deepEqual(subtreeOf(index, 'tank/a b').map((d) => d.name), ['tank/a b']);
  assert.deepEqual(subtreeOf(index, 'tank/nope'), []);
  assert.equal(descendantsOf(index, 'tank').length, s.zfs.datasets.length - 1);
});

test('ancestors, nearest designated ancestor', () => {
  assert.deepEqual(ancestorsOf('p/a/b/c'), ['p/a/b', 'p/a', 'p']);
  assert.deepEqual(ancestorsOf('p'), []);
  const m = new Set(['p/a', 'p/a/b/c']);
  assert.equal(nearestIn(m, 'p/a/b/c', true), 'p/a/b/c');
  assert.equal(nearestIn(m, 'p/a/b/c', false), 'p/a');
  assert.equal(nearestIn(m, 'p/ab', true), null);
});

test('did-you-mean: transpositions count once, far names are not suggested', () => {
  assert.equal(editDistance('wrok', 'work', 2), 1);
  assert.deepEqual(closestNames('wrok', ['work', 'vault', 'wok']), ['wok', 'work']);
  assert.deepEqual(closestNames('personal', ['vault', 'work']), []);
});
