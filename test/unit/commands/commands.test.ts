// check, import, calc, snapshot and status over a fake system (no processes, temp metadata dirs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { check } from '../../../dom0/commands/check.ts';
import { importJob } from '../../../dom0/commands/import.ts';
import { calc } from '../../../dom0/commands/calc.ts';
import { snapshot } from '../../../dom0/commands/snapshot.ts';
import { status } from '../../../dom0/commands/status.ts';
import { QzbError } from '../../../shared/errors.ts';
import { renderCheck } from '../../../dom0/output/check.ts';
import { renderSnapshot } from '../../../dom0/output/snapshot.ts';
import { PLAIN } from '../../../dom0/output/style.ts';
import { ds, qubesOf, zfsOf } from '../snapshot/fixtures.ts';
import { fakeContext, type FakeSystem } from './helpers.ts';

function setup(states: { work?: string } = {}, extra = zfsOf()): { sys: FakeSystem; ctx: ReturnType<typeof fakeContext> } {
  const sys: FakeSystem = { zfs: extra, qubes: qubesOf(states), created: [] };
  const ctx = fakeContext(sys);
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n');
  return { sys, ctx };
}

test('check a file: designations, undesignated, targets; ok', async () => {
  const { ctx } = setup();
  const r = await check({ job: 'backup1.yaml' }, ctx);
  assert.equal(r.ok, true);
  assert.equal(r.job, 'j1');
  assert.equal(r.designations.length, 5);
  assert.deepEqual(r.targets, { datasets: 8, snapshots: 8, byKind: { target: 8, intermediate: 0, origin: 0 }, existing: 0, pending: 8 });
  assert.deepEqual(r.undesignated, { qubes: [], datasets: [] });
});

test('check: broken file → not ok with positioned finding; unreachable qubesd → error finding', async () => {
  const { sys, ctx } = setup();
  writeFileSync(path.join(ctx.cwd, 'bad.yaml'), 'BROKEN');
  const r = await check({ job: 'bad.yaml' }, ctx);
  assert.equal(r.ok, false);
  assert.deepEqual([r.findings[0]!.code, r.findings[0]!.line], ['YAML_SYNTAX', 3]);
  sys.qubesdDown = true;
  const r2 = await check({ job: 'backup1.yaml' }, ctx);
  assert.equal(r2.ok, false);
  assert.equal(r2.systemChecked, false);
  assert.equal(r2.findings[0]!.code, 'QUBESD_UNREACHABLE');
  assert.equal(r2.findings[0]!.details?.hint, 'start qubesd');
  assert.deepEqual(r2.systemFailures.map((f) => f.subject), ['qubesd']);
});

test('an unreadable system is not a broken job file: every failure, the file judged on its own; --file-only', async () => {
  const { sys, ctx } = setup();
  sys.qubesdDown = true;
  sys.zfsDown = true;
  const r = await check({ job: 'backup1.yaml' }, ctx);
  assert.equal(r.ok, false);
  assert.equal(r.systemChecked, false);
  assert.deepEqual(r.systemFailures.map((f) => [f.subject, f.code]), [['qubesd', 'QUBESD_UNREACHABLE'], ['zfs', 'ZFS_NOT_FOUND']]);
  const text = renderCheck(r, PLAIN);
  assert.match(text, /System: not checked \(2 failures reading it\)/);
  assert.match(text, /QUBESD_UNREACHABLE {2}Qubes Admin API \(qubesd\): cannot reach/);
  assert.match(text, /ZFS_NOT_FOUND {2}zfs: cannot run zfs/);
  assert.match(text, /^ +install ZFS$/m);
  assert.match(text, /Findings in the job file\n {2}\(none\)/);
  assert.match(text.replace(/\n/g, ' '), /The job file itself has no errors \(0 errors, 0 warnings, 0 info\)/);
  // The file's own problems are still listed, apart from the system's.
  writeFileSync(path.join(ctx.cwd, 'warn.yaml'), 'name: j2\nWARN\n');
  const w = renderCheck(await check({ job: 'warn.yaml' }, ctx), PLAIN);
  assert.match(w, /Findings in the job file\n {2}warning {2}warn\.yaml:9:1 {2}GROUP_UNUSED/);
  // --file-only: the system is never asked, and a sound file passes.
  const f = await check({ job: 'backup1.yaml', fileOnly: true }, ctx);
  assert.deepEqual([f.ok, f.systemChecked, f.fileOnly, f.systemFailures.length, f.targets], [true, false, true, 0, null]);
  assert.match(renderCheck(f, PLAIN), /OK: the job file is sound/);
  writeFileSync(path.join(ctx.cwd, 'bad.yaml'), 'BROKEN');
  assert.equal((await check({ job: 'bad.yaml', fileOnly: true }, ctx)).ok, false);
});

test('check by name reads the imported job; unknown names explain both readings', async () => {
  const { ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  assert.equal((await check({ job: 'j1' }, ctx)).source.kind, 'imported');
  await assert.rejects(check({ job: 'nope' }, ctx), (e: unknown) => e instanceof QzbError && e.code === 'JOB_NOT_FOUND' && /no such file.*not an imported job/.test(e.message));
});

test('typos lead to the right advice: the job file meant, "no such file" before metadata-directory advice', async () => {
  const { ctx } = setup();
  const isNotFound = (hint: RegExp, message: RegExp) => (e: unknown): boolean => {
    assert.ok(e instanceof QzbError);
    assert.match(e.message, message);
    assert.match(e.hint ?? '', hint);
    return true;
  };
  // `check backup1` while backup1.yaml is here (the metadata directory exists, no such job).
  await assert.rejects(check({ job: 'backup1' }, ctx), isNotFound(/Did you mean the file backup1\.yaml\? Run: qubes-zfs-backup check backup1\.yaml/, /no such file.*not an imported job/));
  // No metadata directory at all: still "no such file" first, then why no imported job was found.
  const bare = fakeContext({ zfs: zfsOf(), qubes: qubesOf(), created: [] }, path.join(ctx.cwd, 'absent'));
  bare.cwd = ctx.cwd;
  await assert.rejects(check({ job: 'backup1' }, bare), isNotFound(/backup1\.yaml/, /^"backup1" is not a file .*\(no such file\), and no job is imported under that name \(the metadata directory .*absent does not exist yet\)/));
  await assert.rejects(check({ job: 'nothing' }, bare), isNotFound(/mkdir -m 700 .*absent/, /no such file/));
  // A path that is not there: a file error, with the .yml/.yaml twin when there is one.
  await assert.rejects(check({ job: 'backup1.yml' }, ctx), isNotFound(/Did you mean the file backup1\.yaml/, /cannot read the job file backup1\.yml: no such file/));
  await assert.rejects(importJob({ file: 'backup1', replace: false }, ctx), isNotFound(/qubes-zfs-backup import backup1\.yaml/, /no such file/));
});

test('import: stores byte for byte; unchanged; refuses a different file without --replace and says what would be lost', async () => {
  const { ctx } = setup();
  const r = await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  assert.equal(r.action, 'imported');
  assert.equal(readFileSync(path.join(ctx.metadataDir, 'j1', 'job.yaml'), 'utf8'), 'name: j1\n');
  assert.equal((await importJob({ file: 'backup1.yaml', replace: false }, ctx)).action, 'unchanged');
  await snapshot({ name: 'j1', dryRun: false }, ctx);
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n# changed\n');
  await assert.rejects(importJob({ file: 'backup1.yaml', replace: false }, ctx), (e: unknown) => e instanceof QzbError && e.code === 'JOB_EXISTS' && /8 snapshotted targets/.test(e.message) && /--replace/.test(e.hint ?? ''));
  const rep = await importJob({ file: 'backup1.yaml', replace: true }, ctx);
  assert.equal(rep.action, 'replaced');
  assert.equal(rep.discarded?.snapshotted, 8);
  assert.deepEqual((await status({ name: 'j1' }, ctx)).jobs[0]!.targets, []);
  // --replace with identical content starts the job over too.
  await snapshot({ name: 'j1', dryRun: false }, ctx);
  const again = await importJob({ file: 'backup1.yaml', replace: true }, ctx);
  assert.deepEqual([again.action, again.discarded?.snapshotted], ['replaced', 8]);
});

test('import refuses a file with errors and writes nothing', async () => {
  const { ctx } = setup();
  writeFileSync(path.join(ctx.cwd, 'bad.yaml'), 'BROKEN');
  const r = await importJob({ file: 'bad.yaml', replace: false }, ctx);
  assert.equal(r.action, 'refused');
  assert.deepEqual((await status({}, ctx)).jobs, []);
});

test('snapshot: running qube pending (exit 3), stop it, re-run does the rest (exit 0), then all verified', async () => {
  const { sys, ctx } = setup({ work: 'Running' });
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const dry = await snapshot({ name: 'j1', dryRun: true }, ctx);
  assert.deepEqual(dry.commands, ['zfs snapshot tank/qubes/vault@l tank/qubes/vault/private@l', 'zfs snapshot tank/dom0@l', 'zfs snapshot aux/dom0@l']);
  assert.equal(sys.created.length, 0);
  const r1 = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r1.exitCode, 3);
  assert.equal(r1.created.length, 4);
  assert.equal(r1.pending.length, 4);
  sys.qubes = qubesOf({ work: 'Halted' });
  const r2 = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r2.exitCode, 0);
  assert.deepEqual(sys.created.slice(3), [['tank/qubes/work@l', 'tank/qubes/work/private@l'], ['aux/qubes/work@l', 'aux/qubes/work/root@l']]);
  assert.equal(r2.verified.length, 4);
  const r3 = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.deepEqual([r3.exitCode, r3.created.length, r3.verified.length], [0, 0, 8]);
  const st = (await status({ name: 'j1' }, ctx)).jobs[0]!;
  assert.equal(st.counts.snapshotted, 8);
  const c = await calc({ name: 'j1' }, ctx);
  assert.ok(c.targets.every((t) => t.exists && t.state === 'snapshotted'));
});

test('snapshot: dataset replaced between runs → error, exit 1, nothing re-baselined', async () => {
  const { sys, ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  assert.equal((await snapshot({ name: 'j1', dryRun: false }, ctx)).exitCode, 0);
  // qvm-volume import: destroy -r and re-create → snapshots gone, then someone makes a new @l.
  const i = sys.zfs.datasets.findIndex((d) => d.name === 'tank/qubes/vault/private');
  sys.zfs.datasets[i] = ds('tank/qubes/vault/private', 'volume', { snapshots: [['l', 1n]] });
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  assert.deepEqual(r.findings.map((f) => f.code), ['SNAPSHOT_GUID_CHANGED']);
});

test('snapshot: creation disabled → errors per missing snapshot, exit 1', async () => {
  const { ctx } = setup();
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\ncreation: no\n');
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  assert.equal(r.findings.filter((f) => f.code === 'SNAPSHOT_CREATION_DISABLED').length, 8);
  assert.equal(r.created.length, 0);
  // The text says it once, with the other snapshots and the qubes they belong to.
  const text = renderSnapshot(r, PLAIN);
  assert.equal(text.match(/SNAPSHOT_CREATION_DISABLED/g)?.length, 1, text);
  assert.match(text, /the same for 7 more \(qubes work, vault\):\n( {13}\S+@l\n){7}/);
});

test('snapshot: a failing zfs snapshot is reported per snapshot and the rest continues', async () => {
  const { sys, ctx } = setup();
  sys.failCreate = 'tank/dom0@l';
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  // Once per failed zfs command (dom0's datasets in pool tank), listing what it would have created.
  assert.deepEqual(r.findings.map((f) => [f.code, f.subject, f.details?.snapshots]), [['SNAPSHOT_FAILED', 'tank', ['tank/dom0@l']]]);
  assert.equal(r.created.length, 7);
});

test('snapshot holds the job lock: a second run is refused naming the holder', async () => {
  const { ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  const { MetadataStore } = await import('../../../dom0/metadata/store.ts');
  const lock = await new MetadataStore(ctx.metadataDir).lock('j1', 'send');
  try {
    await assert.rejects(snapshot({ name: 'j1', dryRun: false }, ctx), (e: unknown) => e instanceof QzbError && e.code === 'JOB_LOCKED' && /\(send\)/.test(e.message));
  } finally {
    await lock.release();
  }
});

test('snapshot: GUIDs that cannot be read back after creation are an error, not a crash', async () => {
  const { ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  ctx.system.listSnapshots = async () => { throw new QzbError('ZFS_COMMAND_FAILED', 'zfs list failed'); };
  const r = await snapshot({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  assert.deepEqual(r.findings.map((f) => f.code), ['SNAPSHOT_GUID_UNREAD']);
  ctx.system.listSnapshots = async () => [];
});

test('check warns when a target dataset kept none of the snapshots this dom0 sent of it (SENT_HISTORY_GONE)', async () => {
  const { sys, ctx } = setup();
  await importJob({ file: 'backup1.yaml', replace: false }, ctx);
  assert.equal((await snapshot({ name: 'j1', dryRun: false }, ctx)).exitCode, 0);
  const file = path.join(ctx.metadataDir, 'j1', 'state.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as { targets: Record<string, { status: string; receivedGuid?: string; guid?: string }> };
  for (const t of Object.values(state.targets)) {
    t.status = 'sent';
    t.receivedGuid = t.guid!;
  }
  writeFileSync(file, JSON.stringify(state));
  assert.deepEqual((await check({ job: 'j1' }, ctx)).findings.filter((f) => f.code === 'SENT_HISTORY_GONE'), []);
  // qvm-volume import of vault's private volume: a fresh dataset without the sent @l.
  const i = sys.zfs.datasets.findIndex((d) => d.name === 'tank/qubes/vault/private');
  sys.zfs.datasets[i] = ds('tank/qubes/vault/private', 'volume', { dirty: 'off' });
  const r = await check({ job: 'j1' }, ctx);
  assert.equal(r.ok, true);
  assert.deepEqual(r.findings.filter((f) => f.code === 'SENT_HISTORY_GONE').map((f) => [f.severity, f.subject]), [['warning', 'tank/qubes/vault/private']]);
});
