// startZfsSendInto (zfs send writing straight into the receiver link) with real processes standing in
// for `zfs` (no ZFS semantics: writers of a known number of bytes, an endless one) and a real reader
// behind a socket, as the qrexec call's stdin is: the kernel's byte counts are exact, stop() ends
// a writer blocked on a full socket, and a writer dies with the CLI even when the CLI is SIGKILLed.
// Against real `zfs send` into the real agent: the send scenarios in the VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { findSetpriv, startZfsSendInto } from '../../../dom0/zfs/send-process.ts';
import { alive, standIns } from './stand-in.ts';
import { handshakeIn, reapedWchar, wcharAt } from '../../../dom0/zfs/proc-io.ts';
import { FrameWriter } from '../../../shared/protocol/stream-io.ts';

const { dir, standIn } = standIns('qzb-sendinto-');
const setpriv = findSetpriv();

/** A reader behind a socket (a child's stdin, as the qrexec call's is), counting what it gets. */
function reader(): { child: ChildProcess; count: Promise<number> } {
  const child = spawn('wc', ['-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  const count = new Promise<number>((resolve) => child.on('close', () => resolve(Number(out.trim()))));
  return { child, count };
}

test('setpriv is on PATH here (dom0 has util-linux); QZB_SETPRIV overrides the search', () => {
  assert.ok(setpriv, 'setpriv not found: the direct path cannot be tested');
  assert.equal(findSetpriv({ QZB_SETPRIV: 'none', PATH: '/usr/bin' }), null);
  assert.equal(findSetpriv({ QZB_SETPRIV: '/x/setpriv', PATH: '/usr/bin' }), '/x/setpriv');
  assert.equal(findSetpriv({ PATH: dir }), null);
});

test('the kernel counts: what a writer (or a child it waits for) wrote into the socket, exactly', async () => {
  for (const [name, script, n] of [
    ['exec-writer', 'exec head -c 3000000 /dev/zero', 3_000_000],
    ['forking-writer', 'head -c 1234567 /dev/zero; exit 0', 1_234_567],
    ['empty-writer', 'exit 0', 0],
  ] as const) {
    const r = reader();
    const lines: string[] = [];
    const p = startZfsSendInto(['send', 'a@b'], r.child.stdin!, setpriv!, { binary: standIn(name, script), onCommand: (l) => lines.push(l) });
    const exit = await p.done;
    r.child.stdin!.end();
    assert.equal(await r.count, n, name);
    assert.deepEqual({ exitCode: exit.exitCode, bytes: exit.bytes }, { exitCode: 0, bytes: BigInt(n) }, name);
    assert.equal(p.written() <= BigInt(n), true);
    assert.deepEqual(lines, ['zfs send a@b']);
  }
});

test('the handshake in a read at spawn: exact when small; a read that holds stream bytes gets the last exact one', () => {
  assert.equal(handshakeIn(null), 0n);
  assert.equal(handshakeIn(1n), 1n);
  assert.equal(handshakeIn(1_000_000n), 1n, 'a writer that streamed before the read (a loaded machine)');
  assert.equal(handshakeIn(0n), 0n);
  assert.equal(handshakeIn(312n), 0n, "zfs send's BEGIN record alone");
  assert.equal(handshakeIn(64n), 64n);
  assert.equal(handshakeIn(65n), 64n);
  handshakeIn(1n);
});

test('written() follows a writer while it runs; stop() ends one blocked on a full socket', async (t) => {
  const r = reader();
  r.child.stdout!.pause();
  // A reader that stops reading: the writer blocks once the socket is full.
  const slow = spawn('sh', ['-c', 'sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const p = startZfsSendInto(['send', 'a@b'], slow.stdin!, setpriv!, { binary: standIn('endless', 'exec yes'), killGraceMs: 500 });
  // Whatever an assertion does, nothing of this test outlives it (a blocked writer would hold the
  // file open until its time-out).
  t.after(async () => {
    await p.stop();
    slow.kill('SIGKILL');
    r.child.stdin!.end();
  });
  // The writer's start (setpriv, sh, yes) can take seconds on a loaded machine: wait up to 20 s.
  let seen = 0n;
  for (const until = Date.now() + 20_000; seen === 0n && Date.now() < until; ) {
    await new Promise((res) => setTimeout(res, 20));
    seen = p.written();
  }
  assert.ok(seen > 0n, 'no bytes counted while the writer ran');
  await p.stop();
  const exit = await p.done;
  assert.equal(exit.signal, 'SIGTERM');
  assert.ok(exit.bytes >= seen);
  assert.equal(alive(p.pid!), false);
  slow.kill('SIGKILL');
  r.child.stdin!.end();
  await r.count;
});

test('the writer dies with the process that started it, even by SIGKILL (setpriv --pdeathsig)', async () => {
  const pidFile = path.join(dir, 'writer.pid');
  const script = path.join(dir, 'cli.ts');
  const module = path.resolve('dom0/zfs/send-process.ts');
  writeFileSync(script, [
    `import { spawn } from 'node:child_process';`,
    `import { writeFileSync } from 'node:fs';`,
    `import { startZfsSendInto } from ${JSON.stringify(module)};`,
    `const sink = spawn('sh', ['-c', 'sleep 60'], { stdio: ['pipe', 'ignore', 'ignore'] });`,
    `const p = startZfsSendInto(['send', 'a@b'], sink.stdin, ${JSON.stringify(setpriv)}, { binary: ${JSON.stringify(standIn('endless2', 'exec yes'))}, detached: true });`,
    `writeFileSync(${JSON.stringify(pidFile)}, String(p.pid));`,
    `setInterval(() => {}, 1000);`,
  ].join('\n'));
  const cli = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  let writer = 0;
  for (let i = 0; i < 300 && !writer; i++) {
    await new Promise((res) => setTimeout(res, 50));
    try {
      writer = Number(readFileSync(pidFile, 'utf8'));
    } catch {
      /* not yet */
    }
  }
  assert.ok(writer > 0 && alive(writer), 'the stand-in CLI did not start its writer');
  cli.kill('SIGKILL');
  for (let i = 0; i < 100 && alive(writer); i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal(alive(writer), false, 'the writer outlived the SIGKILLed CLI');
});

test('reapedWchar: what reaped children wrote is added to this process, its own writes are not', async () => {
  const before = reapedWchar();
  assert.notEqual(before, null);
  await new Promise((res) => spawn('sh', ['-c', 'head -c 5000 /dev/zero > /dev/null'], { stdio: 'ignore' }).on('exit', res));
  const after = reapedWchar()!;
  // 5000 by head, and one byte each that libuv's and sh's spawn handshakes may write before exec.
  assert.ok(after - before! >= 5000n && after - before! <= 5003n, `${after - before!}`);
  assert.equal(wcharAt('no-such-process'), null);
});

test('FrameWriter.handOff: only an output with a descriptor and nothing queued', async () => {
  assert.equal(new FrameWriter(new PassThrough()).handOff(), null);
  const r = reader();
  const w = new FrameWriter(r.child.stdin!);
  assert.equal(w.handOff(), r.child.stdin);
  r.child.stdin!.cork();
  r.child.stdin!.write(Buffer.alloc(10));
  assert.equal(w.handOff(), null);
  r.child.stdin!.uncork();
  r.child.stdin!.end();
  await r.count;
});
