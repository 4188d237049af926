// What check lists as "not designated": the planner's QUBE_UNDESIGNATED and DATASET_UNDESIGNATED lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { undesignated, summariseTargets } from '../../../dom0/commands/analyse.ts';
import { ds, targetsOf, zfsOf } from '../snapshot/fixtures.ts';
import { finding } from '../../../dom0/job/findings.ts';

test('undesignated: the lists come from the planner\'s omission findings, parents merged and sorted', () => {
  const findings = [
    finding('QUBE_UNDESIGNATED', 'warning', 'm', { details: { qubes: ['other', 'vault'], notOnZfs: [] } }),
    finding('DATASET_UNDESIGNATED', 'info', 'm', { details: { datasets: ['tank/scratch', 'aux/dom0'], undesignatedParents: ['tank/dom0'] } }),
    finding('GROUP_UNUSED', 'warning', 'm', { details: { qubes: ['not-this'] } }),
  ];
  assert.deepEqual(undesignated(findings), { qubes: ['other', 'vault'], datasets: ['aux/dom0', 'tank/dom0', 'tank/scratch'] });
  assert.deepEqual(undesignated([]), { qubes: [], datasets: [] });
});

test('target summary counts kinds and pending snapshots', () => {
  const zfs = zfsOf([ds('tank/dom0', 'filesystem', { snapshots: [['l', 1n]] })]);
  assert.deepEqual(summariseTargets(targetsOf(zfs)), { datasets: 8, snapshots: 8, byKind: { target: 8, intermediate: 0, origin: 0 }, existing: 1, pending: 7 });
});
