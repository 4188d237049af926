// The qrexec call's stdin as a pipe: the child reads a FIFO (not Node's socket pair), gets EOF when
// dom0 ends its side, a writer descriptor from openWriter() writes into the same stream, and
// nothing is left in the file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, readlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { makeStdinFifo, openPipe } from '../../../dom0/receiver-link/stdin-fifo.ts';

test('the child reads a pipe: dom0 frames, then a writer descriptor, then EOF', async () => {
  const fifo = makeStdinFifo();
  assert.ok(fifo, 'mkfifo is missing');
  const child = spawn('sh', ['-c', '[ -p /dev/stdin ] && echo fifo >&2; cat'], { stdio: [fifo.childFd, 'pipe', 'pipe'] });
  fifo.childStarted();
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  fifo.output.write('frames;');
  await new Promise((r) => setTimeout(r, 100));
  const fd = fifo.openWriter();
  writeSync(fd, 'direct;');
  closeSync(fd);
  fifo.output.end('more');
  const code = await new Promise((r) => child.on('close', r));
  assert.equal(code, 0);
  assert.equal(out, 'frames;direct;more');
  assert.equal(err, 'fifo\n');
});

test('the FIFO is gone from the file system as soon as it is open', () => {
  const fifo = makeStdinFifo()!;
  const writer = fifo.openWriter();
  const where = readlinkSync(`/proc/self/fd/${writer}`);
  closeSync(writer);
  fifo.childStarted();
  assert.match(where, /qzb-link-.*\/stdin \(deleted\)$/);
  assert.equal(existsSync(path.dirname(where)), false);
  fifo.output.destroy();
});

test('openPipe: `a | b` as a shell joins them (a pipe at both ends), EOF when the writer has gone', async () => {
  const { readFd, writeFd } = openPipe();
  const a = spawn('sh', ['-c', '[ -p /dev/stdout ] && echo out-fifo >&2; echo data'], { stdio: ['ignore', writeFd, 'pipe'] });
  const b = spawn('sh', ['-c', '[ -p /dev/stdin ] && echo in-fifo >&2; cat'], { stdio: [readFd, 'pipe', 'pipe'] });
  closeSync(readFd);
  closeSync(writeFd);
  let out = '';
  let err = '';
  b.stdout!.on('data', (d) => (out += String(d)));
  for (const c of [a, b]) c.stderr!.on('data', (d) => (err += String(d)));
  const codes = await Promise.all([a, b].map((c) => new Promise((r) => c.on('close', r))));
  assert.deepEqual(codes, [0, 0]);
  assert.equal(out, 'data\n');
  assert.deepEqual(err.split('\n').filter(Boolean).sort(), ['in-fifo', 'out-fifo']);
});
