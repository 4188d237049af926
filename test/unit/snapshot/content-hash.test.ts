// snapshot --content-hash: which snapshots are read (pure), the clone's argv and the leftover filter
// (dom0/zfs/content-hash.ts), and the command recording the hash in the state over a fake reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importJob } from '../../../dom0/commands/import.ts';
import { snapshot } from '../../../dom0/commands/snapshot.ts';
import { status } from '../../../dom0/commands/status.ts';
import { snapshotJson } from '../../../dom0/output/snapshot.ts';
import { snapshotsToHash } from '../../../dom0/snapshot/content-hash.ts';
import { HASH_CLONE_PREFIX, HASH_CLONE_PROPERTY, hashCloneArgs, hashCloneName, parseLeftovers } from '../../../dom0/zfs/content-hash.ts';
import { QzbError } from '../../../shared/errors.ts';
import type { JobState } from '../../../dom0/metadata/types.ts';
import { qubesOf, zfsOf } from './fixtures.ts';
import { fakeContext, type FakeSystem } from '../commands/helpers.ts';

const H = (c: string): string => c.repeat(64);
/** The fake reader's hash of a snapshot. */
const fakeSha = (snapshot: string): string => H(snapshot.length % 2 === 0 ? 'b' : 'c');

test('the clone is read-only, a device, hidden from dom0 disk rules, marked, at the pool root', () => {
  const clone = hashCloneName('tank/qubes/work/private@l', 'abcd1234');
  assert.equal(clone, `tank/${HASH_CLONE_PREFIX}abcd1234`);
  assert.deepEqual(hashCloneArgs('tank/qubes/work/private@l', clone), [
    'clone', '-o', 'readonly=on', '-o', 'volmode=dev', '-o', 'org.qubes-os:part-of-qvm-pool=true', '-o', 'com.sun:auto-snapshot=false',
    '-o', `${HASH_CLONE_PROPERTY}=tank/qubes/work/private@l`, 'tank/qubes/work/private@l', clone,
  ]);
  assert.throws(() => hashCloneArgs('tank/qubes/work/private', clone), /not a snapshot/);
  assert.match(hashCloneName('tank/x@l'), new RegExp(`^tank/\\${HASH_CLONE_PREFIX}[0-9a-f]{8}$`));
});

test('leftovers: only our marked clones directly below a pool root, still clones of what the mark names', () => {
  const listing = [
    `tank\t-\t-`,
    `tank/${HASH_CLONE_PREFIX}aaaa\ttank/qubes/w/private@l\ttank/qubes/w/private@l`, // ours
    `tank/${HASH_CLONE_PREFIX}bbbb\ttank/qubes/w/private@l\t-`, // no mark: not ours
    `tank/${HASH_CLONE_PREFIX}cccc\t-\ttank/qubes/w/private@l`, // promoted: owns snapshots now
    `tank/${HASH_CLONE_PREFIX}dddd\ttank/qubes/w/private@x\ttank/qubes/w/private@l`, // another origin
    `tank/other\ttank/qubes/w/private@l\ttank/qubes/w/private@l`, // not our name
    `tank/qubes/${HASH_CLONE_PREFIX}eeee\ttank/a@l\ttank/a@l`, // not below the pool root
    '',
  ].join('\n');
  assert.deepEqual(parseLeftovers(listing), [{ clone: `tank/${HASH_CLONE_PREFIX}aaaa`, snapshot: 'tank/qubes/w/private@l' }]);
});

test('what is hashed: recorded volume snapshots without a hash, once, in order; filesystems never', () => {
  const zfs = zfsOf();
  const state: JobState = { version: 1, job: 'j', configSha256: H('0'), importedAt: 'x', targets: {
    'tank/qubes/work/private@l': { snapshot: 'tank/qubes/work/private@l', status: 'snapshotted', guid: '5' },
    'tank/qubes/vault/private@l': { snapshot: 'tank/qubes/vault/private@l', status: 'sent', guid: '6', contentHash: { sha256: H('a'), bytes: '1' } },
    'tank/dom0@l': { snapshot: 'tank/dom0@l', status: 'snapshotted', guid: '7' },
    'aux/qubes/work/root@l': { snapshot: 'aux/qubes/work/root@l', status: 'pending' },
  } };
  const recorded = ['tank/qubes/work/private@l', 'tank/qubes/vault/private@l', 'tank/dom0@l', 'aux/qubes/work/root@l', 'tank/qubes/work/private@l'].map((snapshot) => ({ snapshot, qube: 'work' }));
  assert.deepEqual(snapshotsToHash(recorded, zfs, state), [{ snapshot: 'tank/qubes/work/private@l', dataset: 'tank/qubes/work/private', guid: 5n, qube: 'work' }]);
});

function setup(): { sys: FakeSystem; ctx: ReturnType<typeof fakeContext>; reads: { snapshot: string; expectGuid: bigint }[]; fail: Set<string> } {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf({ work: 'Running' }), created: [] };
  const ctx = fakeContext(sys);
  const reads: { snapshot: string; expectGuid: bigint }[] = [];
  const fail = new Set<string>();
  ctx.system.contentHash = {
    hash: async (snapshot, o) => {
      reads.push({ snapshot, expectGuid: o.expectGuid });
      if (fail.has(snapshot)) throw new QzbError('CONTENT_HASH_FAILED', `the device for reading ${snapshot} did not appear`);
      o.onProgress?.({ snapshot, done: 1024n, total: 2048n });
      return { sha256: fakeSha(snapshot), bytes: 2048n };
    },
    cleanup: async () => [],
  };
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n');
  return { sys, ctx, reads, fail };
}

test('snapshot --content-hash: volume snapshots hashed and recorded in state.json; running qubes wait; a later run hashes the rest only', async () => {
  const { sys, ctx, reads } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const dry = await snapshot({ name: 'j1', dryRun: true, contentHash: true }, ctx);
  assert.deepEqual(dry.wouldHash, ['tank/qubes/vault/private@l']);
  assert.equal(reads.length, 0);
  const r1 = await snapshot({ name: 'j1', dryRun: false, contentHash: true }, ctx);
  assert.equal(r1.exitCode, 3);
  assert.deepEqual(r1.hashed.map((h) => [h.snapshot, h.bytes]), [['tank/qubes/vault/private@l', '2048']]);
  assert.equal(reads[0]!.expectGuid, BigInt(r1.created.find((c) => c.snapshot === 'tank/qubes/vault/private@l')!.guid));
  assert.deepEqual(r1.created.find((c) => c.snapshot === 'tank/qubes/vault/private@l')!.contentHash, { sha256: fakeSha('tank/qubes/vault/private@l'), bytes: '2048' });
  assert.equal(r1.created.find((c) => c.snapshot === 'tank/qubes/vault@l')!.contentHash, null);
  const state = JSON.parse(readFileSync(path.join(ctx.metadataDir, 'j1', 'state.json'), 'utf8')) as JobState;
  assert.deepEqual(state.targets['tank/qubes/vault/private@l']!.contentHash, { sha256: fakeSha('tank/qubes/vault/private@l'), bytes: '2048' });
  assert.ok(ctx.notices.some((n) => n.startsWith('hashing tank/qubes/vault/private@l')));
  assert.equal((snapshotJson(r1) as { summary: { hashed: number } }).summary.hashed, 1);
  // Without the flag nothing is read; with it, only what is not hashed yet.
  sys.qubes = qubesOf({ work: 'Halted' });
  await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(reads.length, 1);
  const r3 = await snapshot({ name: 'j1', dryRun: false, contentHash: true }, ctx);
  assert.deepEqual(r3.hashed.map((h) => h.snapshot).sort(), ['aux/qubes/work/root@l', 'tank/qubes/work/private@l']);
  assert.equal(reads.length, 3);
  assert.equal(r3.verified.find((v) => v.snapshot === 'tank/qubes/vault/private@l')!.contentHash?.sha256, fakeSha('tank/qubes/vault/private@l'));
  const st = (await status({ name: 'j1' }, ctx)).jobs[0]!;
  assert.equal(st.targets!.filter((t) => t.contentHash).length, 3);
});

test('snapshot --content-hash: a failed read is an error for that snapshot (recorded, unhashed); the others are hashed', async () => {
  const { sys, ctx, fail } = setup();
  sys.qubes = qubesOf({ work: 'Halted' });
  fail.add('tank/qubes/work/private@l');
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const r = await snapshot({ name: 'j1', dryRun: false, contentHash: true }, ctx);
  assert.equal(r.exitCode, 1);
  assert.deepEqual(r.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.subject]), [['CONTENT_HASH_FAILED', 'tank/qubes/work/private@l']]);
  assert.deepEqual(r.hashed.map((h) => h.snapshot).sort(), ['aux/qubes/work/root@l', 'tank/qubes/vault/private@l']);
  const state = JSON.parse(readFileSync(path.join(ctx.metadataDir, 'j1', 'state.json'), 'utf8')) as JobState;
  assert.equal(state.targets['tank/qubes/work/private@l']!.status, 'snapshotted');
  assert.equal(state.targets['tank/qubes/work/private@l']!.contentHash, undefined);
  fail.clear();
  const again = await snapshot({ name: 'j1', dryRun: false, contentHash: true }, ctx);
  assert.deepEqual([again.exitCode, again.hashed.map((h) => h.snapshot)], [0, ['tank/qubes/work/private@l']]);
});

test('every snapshot run removes leftover hashing clones and says so; a promoted one is an error, never destroyed', async () => {
  const { ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  ctx.system.contentHash!.cleanup = async () => [{ clone: `tank/${HASH_CLONE_PREFIX}aaaa`, snapshot: 'tank/qubes/vault/private@l' }];
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.deepEqual(r.findings.filter((f) => f.code === 'CONTENT_HASH_CLONE_REMOVED').map((f) => f.subject), [`tank/${HASH_CLONE_PREFIX}aaaa`]);
  ctx.system.contentHash!.cleanup = async () => {
    throw new QzbError('CONTENT_HASH_CLONE_KEPT', 'tank/.qubes-zfs-backup-hash-aaaa is no longer a plain clone');
  };
  const r2 = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.deepEqual(r2.findings.filter((f) => f.severity === 'error').map((f) => f.code), ['CONTENT_HASH_CLONE_KEPT']);
  // A dry run never touches the system.
  let called = false;
  ctx.system.contentHash!.cleanup = async () => {
    called = true;
    return [];
  };
  await snapshot({ name: 'j1', dryRun: true, contentHash: true }, ctx);
  assert.equal(called, false);
});

test('the state schema accepts exactly the contentHash shape', async () => {
  const { ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const file = path.join(ctx.metadataDir, 'j1', 'state.json');
  const s = JSON.parse(readFileSync(file, 'utf8')) as JobState;
  s.targets['tank/dom0@l'] = { snapshot: 'tank/dom0@l', status: 'snapshotted', guid: '1', contentHash: { sha256: 'XYZ', bytes: '1' } };
  writeFileSync(file, JSON.stringify(s));
  await assert.rejects(snapshot({ name: 'j1', dryRun: false }, ctx), /contentHash/);
});
