// The qrexec call's stdin as a pipe: the child reads a FIFO (not Node's socket pair), gets EOF when
// dom0 ends its side, a writer descriptor from openWriter() writes into the same stream, and
// nothing is left in the file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeStdinFifo, openPipe, openPipeAsync, PreparedPipe } from '../../../dom0/receiver-link/stdin-fifo.ts';

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

// Descriptors of this process that are ends of a pipe (a FIFO shows as its deleted path, a pipe(2) as pipe:[…]).
const fifoFds = (): string[] =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const to = readlinkSync(`/proc/self/fd/${fd}`);
      return /qzb-link-.*\/stdin \(deleted\)$/.test(to) ? [fd] : [];
    } catch {
      return [];
    }
  });
test('openPipeAsync: the same pipe as openPipe, made without blocking', async () => {
  const { readFd, writeFd } = await openPipeAsync();
  writeSync(writeFd, 'x');
  closeSync(writeFd);
  const child = spawn('sh', ['-c', '[ -p /dev/stdin ] && echo fifo; cat'], { stdio: [readFd, 'pipe', 'inherit'] });
  closeSync(readFd);
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  assert.equal(await new Promise((r) => child.on('close', r)), 0);
  assert.equal(out, 'fifo\nx');
});

test('PreparedPipe: taken once when ready; a later take() is null; release() of a taken pipe leaves it alone', async () => {
  const before = fifoFds().length;
  const prepared = new PreparedPipe();
  await prepared.settled;
  assert.equal(fifoFds().length, before + 2, 'both ends open, waiting');
  const ends = prepared.take();
  assert.ok(ends, 'ready after mkfifo ran');
  assert.equal(prepared.take(), null);
  prepared.release();
  const fifo = makeStdinFifo(process.env, ends);
  assert.ok(fifo);
  const child = spawn('sh', ['-c', '[ -p /dev/stdin ] && echo fifo; cat'], { stdio: [fifo.childFd, 'pipe', 'inherit'] });
  fifo.childStarted();
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  fifo.output.end('frames');
  assert.equal(await new Promise((r) => child.on('close', r)), 0);
  assert.equal(out, 'fifo\nframes');
  assert.equal(fifoFds().length, before, 'nothing left open');
});

test('PreparedPipe: one released (or taken) before it is ready is closed when it arrives; no mkfifo is no pipe, no error', async () => {
  const before = fifoFds().length;
  const early = new PreparedPipe();
  assert.equal(early.take(), null, 'not ready at once (mkfifo is a process)');
  const released = new PreparedPipe();
  released.release();
  await Promise.all([early.settled, released.settled]);
  assert.equal(fifoFds().length, before, 'both closed on arrival');
  const none = new PreparedPipe({ PATH: '/nonexistent' });
  await none.settled;
  assert.equal(none.take(), null);
  assert.equal(fifoFds().length, before);
});

test('a process that exits while the pipe is being made leaves no directory behind', () => {
  // (no await between the start and the exit: mkfifo cannot finish first)
  const code = `import { PreparedPipe } from ${JSON.stringify(new URL('../../../dom0/receiver-link/stdin-fifo.ts', import.meta.url).href)};
    import { readdirSync } from 'node:fs';
    new PreparedPipe();
    process.stdout.write(readdirSync(process.env.TMPDIR).join(','));
    process.exit(0);`;
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-fifo-exit-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, TMPDIR: dir }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // (tsx keeps its cache in TMPDIR too)
    assert.match(r.stdout, /(^|,)qzb-link-/, 'the directory existed while mkfifo ran');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('qzb-link-')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
