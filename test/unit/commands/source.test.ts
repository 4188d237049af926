// Reading a job file (issue 9 item 8): only regular files, never more than the size limit + 1
// bytes, and a clear message for a directory, a device or a FIFO, none of which may hang or grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../../dom0/commands/check.ts';
import { readJobFile, resolveJobSource } from '../../../dom0/commands/source.ts';
import { MAX_FILE_BYTES } from '../../../dom0/job/yaml-source.ts';
import { QzbError } from '../../../shared/errors.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';
import { fakeContext } from './helpers.ts';

const ctx = fakeContext({ zfs: zfsOf(), qubes: qubesOf(), created: [] });
const notReadable = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof QzbError, String(e));
  assert.equal(e.code, 'FILE_NOT_READABLE');
  assert.match(e.message, pattern);
  return true;
};

test('a file larger than the limit is read only up to the limit + 1 byte', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'qzb-src-')), 'huge.yaml');
  const fd = openSync(file, 'w');
  ftruncateSync(fd, 64 * MAX_FILE_BYTES); // sparse: 64 MiB of NULs, no disk use
  closeSync(fd);
  const source = await readJobFile(file, ctx);
  assert.ok(source.bytes.length <= MAX_FILE_BYTES + 1, `read ${source.bytes.length} bytes`);
  assert.ok(source.bytes.length > MAX_FILE_BYTES);
  // And the loader still says it is too large (not that it is binary).
  const { loadJob } = await import('../../../dom0/job/load.ts');
  assert.deepEqual(loadJob(source.text).findings.map((f) => f.code), ['FILE_TOO_LARGE']);
  // A file of exactly the limit is read whole.
  writeFileSync(file, 'a'.repeat(MAX_FILE_BYTES));
  assert.equal((await readJobFile(file, ctx)).bytes.length, MAX_FILE_BYTES);
});

test('check /dev/zero fails at once: it is a device, not a job file', async () => {
  const started = Date.now();
  await assert.rejects(check({ job: '/dev/zero' }, ctx), notReadable(/the job file \/dev\/zero: it is a character device, not a regular file/));
  await assert.rejects(readJobFile('/dev/null', ctx), notReadable(/character device/));
  assert.ok(Date.now() - started < 2000);
});

test('a FIFO, a directory, a symlink to a device and a missing file each get a clear message', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qzb-src-'));
  const fifo = path.join(dir, 'job.yaml');
  execFileSync('mkfifo', [fifo]);
  // No writer ever opens the FIFO: a read would block forever.
  await assert.rejects(readJobFile(fifo, ctx), notReadable(/is a FIFO \(named pipe\), not a regular file/));
  await assert.rejects(resolveJobSource(fifo, ctx), notReadable(/FIFO/));
  mkdirSync(path.join(dir, 'sub.yaml'));
  await assert.rejects(readJobFile(path.join(dir, 'sub.yaml'), ctx), notReadable(/is a directory, not a regular file/));
  symlinkSync('/dev/zero', path.join(dir, 'link.yaml'));
  await assert.rejects(readJobFile(path.join(dir, 'link.yaml'), ctx), notReadable(/character device/));
  await assert.rejects(readJobFile(path.join(dir, 'absent.yaml'), ctx), notReadable(/no such file/));
  // A symlink to a regular file is fine.
  writeFileSync(path.join(dir, 'real.yaml'), 'name: j1\n');
  symlinkSync(path.join(dir, 'real.yaml'), path.join(dir, 'alias.yaml'));
  assert.equal((await readJobFile(path.join(dir, 'alias.yaml'), ctx)).text, 'name: j1\n');
});
