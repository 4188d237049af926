// Smoke test of the real-OpenZFS test VM: boots it, makes pools on sparse files, a filesystem and a
// zvol (through /dev/zvol), full + incremental send/receive, then checks on the host that every
// snapshot GUID and every content checksum matches between sender and receiver.
//   node --import tsx test/vm/smoke.ts [-v] [--corrupt]
// Exit 0 on success, 1 on any mismatch or failure (VM failures included), 2 on bad usage.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { runInVm, VmError } from './vm.ts';

const verbose = process.argv.includes('-v') || process.argv.includes('--verbose');
// --corrupt: the guest changes one byte of the received zvol; the run must then FAIL (self-test).
const corrupt = process.argv.includes('--corrupt');
const guestScript = join(dirname(fileURLToPath(import.meta.url)), 'smoke-guest.sh');

function fail(msg: string): never {
  process.stderr.write(`smoke: FAIL: ${msg}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  let r;
  try {
    r = await runInVm({
      command: ['sh', guestScript],
      cwd: '/tmp',
      env: corrupt ? { SMOKE_CORRUPT: '1' } : {},
      timeoutMs: 5 * 60 * 1000,
      onStdoutLine: verbose ? (l) => process.stderr.write(`[guest] ${l}\n`) : undefined,
    });
  } catch (e) {
    if (e instanceof VmError) fail(e.message);
    throw e;
  }
  await rm(r.outDir, { recursive: true, force: true });
  if (r.exitCode !== 0) fail(`guest script exited ${r.exitCode}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`);

  const guids = new Map<string, string>();
  const sums = new Map<string, string>();
  const steps: string[] = [];
  let version = '';
  for (const line of r.stdout.split('\n')) {
    const [kind, key = '', value = ''] = line.split(/\s+/);
    if (kind === 'GUID') guids.set(key, value);
    else if (kind === 'SUM') sums.set(key, value);
    else if (kind === 'STEP') steps.push(key);
    else if (kind === 'VERSION') version = key;
  }
  if (steps[steps.length - 1] !== 'done') fail(`guest script did not finish (steps: ${steps.join(', ')})`);

  const problems: string[] = [];
  const expectSame = (what: string, a: string | undefined, b: string | undefined, ka: string, kb: string): void => {
    if (!a || !b) problems.push(`${what}: missing ${!a ? ka : kb}`);
    else if (a !== b) problems.push(`${what}: ${ka}=${a} but ${kb}=${b}`);
  };
  for (const [src, dst] of [['src/fs', 'dst/b/fs'], ['src/vol', 'dst/b/vol']] as const) {
    for (const snap of ['s1', 's2']) {
      expectSame('snapshot GUID', guids.get(`${src}@${snap}`), guids.get(`${dst}@${snap}`), `${src}@${snap}`, `${dst}@${snap}`);
    }
  }
  for (const f of ['a', 'b']) expectSame('file content', sums.get(`src/fs:${f}`), sums.get(`dst/b/fs:${f}`), `src/fs:${f}`, `dst/b/fs:${f}`);
  expectSame('zvol content', sums.get('src/vol'), sums.get('dst/b/vol'), 'src/vol', 'dst/b/vol');
  // GUIDs must be distinct between the two snapshots of one dataset (sanity of the parse).
  if (guids.get('src/fs@s1') === guids.get('src/fs@s2')) problems.push('src/fs@s1 and @s2 have the same GUID');
  if (problems.length) fail(problems.join('\n'));

  process.stdout.write(
    `smoke: OK: OpenZFS ${version || r.zfsVersion}; ${guids.size} snapshot GUIDs and ${sums.size} checksums consistent; ` +
      `boot ${r.bootMs} ms, VM total ${r.totalMs} ms, wall ${Date.now() - t0} ms\n`,
  );
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
