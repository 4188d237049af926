// The bounded output collector behind both zfs runners (shared/child-output.ts), on real child
// processes: whole output within the limits, a listing over its limit refused (the child killed),
// stderr cut at its limit, a program that cannot start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { childOutcome } from '../../../shared/child-output.ts';

const sh = (script: string) => spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });

test('stdout and stderr whole within their limits; exit code kept; a character split across reads comes out whole', async () => {
  const r = await childOutcome(sh(`head -c 70000 /dev/zero | tr '\\0' a; printf '\\303\\251'; echo oops >&2; exit 3`), { stdout: 1 << 20, stderr: 100 });
  assert.equal(r.exitCode, 3);
  assert.equal(r.signal, null);
  assert.equal(r.stdout.length, 70001);
  assert.ok(r.stdout.endsWith('aé'));
  assert.equal(r.stderr, 'oops\n');
  assert.equal(r.overflow, false);
  assert.equal(r.spawnError, null);
});

test('stdout over its limit kills the child and keeps nothing of it', async () => {
  const r = await childOutcome(sh('while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done'), { stdout: 4096, stderr: 100 });
  assert.equal(r.overflow, true);
  assert.equal(r.stdout, '');
  assert.equal(r.signal, 'SIGKILL');
});

test('stderr over its limit is cut, the child runs to its end', async () => {
  const r = await childOutcome(sh(`head -c 10000 /dev/zero | tr '\\0' e >&2; echo done`), { stdout: 100, stderr: 64 });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'done\n');
  assert.equal(r.stderr, 'e'.repeat(64));
});

test('stdout not collected when no limit is given (a stream read elsewhere)', async () => {
  const child = sh('echo stream; echo note >&2');
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const r = await childOutcome(child, { stderr: 100 });
  assert.equal(r.stdout, '');
  assert.equal(Buffer.concat(chunks).toString(), 'stream\n');
  assert.equal(r.stderr, 'note\n');
});

test('a program that cannot start: spawnError, no exit code, the reason as its stderr', async () => {
  const r = await childOutcome(spawn('/nonexistent/qzb-no-such-program', [], { stdio: ['ignore', 'pipe', 'pipe'] }), { stdout: 100, stderr: 100 });
  assert.equal(r.exitCode, null);
  assert.equal(r.spawnError?.code, 'ENOENT');
  assert.match(r.stderr, /ENOENT/);
});
