// dom0's zfs runner (dom0/zfs/runner.ts) with stand-in programs: argv and environment as given,
// output kept whole, failures typed (a missing program, a non-zero exit, a signal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isQzbError } from '../../../shared/errors.ts';
import { getPriority } from 'node:os';
import { BACKGROUND_NICE, runZfs, ZfsCommandError } from '../../../dom0/zfs/runner.ts';
import { standIns } from './stand-in.ts';

const { dir, standIn } = standIns('qzb-dom0-runner-');

test('argv as given, an environment of PATH and LC_ALL only, stdout whole, --verbose line first', async () => {
  const zfs = standIn('zfs', `printf '%s|' "$@"; echo; env | sort`);
  process.env['QZB_RUNNER_TEST_SECRET'] = 'not passed';
  const lines: string[] = [];
  try {
    const r = await runZfs(['list', '-H', 'a b', '$(x)'], { onCommand: (l) => lines.push(l) }, zfs);
    const [argv, ...env] = r.stdout.split('\n');
    assert.equal(argv, 'list|-H|a b|$(x)|');
    assert.deepEqual(env.filter((l) => /^(LC_ALL|PATH|QZB_)/.test(l)).map((l) => l.split('=')[0]), ['LC_ALL', 'PATH']);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(lines, [`zfs list -H 'a b' '$(x)'`]);
  } finally {
    delete process.env['QZB_RUNNER_TEST_SECRET'];
  }
});

test('multi-byte text split across reads comes out whole', async () => {
  const zfs = standIn('zfs-long', `head -c 70000 /dev/zero | tr '\\0' 'a'; printf '\\303\\251\\n'`);
  const r = await runZfs(['get', 'all'], {}, zfs);
  assert.equal(r.stdout.length, 70002);
  assert.ok(r.stdout.endsWith('aé\n'));
});

test('a non-zero exit throws ZfsCommandError with argv, code and stderr, unless allowed', async () => {
  const zfs = standIn('zfs-fail', `echo "cannot open 'p/x': dataset does not exist" >&2; exit 1`);
  await assert.rejects(runZfs(['list', 'p/x'], {}, zfs), (e: unknown) => {
    assert.ok(e instanceof ZfsCommandError);
    assert.equal(e.exitCode, 1);
    assert.match(e.message, /failed \(exit 1\): cannot open 'p\/x': dataset does not exist/);
    return true;
  });
  const r = await runZfs(['list', 'p/x'], { allowExitCodes: [1] }, zfs);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /does not exist/);
});

test('a background call runs at the lowest CPU priority; an ordinary one at this process\'s', async () => {
  // The priority is set right after the start: the stand-in waits (up to 10 s) until it sees it.
  const zfs = standIn('zfs-nice', `for i in $(seq 100); do n=$(cut -d')' -f2 /proc/$$/stat | cut -d' ' -f18); [ "$n" = "$1" ] && break; sleep 0.1; done; echo "$n"`);
  const bg = await runZfs([String(BACKGROUND_NICE)], { background: true }, zfs);
  assert.equal(bg.stdout.trim(), String(BACKGROUND_NICE));
  const own = String(getPriority());
  const plain = await runZfs([own], {}, zfs);
  assert.equal(plain.stdout.trim(), own);
});

test('a command killed by a signal is a failure (exit 1), never a success', async () => {
  const zfs = standIn('zfs-killed', 'kill -KILL $$');
  await assert.rejects(runZfs(['list'], {}, zfs), ZfsCommandError);
});

test('a missing program is ZFS_NOT_FOUND with a hint', async () => {
  await assert.rejects(runZfs(['list'], {}, path.join(dir, 'nope')), (e: unknown) => {
    assert.ok(isQzbError(e));
    assert.equal(e.code, 'ZFS_NOT_FOUND');
    assert.match(e.message, /no such program/);
    assert.ok(e.hint);
    return true;
  });
});
