// The pure snapshot planner: in use, dirty, dom0 live, GUID changed, creation disabled, batching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSnapshots, snapshotExitCode } from '../../../dom0/snapshot/plan.ts';
import { ds, emptyState, qubesOf, targetsOf, zfsOf } from './fixtures.ts';

test('all halted: one atomic command per qube per pool, dom0 batched per pool', () => {
  const zfs = zfsOf();
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf(), state: emptyState() });
  assert.deepEqual(plan.errors, []);
  assert.deepEqual(plan.pending, []);
  assert.deepEqual(plan.create, [
    { qube: 'work', pool: 'tank', snapshots: ['tank/qubes/work@l', 'tank/qubes/work/private@l'] },
    { qube: 'work', pool: 'aux', snapshots: ['aux/qubes/work@l', 'aux/qubes/work/root@l'] },
    { qube: 'vault', pool: 'tank', snapshots: ['tank/qubes/vault@l', 'tank/qubes/vault/private@l'] },
    { qube: null, pool: 'tank', snapshots: ['tank/dom0@l'] },
    { qube: null, pool: 'aux', snapshots: ['aux/dom0@l'] },
  ]);
});

test('a running qube is pending (named), the others and dom0 proceed; exit 3', () => {
  const zfs = zfsOf();
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf({ work: 'Running' }), state: emptyState() });
  assert.equal(plan.pending.length, 4);
  assert.ok(plan.pending.every((p) => p.qube === 'work' && p.reason === 'qube-running'));
  assert.match(plan.pending[0]!.message, /qvm-shutdown --wait work/);
  assert.deepEqual(plan.create.map((b) => b.qube), ['vault', null, null]);
  assert.equal(snapshotExitCode(plan.errors.length, plan.pending.length), 3);
});

test('halted but org.qubes:dirty=on is still in use', () => {
  const zfs = zfsOf([ds('tank/qubes/vault/private', 'volume', { dirty: 'on' })]);
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf(), state: emptyState() });
  assert.deepEqual(plan.pending.map((p) => [p.snapshot, p.reason]), [['tank/qubes/vault@l', 'volume-dirty'], ['tank/qubes/vault/private@l', 'volume-dirty']]);
  assert.match(plan.pending[0]!.message, /tank\/qubes\/vault\/private/);
});

test('existing snapshots are verified (also of a running qube); recorded GUID matches', () => {
  const zfs = zfsOf([ds('tank/qubes/work/private', 'volume', { snapshots: [['l', 42n]], dirty: 'on' })]);
  const state = emptyState();
  state.targets['tank/qubes/work/private@l'] = { snapshot: 'tank/qubes/work/private@l', status: 'snapshotted', guid: '42' };
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf({ work: 'Running' }), state });
  assert.deepEqual(plan.verified.map((v) => [v.snapshot, v.guid, v.newlyRecorded]), [['tank/qubes/work/private@l', 42n, false]]);
  assert.equal(plan.errors.length, 0);
});

test('a GUID that changed since it was recorded is an error and blocks that qube', () => {
  const zfs = zfsOf([ds('tank/qubes/work/private', 'volume', { snapshots: [['l', 43n]] })]);
  const state = emptyState();
  state.targets['tank/qubes/work/private@l'] = { snapshot: 'tank/qubes/work/private@l', status: 'snapshotted', guid: '42' };
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf(), state });
  assert.deepEqual(plan.errors.map((e) => [e.code, e.subject]), [['SNAPSHOT_GUID_CHANGED', 'tank/qubes/work/private@l']]);
  assert.ok(plan.pending.every((p) => p.qube === 'work' && p.reason === 'blocked-by-error'));
  assert.ok(!plan.create.some((b) => b.qube === 'work'));
});

test('a recorded snapshot that disappeared (dataset replaced) is an error, never re-created', () => {
  const zfs = zfsOf();
  const state = emptyState();
  state.targets['tank/dom0@l'] = { snapshot: 'tank/dom0@l', status: 'snapshotted', guid: '42' };
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: true, zfs, qubes: qubesOf(), state });
  assert.deepEqual(plan.errors.map((e) => e.code), ['SNAPSHOT_DISAPPEARED']);
  assert.ok(!plan.create.some((b) => b.snapshots.includes('tank/dom0@l')));
});

test('snapshot-creation: no → one SNAPSHOT_CREATION_DISABLED error per missing snapshot', () => {
  const zfs = zfsOf([ds('tank/dom0', 'filesystem', { snapshots: [['l', 5n]] })]);
  const plan = planSnapshots({ targets: targetsOf(zfs), snapshotCreation: false, zfs, qubes: qubesOf(), state: emptyState() });
  assert.equal(plan.errors.length, 7);
  assert.ok(plan.errors.every((e) => e.code === 'SNAPSHOT_CREATION_DISABLED' && e.severity === 'error'));
  assert.equal(plan.create.length, 0);
  assert.deepEqual(plan.verified.map((v) => v.snapshot), ['tank/dom0@l']);
});

test('intermediate/origin snapshots are never created; missing ones are errors', () => {
  const zfs = zfsOf();
  const plan = planSnapshots({
    targets: [{ dataset: 'tank/dom0', snapshot: 'tank/dom0@old', kind: 'intermediate', send: { type: 'full' }, exists: false }],
    snapshotCreation: true, zfs, qubes: qubesOf(), state: emptyState(),
  });
  assert.deepEqual(plan.errors.map((e) => e.code), ['REQUIRED_SNAPSHOT_MISSING']);
  assert.equal(plan.create.length, 0);
});

test('existing intermediate/origin snapshots are verified and recorded like targets', () => {
  const zfs = zfsOf([ds('tank/dom0', 'filesystem', { snapshots: [['old', 77n]] })]);
  const plan = planSnapshots({
    targets: [{ dataset: 'tank/dom0', snapshot: 'tank/dom0@old', kind: 'intermediate', send: { type: 'full' }, exists: true, guid: 77n }],
    snapshotCreation: true, zfs, qubes: qubesOf(), state: emptyState(),
  });
  assert.deepEqual(plan.verified.map((v) => [v.snapshot, v.guid]), [['tank/dom0@old', 77n]]);
});
