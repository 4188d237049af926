// What check lists as "not designated": unmentioned qubes (not the receiver) and the top-most
// datasets outside every designation that belong to no qube and are not the driver's work datasets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undesignated, summariseTargets } from '../../../dom0/commands/analyse.ts';
import { ds, qubesOf, targetsOf, zfsOf } from '../snapshot/fixtures.ts';
import { jobFromText } from './helpers.ts';

test('undesignated: top-most subtrees only, qube datasets and driver work datasets left out', () => {
  const zfs = zfsOf([ds('tank/scratch', 'filesystem'), ds('tank/scratch/a', 'filesystem'), ds('tank/qubes/.tmp', 'filesystem'), ds('tank/qubes/.tmp/x', 'volume')]);
  const qubes = qubesOf();
  qubes.qubes.push({ name: 'backups', klass: 'DispVM', state: 'Running', volumes: [] }, { name: 'other', klass: 'AppVM', state: 'Halted', volumes: [] });
  const job = jobFromText('name: j\n');
  const r = undesignated(job, [{ dataset: 'tank/qubes/work', designation: 'include', object: 'work', objectType: 'qube', group: 'g' }], qubes, zfs);
  assert.deepEqual(r.qubes, ['other']);
  assert.deepEqual(r.datasets, ['aux/dom0', 'tank/dom0', 'tank/scratch']);
});

test('target summary counts kinds and pending snapshots', () => {
  const zfs = zfsOf([ds('tank/dom0', 'filesystem', { snapshots: [['l', 1n]] })]);
  assert.deepEqual(summariseTargets(targetsOf(zfs)), { datasets: 8, snapshots: 8, byKind: { target: 8, intermediate: 0, origin: 0 }, existing: 1, pending: 7 });
});
