// startZfsSend's process handling with real processes standing in for `zfs` (no ZFS semantics:
// endless writers, a SIGTERM-ignoring writer, a failing command). The same against real
// `zfs send` runs in the VM: test/unit/zfs/send-process.vm.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startZfsSend } from '../../../dom0/zfs/send-process.ts';
import { alive, standIns } from './stand-in.ts';

const { dir, standIn } = standIns('qzb-sendproc-');
const endless = (): string => standIn('endless', 'exec yes "$@"');

test('reads the stream, the argv and the environment are what we passed', async () => {
  const bin = standIn('env', 'echo "$# $*"; env | sort; echo "warn 1" >&2; echo "warn 2" >&2; exit 0');
  const lines: string[] = [];
  const p = startZfsSend(['send', '-t', 'a b'], { binary: bin, onCommand: (l) => lines.push(l) });
  let out = '';
  for await (const chunk of p.stdout) out += String(chunk);
  const end = await p.done;
  assert.deepEqual(lines, ["zfs send -t 'a b'"]);
  assert.match(out, /^3 send -t a b\n/);
  const envNames = out.split('\n').slice(1).filter(Boolean).map((l) => l.split('=')[0]);
  assert.deepEqual(envNames.filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_'), ['LC_ALL', 'PATH']);
  assert.match(out, /LC_ALL=C\n/);
  assert.deepEqual(end, { exitCode: 0, signal: null, stderrTail: ['warn 1', 'warn 2'] });
});

test('QZB_ZFS selects the binary; stderr tail is bounded; exit code kept', async () => {
  const bin = standIn('fail', 'i=0; while [ $i -lt 100 ]; do echo "line $i" >&2; i=$((i+1)); done; printf "%05000d" 0 >&2; exit 1');
  const saved = process.env.QZB_ZFS;
  process.env.QZB_ZFS = bin;
  try {
    const p = startZfsSend(['send', 'x@y'], { stderrTailLines: 5 });
    p.stdout.resume();
    const end = await p.done;
    assert.equal(end.exitCode, 1);
    assert.equal(end.stderrTail.length, 5);
    assert.deepEqual(end.stderrTail.slice(0, 4), ['line 96', 'line 97', 'line 98', 'line 99']);
    assert.equal(end.stderrTail[4]!.length, 1000);
  } finally {
    if (saved === undefined) delete process.env.QZB_ZFS;
    else process.env.QZB_ZFS = saved;
  }
});

test('stop() of a writer blocked on a full pipe nobody reads: SIGTERM, nothing left', async () => {
  const p = startZfsSend(['send'], { binary: endless() });
  await new Promise((r) => setTimeout(r, 300)); // the 64 KiB pipe is full by now
  assert.ok(p.pid !== undefined && alive(p.pid));
  const t0 = Date.now();
  await p.stop();
  const end = await p.done;
  assert.equal(end.signal, 'SIGTERM');
  assert.equal(end.exitCode, null);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(alive(p.pid), false);
  assert.equal(p.stdout.destroyed, true);
});

test('stop() while the stream is being read', async () => {
  const p = startZfsSend(['send'], { binary: endless() });
  let bytes = 0;
  p.stdout.on('data', (c: Buffer) => (bytes += c.length));
  await new Promise((r) => setTimeout(r, 200));
  await p.stop();
  assert.ok(bytes > 0);
  assert.equal((await p.done).signal, 'SIGTERM');
  assert.equal(alive(p.pid!), false);
});

test('a process that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const bin = standIn('stubborn', "trap '' TERM; echo started; exec sleep 30");
  const p = startZfsSend(['send'], { binary: bin, killGraceMs: 300 });
  await new Promise((r) => p.stdout.once('data', r));
  const t0 = Date.now();
  await p.stop();
  const waited = Date.now() - t0;
  assert.equal((await p.done).signal, 'SIGKILL');
  assert.ok(waited >= 250 && waited < 3000, String(waited));
  assert.equal(alive(p.pid!), false);
});

test('a SIGTERM- and SIGPIPE-ignoring process blocked in write: SIGKILL', async () => {
  const bin = standIn('deaf', "trap '' TERM PIPE; exec yes");
  const p = startZfsSend(['send'], { binary: bin, killGraceMs: 300 });
  await new Promise((r) => setTimeout(r, 300));
  await p.stop();
  const end = await p.done;
  // node's 'pipe' is a socketpair: with unread data the closed read end makes the write fail with
  // ECONNRESET (no SIGPIPE), so `yes` exits 1 on its own; otherwise SIGKILL after the grace period.
  assert.ok(end.signal === 'SIGKILL' || (end.exitCode === 1 && /reset by peer|Broken pipe/.test(end.stderrTail.join())), JSON.stringify(end));
  assert.equal(alive(p.pid!), false);
});

test('stop() after exit and twice is harmless; the reader closing first ends the writer', async () => {
  const p = startZfsSend(['send'], { binary: standIn('quick', 'echo hi') });
  for await (const _ of p.stdout) void _;
  await p.done;
  await p.stop();
  await p.stop();
  const q = startZfsSend(['send'], { binary: endless() });
  q.stdout.destroy();
  // SIGPIPE, or (socketpair with unread data) ECONNRESET: either way it ends by itself.
  const end = await q.done;
  assert.ok(end.signal === 'SIGPIPE' || (end.exitCode === 1 && /reset by peer/.test(end.stderrTail.join())), JSON.stringify(end));
});

test('a binary that does not exist: spawnError, no exception', async () => {
  const p = startZfsSend(['send'], { binary: path.join(dir, 'missing') });
  const end = await p.done;
  assert.equal(end.exitCode, null);
  assert.match(end.spawnError ?? '', /ENOENT/);
  await p.stop();
});
