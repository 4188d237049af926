// restore --zfs-receive's pure checks: what a backup qube's stream must be before dom0's zfs receive
// sees a byte of it, and which snapshots are the Qubes driver's own. The receive, the checks on ZFS
// and the swap run on real OpenZFS in test/scenarios/restore-zfs-receive.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDriverSnapshot } from '../../../dom0/plan/chains.ts';
import { streamBeginProblem } from '../../../dom0/restore/zfs-receive.ts';

test('the stream must be one full snapshot of the recorded GUID: not compound (-R/-p), not incremental, not another snapshot', () => {
  assert.equal(streamBeginProblem({ hdrtype: 1, fromguid: 0n, toguid: 42n }, 42n), null);
  assert.match(streamBeginProblem(null, 42n)!, /DRR_BEGIN/);
  assert.match(streamBeginProblem({ hdrtype: 2, fromguid: 0n, toguid: 42n }, 42n)!, /compound/);
  assert.match(streamBeginProblem({ hdrtype: 1, fromguid: 7n, toguid: 42n }, 42n)!, /incremental/);
  assert.match(streamBeginProblem({ hdrtype: 1, fromguid: 0n, toguid: 43n }, 42n)!, /GUID 43, not 42/);
});

test('driver snapshots (the planner\'s rule, which the swap uses too): revisions and clean snapshots only', () => {
  assert.ok(isDriverSnapshot('t/q/w/private@qubes:after-create:1764700000.123456'));
  assert.ok(isDriverSnapshot('t/q/w/private@qubes-clean-abcdefgh'));
  assert.ok(!isDriverSnapshot('t/q/w/private@backup-1'));
  assert.ok(!isDriverSnapshot('t/q/w/private@qubes'));
});
