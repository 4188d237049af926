// Metadata store: directory resolution, atomic writes, the per-job lock, import/replace rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { defaultMetadataDir, requireMetadataDir, resolveMetadataDir } from '../../../dom0/metadata/dir.ts';
import { writeFileAtomic } from '../../../dom0/metadata/atomic.ts';
import { acquireLock, ownerAlive } from '../../../dom0/metadata/lock.ts';
import { MetadataStore, progressOf, sha256Hex } from '../../../dom0/metadata/store.ts';
import { jobNameProblem } from '../../../dom0/job/values.ts';
import { loadJob } from '../../../dom0/job/load.ts';
import { renameSync, mkdirSync } from 'node:fs';
import { QzbError } from '../../../shared/errors.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'qzb-meta-'));

test('metadata dir: flag wins over env, env over the default beside the program', () => {
  const programUrl = 'file:///opt/qzb/dist/qubes-zfs-backup.mjs';
  assert.equal(defaultMetadataDir(programUrl), '/opt/qzb/dist/metadata');
  assert.equal(defaultMetadataDir('file:///src/dom0/cli.ts'), '/src/metadata');
  assert.deepEqual(resolveMetadataDir({ programUrl, env: {} }), { dir: '/opt/qzb/dist/metadata', from: 'default' });
  assert.deepEqual(resolveMetadataDir({ programUrl, env: { QUBES_ZFS_BACKUP_METADATA_DIR: '/e' } }), { dir: '/e', from: 'env' });
  assert.deepEqual(resolveMetadataDir({ programUrl, flag: '/f', env: { QUBES_ZFS_BACKUP_METADATA_DIR: '/e' } }), { dir: '/f', from: 'flag' });
});

test('a missing metadata dir is an error that says how to create it', async () => {
  const dir = path.join(tmp(), 'metadata');
  await assert.rejects(requireMetadataDir(dir), (e: unknown) => e instanceof QzbError && e.code === 'METADATA_DIR_MISSING' && (e.hint ?? '').includes(`mkdir -m 700 ${dir}`));
});

test('atomic write replaces content and leaves no temp files', async () => {
  const dir = tmp();
  const f = path.join(dir, 'state.json');
  await writeFileAtomic(f, 'one');
  await writeFileAtomic(f, 'two');
  assert.equal(readFileSync(f, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('lock: a live holder is named; a dead holder is stale and taken over', async () => {
  const dir = tmp();
  const file = path.join(dir, '.job.lock');
  const lock = await acquireLock(file, 'snapshot');
  await assert.rejects(acquireLock(file, 'snapshot'), (e: unknown) => e instanceof QzbError && e.code === 'JOB_LOCKED' && e.message.includes(`pid ${process.pid}`) && e.message.includes('(snapshot)'));
  await lock.release();
  assert.equal(existsSync(file), false);
  // A finished process's pid: stale.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(file, JSON.stringify({ pid: Number(dead), startTime: '1', command: 'send', since: 'x' }));
  const taken = await acquireLock(file, 'import');
  assert.equal(taken.tookOverFrom?.pid, Number(dead));
  await taken.release();
  // Same pid but another start time (pid reused): stale.
  assert.equal(ownerAlive({ pid: process.pid, startTime: 'other', command: '', since: '' }), false);
  // Unreadable lock content is not silently removed.
  writeFileSync(file, 'garbage');
  await assert.rejects(acquireLock(file, 'x'), /cannot be read as a lock/);
});

test('store: write, read back byte for byte, detect inconsistency', async () => {
  const store = new MetadataStore(tmp());
  const bytes = Buffer.from('name: j1\n# ünïcode\n');
  const state = await store.write('j1', bytes, new Date('2026-01-01T00:00:00Z'));
  assert.equal(state.configSha256, sha256Hex(bytes));
  const back = await store.read('j1');
  assert.deepEqual(readFileSync(path.join(back.dir, 'job.yaml')), bytes);
  assert.deepEqual(back.state.targets, {});
  assert.deepEqual(await store.list(), ['j1']);
  back.state.targets['p/a@l'] = { snapshot: 'p/a@l', status: 'sent', guid: '18446744073709551615' };
  await store.saveState(back.state);
  assert.deepEqual(progressOf((await store.read('j1')).state), { pending: 0, snapshotted: 0, sent: 1, verified: 0 });
  await store.log('j1', 'snapshot: 1 created');
  assert.match(readFileSync(path.join(back.dir, 'log', 'runs.log'), 'utf8'), /snapshot: 1 created/);
  writeFileSync(path.join(back.dir, 'job.yaml'), 'name: j1\nedited\n');
  await assert.rejects(store.read('j1'), (e: unknown) => e instanceof QzbError && e.code === 'METADATA_CORRUPT');
  await assert.rejects(store.read('nope'), (e: unknown) => e instanceof QzbError && e.code === 'JOB_NOT_FOUND');
});

test('store: replace swaps the directory and keeps the run log', async () => {
  const store = new MetadataStore(tmp());
  await store.write('j', Buffer.from('a'));
  await store.log('j', 'first run');
  await store.write('j', Buffer.from('b'));
  const back = await store.read('j');
  assert.equal(back.text, 'b');
  assert.match(readFileSync(path.join(back.dir, 'log', 'runs.log'), 'utf8'), /first run/);
  assert.deepEqual(readdirSync(store.dir).sort(), ['j']);
});

// Issue 9 item 9: one job-name rule for the job file (INVALID_NAME finding) and the store.
test('job names: the store and the job file apply the same rule', () => {
  assert.equal(jobNameProblem('mybackup1'), null);
  for (const bad of ['my backup', '../x', '.hidden', '-x', 'a/b', '', 'x'.repeat(65), 'tab\there', 'ünï']) {
    assert.notEqual(jobNameProblem(bad), null, bad);
    assert.throws(() => new MetadataStore('/m').jobDir(bad), (e: unknown) => e instanceof QzbError && e.code === 'INVALID_NAME' && e.message.startsWith('The job name'), bad);
  }
  // Every name the loader accepts is a name the store accepts, and the other way round.
  for (const name of ['mybackup1', 'my backup', 'a.b_c-d', '9lives', '.x', 'x'.repeat(64), 'x'.repeat(65), 'a\u202eb']) {
    const job = `name: ${JSON.stringify(name)}\n`;
    const fileOk = !loadJob(job).findings.some((f) => f.code === 'INVALID_NAME');
    let storeOk = true;
    try {
      new MetadataStore('/m').jobDir(name);
    } catch {
      storeOk = false;
    }
    assert.equal(storeOk, fileOk, name);
  }
});

// Issue 9 item 9: `import --replace` renames the old directory aside, then the new one in; a crash
// between the two must not leave the job without a directory.
test('store: a replace interrupted between its two renames keeps the old job, and the next locked run restores it', async () => {
  const store = new MetadataStore(tmp());
  await store.write('j', Buffer.from('old'));
  await store.log('j', 'first run');
  // The state a crash after the first rename leaves: the old job aside, a half-built new one.
  renameSync(store.jobDir('j'), path.join(store.dir, '.j.replaced'));
  mkdirSync(path.join(store.dir, '.j.importing-99999'));
  writeFileSync(path.join(store.dir, '.j.importing-99999', 'job.yaml'), 'new');
  // Readers still see the old job.
  assert.equal(await store.has('j'), true);
  assert.deepEqual(await store.list(), ['j']);
  assert.equal((await store.read('j')).text, 'old');
  // The next run that takes the job's lock puts it back and cleans up.
  const lock = await store.lock('j', 'snapshot');
  await lock.release();
  assert.deepEqual(readdirSync(store.dir).sort(), ['j']);
  assert.equal((await store.read('j')).text, 'old');
  assert.match(readFileSync(path.join(store.jobDir('j'), 'log', 'runs.log'), 'utf8'), /first run/);
});

test('store: a replace interrupted after its commit rename keeps the new job and the run log', async () => {
  const store = new MetadataStore(tmp());
  await store.write('j', Buffer.from('old'));
  await store.log('j', 'first run');
  // The state a crash after the second rename leaves: the new job in place without a log, the old aside.
  renameSync(store.jobDir('j'), path.join(store.dir, '.j.replaced'));
  const fresh = new MetadataStore(tmp());
  await fresh.write('j', Buffer.from('new'));
  renameSync(fresh.jobDir('j'), store.jobDir('j'));
  rmSync(path.join(store.jobDir('j'), 'log'), { recursive: true });
  assert.equal((await store.read('j')).text, 'new');
  const lock = await store.lock('j', 'snapshot');
  await lock.release();
  assert.deepEqual(readdirSync(store.dir).sort(), ['j']);
  assert.equal((await store.read('j')).text, 'new');
  assert.match(readFileSync(path.join(store.jobDir('j'), 'log', 'runs.log'), 'utf8'), /first run/);
  // And a replace after that works as usual.
  await store.write('j', Buffer.from('newer'));
  assert.equal((await store.read('j')).text, 'newer');
  assert.deepEqual(readdirSync(store.dir).sort(), ['j']);
});

// Issue 9 item 9: a stale lock is taken over by exactly one of the runs that find it stale, and
// release() removes only a lock its caller still owns.
test('lock: concurrent takeovers of a stale lock leave exactly one holder', async () => {
  const dir = tmp();
  const file = path.join(dir, '.job.lock');
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  for (let trial = 0; trial < 40; trial++) {
    writeFileSync(file, JSON.stringify({ pid: dead, startTime: '1', command: 'send', since: 'x' }));
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireLock(file, `run${i}`)));
    const held = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>> => r.status === 'fulfilled');
    assert.equal(held.length, 1, `trial ${trial}: ${held.length} holders; ${results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'held')).join(' | ')}`);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof QzbError && r.reason.code === 'JOB_LOCKED', String(r.reason));
    assert.equal(held[0]!.value.tookOverFrom?.pid, dead);
    await held[0]!.value.release();
    assert.equal(existsSync(file), false);
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('lock: release() leaves alone a lock that is no longer its own', async () => {
  const dir = tmp();
  const file = path.join(dir, '.job.lock');
  const lock = await acquireLock(file, 'snapshot');
  // Someone else holds it now (e.g. took it over): its file must survive our release.
  const other = JSON.stringify({ pid: process.pid, startTime: '', command: 'import', since: 'y', token: 'someone-else' });
  writeFileSync(file, other);
  await lock.release();
  assert.equal(readFileSync(file, 'utf8'), other);
});

test('lock: a takeover interrupted by a crash is reported, never guessed at', async () => {
  const dir = tmp();
  const file = path.join(dir, '.job.lock');
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  writeFileSync(file, JSON.stringify({ pid: dead, startTime: '1', command: 'send', since: 'x' }));
  writeFileSync(`${file}.takeover`, JSON.stringify({ pid: dead, startTime: '1', command: 'import', since: 'x' }));
  await assert.rejects(acquireLock(file, 'snapshot'), (e: unknown) => e instanceof QzbError && e.code === 'JOB_LOCKED' && e.message.includes('takeover') && (e.hint ?? '').includes(`${file}.takeover`));
});
