// forwardStream's stall timer: armed while a frame waits for the link, never left behind. A leaked
// 10-minute timer once kept the CLI alive after an interrupted send (the fault suite's SIGTERM cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectReceiver } from '../../../dom0/receiver-link/spawn.ts';
import { PassThrough, Readable } from 'node:stream';
import { forwardStream, watchDirect } from '../../../dom0/receiver-link/forward.ts';
import { FrameWriter } from '../../../shared/protocol/stream-io.ts';
import { startZfsSend } from '../../../dom0/zfs/send-process.ts';

// process.getActiveResourcesInfo exists since Node 17.3; @types/node 18.19 does not declare it.
const timeouts = (): number => (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('a cancel while the link is full resolves at once and leaves no stall timer', async () => {
  const before = timeouts();
  // A slow reader behind a pipe, as the agent is: backpressure starts and ends many times.
  const sink = spawn('sh', ['-c', 'while [ "$(head -c 65536 | wc -c)" -gt 0 ]; do sleep 0.01; done'], { stdio: ['pipe', 'ignore', 'ignore'] });
  sink.stdin.on('error', () => {});
  const out = sink.stdin;
  // A pipe from a child, as `zfs send` is (a Readable of the stream module alone never showed it).
  const child = startZfsSend(['-c', '100000000', '/dev/zero'], { binary: 'head' });
  const source = child.stdout;
  const cancel = new AbortController();
  const pending = forwardStream(source, new FrameWriter(out), new Promise(() => {}), { signal: cancel.signal, stallMs: 600_000 });
  await new Promise((r) => setTimeout(r, 300));
  cancel.abort();
  const outcome = await pending;
  await child.stop();
  out.end();
  await new Promise((r) => sink.once('close', r));
  assert.equal(outcome.cancelled, true);
  assert.ok(outcome.bytes > 65536n, `forwarded ${outcome.bytes} bytes`);
  assert.ok(source.destroyed);
  await new Promise((r) => setImmediate(r));
  assert.equal(timeouts(), before, 'no timer left running');
});

test('an agent that accepts nothing for stallMs: stalled, source destroyed, no timer left', async () => {
  const before = timeouts();
  const out = new PassThrough({ highWaterMark: 1024 });
  const source = new Readable({ read() { this.push(Buffer.alloc(65536, 1)); } });
  const outcome = await forwardStream(source, new FrameWriter(out), new Promise(() => {}), { stallMs: 200 });
  assert.equal(outcome.stalled, true);
  assert.ok(source.destroyed);
  await new Promise((r) => setImmediate(r));
  assert.equal(timeouts(), before);
});

test('a real agent behind a pipe, slow zfs receive: a whole stream, then one cancelled mid-stream, leaves no timer (the CLI can exit)', async () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const before = timeouts();
  const link = connectReceiver('backup-vm', {
    env: { PATH: process.env.PATH, QZB_QREXEC_CLIENT: path.join(here, '../receiver/local-qrexec-client.sh'), QZB_ZFS: path.join(here, 'slow-receive-zfs.sh'), QZB_ZPOOL: path.join(here, 'fake-zfs.sh') },
  });
  await link.client.hello('backup/qzb');
  // One whole stream first (the fault suite's hang followed a completed step), then the cancelled one.
  const first = startZfsSend(['-c', '3000000', '/dev/zero'], { binary: 'head', detached: true });
  await link.client.receive({ dataset: 'backup/qzb/a/b', snapshot: 's', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false }, () => first.stdout).catch(() => {});
  await first.stop();
  const zsend = startZfsSend(['-c', '30000000', '/dev/zero'], { binary: 'head', detached: true });
  const cancel = new AbortController();
  let sent = 0n;
  const pending = link.client.receive({ dataset: 'backup/qzb/a/c', snapshot: 's', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false }, () => zsend.stdout, { signal: cancel.signal, onProgress: (b) => (sent = b) }).catch((e: unknown) => e);
  while (sent < 1_000_000n) await new Promise((r) => setTimeout(r, 5));
  cancel.abort();
  assert.equal(((await pending) as { code?: string }).code, 'RECEIVER_CANCELLED');
  await zsend.stop();
  await link.client.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(timeouts(), before, 'no timer left running');
});

// watchDirect: a source that writes into the link itself (zfs send with the link as its stdout).
function fakeDirect(opts: { exitAfterMs?: number; ok?: boolean; growth?: bigint }) {
  let written = 0n;
  let stopped = false;
  let finish!: (d: { ok: boolean; bytes: bigint }) => void;
  const done = new Promise<{ ok: boolean; bytes: bigint }>((r) => (finish = r));
  const grow = setInterval(() => (written += opts.growth ?? 0n), 20);
  const end = (ok: boolean): void => {
    clearInterval(grow);
    finish({ ok, bytes: written });
  };
  if (opts.exitAfterMs !== undefined) setTimeout(() => end(opts.ok ?? true), opts.exitAfterMs);
  return {
    source: { written: () => written, stop: async () => { stopped = true; end(false); }, done },
    wasStopped: () => stopped,
  };
}

test('watchDirect: a source that exits by itself completes with its final count and progress', async () => {
  const { source, wasStopped } = fakeDirect({ exitAfterMs: 700, growth: 1000n });
  const progress: bigint[] = [];
  const before = timeouts();
  const o = await watchDirect(source, new Promise(() => {}), { onProgress: (b) => progress.push(b), stallMs: 60_000 });
  assert.equal(o.completed, true);
  assert.equal(o.ok, true);
  assert.equal(wasStopped(), false);
  assert.ok(o.bytes > 0n);
  assert.equal(progress.at(-1), o.bytes);
  assert.ok(progress.length >= 2, 'progress was reported while it ran');
  assert.ok(timeouts() <= before, 'a poll timer was left behind');
});

test('watchDirect: cancel, an agent result and a stall each stop the source first', async () => {
  const cancel = new AbortController();
  const a = fakeDirect({ growth: 10n });
  setTimeout(() => cancel.abort(), 100);
  const c = await watchDirect(a.source, new Promise(() => {}), { signal: cancel.signal });
  assert.deepEqual([c.cancelled, c.completed, c.ok, a.wasStopped()], [true, false, false, true]);

  const b = fakeDirect({ growth: 10n });
  const s = await watchDirect(b.source, new Promise((r) => setTimeout(r, 100)), {});
  assert.deepEqual([s.stopped, s.completed, b.wasStopped()], [true, false, true]);

  const still = fakeDirect({});
  const t = await watchDirect(still.source, new Promise(() => {}), { stallMs: 600 });
  assert.deepEqual([t.stalled, t.completed, still.wasStopped()], [true, false, true]);

  const pre = new AbortController();
  pre.abort();
  const d = fakeDirect({ growth: 10n });
  const e = await watchDirect(d.source, new Promise(() => {}), { signal: pre.signal });
  assert.deepEqual([e.cancelled, d.wasStopped()], [true, true]);
});
