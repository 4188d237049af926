// The agent's process runner (receiver/zfs-runner.ts) with stand-in programs: what it passes, what
// it keeps of a finished command, and how its streaming children are fed, stopped and reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createZfsRunner, MAX_RECEIVE_STDERR_BYTES } from '../../../receiver/zfs-runner.ts';
import { alive, standIns } from '../zfs/stand-in.ts';

const { dir, standIn } = standIns('qzb-agent-runner-');

test('a finished command: argv as given, PATH and LC_ALL only, stdout whole, stderr and exit status kept', async () => {
  const zfs = standIn('zfs', `printf '%s|' "$@"; echo; env | sort; echo 'cannot open x: dataset does not exist' >&2; exit 1`);
  const runner = createZfsRunner({ QZB_ZFS: zfs, PATH: '/usr/bin:/bin', SECRET: 'no' });
  const out = await runner.zfs(['list', '-H', 'a b', '$(x)']);
  assert.equal(out.exitCode, 1);
  assert.equal(out.signal, null);
  const [argv, ...env] = out.stdout.split('\n');
  assert.equal(argv, 'list|-H|a b|$(x)|');
  assert.deepEqual(env.filter((l) => l && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_=')), ['LC_ALL=C', 'PATH=/usr/bin:/bin']);
  assert.equal(out.stderr, 'cannot open x: dataset does not exist\n');
});

test('zpool has its own binary; multi-byte text split across reads comes out whole', async () => {
  const zpool = standIn('zpool', `head -c 70000 /dev/zero | tr '\\0' 'a'; printf '\\303\\251\\n'`);
  const out = await createZfsRunner({ QZB_ZPOOL: zpool }).zpool(['get', 'all']);
  assert.equal(out.exitCode, 0);
  assert.equal(out.stdout.length, 70002);
  assert.ok(out.stdout.endsWith('aé\n'));
});

test('a missing binary is a failed command with the reason, not a throw', async () => {
  const out = await createZfsRunner({ QZB_ZFS: path.join(dir, 'nope') }).zfs(['version']);
  assert.equal(out.exitCode, null);
  assert.match(out.stderr, /ENOENT/);
});

test('a killed command reports its signal', async () => {
  const zfs = standIn('zfs-self-kill', 'kill -TERM $$');
  const out = await createZfsRunner({ QZB_ZFS: zfs }).zfs(['list']);
  assert.equal(out.exitCode, null);
  assert.equal(out.signal, 'SIGTERM');
});

test('receive: the stream goes to stdin; stderr kept up to its limit', async () => {
  const got = path.join(dir, 'received');
  const zfs = standIn('zfs-receive', `cat > ${got}; head -c ${MAX_RECEIVE_STDERR_BYTES + 100} /dev/zero | tr '\\0' e >&2; exit 3`);
  const proc = createZfsRunner({ QZB_ZFS: zfs }).receive(['receive', '-s', '-u', 'p/x@a']);
  proc.stdin.end(Buffer.from('stream bytes'));
  const out = await proc.done;
  assert.equal(out.exitCode, 3);
  assert.equal(out.stderr.length, MAX_RECEIVE_STDERR_BYTES);
  assert.equal(readFileSync(got, 'utf8'), 'stream bytes');
});

test('receive: zfs exiting before the stream ends is an exit status, not an EPIPE crash', async () => {
  const zfs = standIn('zfs-receive-early', `echo 'cannot receive: no space' >&2; exit 1`);
  const proc = createZfsRunner({ QZB_ZFS: zfs }).receive(['receive']);
  const out = await proc.done;
  proc.stdin.write(Buffer.alloc(1 << 20));
  proc.stdin.end();
  assert.equal(out.exitCode, 1);
  assert.match(out.stderr, /no space/);
});

test('receiveFrom reads the given descriptor itself; kill() stops it with SIGTERM', async () => {
  const file = path.join(dir, 'input');
  writeFileSync(file, 'from the descriptor');
  const got = path.join(dir, 'received-fd');
  const zfs = standIn('zfs-receive-fd', `cat > ${got}`);
  const fd = openSync(file, 'r');
  try {
    const out = await createZfsRunner({ QZB_ZFS: zfs }).receiveFrom!(['receive'], fd).done;
    assert.equal(out.exitCode, 0);
    assert.equal(readFileSync(got, 'utf8'), 'from the descriptor');
  } finally {
    closeSync(fd);
  }
  const slow = standIn('zfs-receive-slow', 'exec sleep 30');
  const proc = createZfsRunner({ QZB_ZFS: slow }).receiveFrom!(['receive'], 0);
  proc.kill();
  const out = await proc.done;
  assert.equal(out.signal, 'SIGTERM');
});

test('send: stdout is the stream; kill() reaches its whole process group', async () => {
  const pids = path.join(dir, 'send-pids');
  const zfs = standIn('zfs-send', `sleep 30 & echo $! > ${pids}; echo start; wait`);
  const proc = createZfsRunner({ QZB_ZFS: zfs }).send!(['send', 'p/x@a']);
  const first = await new Promise<string>((resolve) => proc.stdout.once('data', (b: Buffer) => resolve(b.toString())));
  assert.equal(first, 'start\n');
  const grandchild = Number(readFileSync(pids, 'utf8'));
  proc.kill();
  const out = await proc.done;
  assert.equal(out.signal, 'SIGTERM');
  // (Dead or a zombie: its parent died too, and in a container nobody may reap it.)
  const running = (): boolean => {
    try {
      return alive(grandchild) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${grandchild}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 500 && running(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(running(), false, 'the stand-in\'s own child died with the group');
});
