// Real-ZFS check of the agent's `export` op (not a unit test: it needs the test VM).
//   node --import tsx test/unit/receiver/export.vm.ts        (host: boots the VM, runs itself inside)
// Inside the VM: a sparse source volume with data at two places, received full and incremental
// below the receive root; each snapshot exported through the real handler (in-process pair and
// the agent as its own process) and compared byte for byte with the source at that snapshot;
// nothing on the receiver changed or left behind; a dead agent's clone swept, an unmarked one
// kept; dom0 abandoning an export mid-stream leaves no clone; a filesystem refused.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Readable } from 'node:stream';

const ROOT = 'backup/qzb';
const MiB = 1024 * 1024;
let failures = 0;
function check(what: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}`);
}
const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
const zfsSend = (args: string[]): Readable => spawn('zfs', ['send', ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
/** What must not change on the receiver: every dataset's and snapshot's identity, data and flags. */
const receiverState = (): string => sh(`zfs list -H -p -r -t all -o name,guid,createtxg,written,referenced,used,volmode,readonly,clones,userrefs,org.qubes-zfs-backup:placeholder ${ROOT}`);
const leftClones = (): string[] => sh(`zfs list -H -o name -r -t all ${ROOT}`).split('\n').filter((l) => l.includes('.qzb-export-'));

async function guest(): Promise<void> {
  const { createLinkedPair } = await import('../../../dom0/receiver-link/linked-pair.ts');
  const { connectReceiver } = await import('../../../dom0/receiver-link/spawn.ts');
  const { createZfsRunner } = await import('../../../receiver/zfs-runner.ts');
  type Piece = import('../../../dom0/receiver-link/client.ts').ExportPiece;
  type Client = import('../../../dom0/receiver-link/client.ts').ReceiverClient;

  console.log(`zfs: ${sh('zfs version').trim().replace(/\n/g, ' / ')}`);
  const size = 48 * MiB;
  sh(`set -e
    mkdir -p /tmp/img /tmp/mnt
    truncate -s 512M /tmp/img/src.img /tmp/img/dst.img
    zpool create -R /tmp/mnt src /tmp/img/src.img
    zpool create -R /tmp/mnt backup /tmp/img/dst.img
    zfs create -o mountpoint=none -o volmode=none backup/qzb
    zfs create -p -s -V ${size} src/qubes/work/private
    zfs create src/fs
    zfs snapshot src/fs@a
    udevadm settle --timeout=30
    dd if=/dev/urandom of=/dev/zvol/src/qubes/work/private bs=1M count=3 status=none conv=fsync
    dd if=/dev/urandom of=/dev/zvol/src/qubes/work/private bs=1M count=1 seek=20 status=none conv=fsync
    printf 'tail' | dd of=/dev/zvol/src/qubes/work/private bs=1 seek=$((${size} - 7)) conv=notrunc,fsync status=none
  `);
  const dev = '/dev/zvol/src/qubes/work/private';
  const shaA = sh(`sha256sum ${dev}`).split(' ')[0]!;
  sh(`zfs snapshot src/qubes/work/private@a
    dd if=/dev/urandom of=${dev} bs=1M count=2 seek=10 status=none conv=fsync`);
  const shaB = sh(`sha256sum ${dev}`).split(' ')[0]!;
  sh(`zfs snapshot src/qubes/work/private@b`);

  const vol = `${ROOT}/src/qubes/work/private`;
  const logs: string[] = [];
  let pair = createLinkedPair(createZfsRunner(process.env), { log: (l) => logs.push(l) });
  let client: Client = pair.client;
  await client.hello(ROOT);
  const head = { dataset: vol, type: 'volume' as const, origin: null, raw: false, resume: false };
  const ra = await client.receive({ ...head, snapshot: 'a', stream: 'full' }, zfsSend(['-L', '-c', 'src/qubes/work/private@a']));
  await client.receive({ ...head, snapshot: 'b', stream: 'incremental' }, zfsSend(['-L', '-c', '-i', '@a', 'src/qubes/work/private@b']));
  await client.receive({ dataset: `${ROOT}/src/fs`, snapshot: 'a', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false }, zfsSend(['src/fs@a']));
  const before = receiverState();

  const exportSha = async (c: Client, snapshot: string, guid: bigint | null = null) => {
    const h = createHash('sha256');
    const zero = Buffer.alloc(MiB);
    const result = await c.exportVolume(snapshot, {
      volsize: BigInt(size),
      guid,
      write: async (p: Piece) => {
        if (p.kind === 'data') h.update(p.bytes);
        else for (let left = p.length; left > 0n; left -= BigInt(MiB)) h.update(left >= BigInt(MiB) ? zero : zero.subarray(0, Number(left)));
      },
    });
    return { sha: h.digest('hex'), result };
  };
  const t0 = Date.now();
  const a = await exportSha(client, `${vol}@a`, ra.guid);
  const ms = Date.now() - t0;
  check('export @a: bytes equal the source volume at @a (SHA-256), GUID as received', a.sha === shaA && a.result.guid === ra.guid, `${a.sha.slice(0, 16)} / ${shaA.slice(0, 16)}; ${ms} ms`);
  check('export @a: the zero regions travel as holes (more than 40 MiB of 48)', a.result.holeBytes > 40n * BigInt(MiB), `${a.result.holeBytes} hole bytes`);
  const b = await exportSha(client, `${vol}@b`);
  check('export @b (a later snapshot of the same volume): bytes equal the source at @b', b.sha === shaB, `${b.sha.slice(0, 16)} / ${shaB.slice(0, 16)}`);
  check('no export clone left, cloneLeft null', leftClones().length === 0 && a.result.cloneLeft === null && b.result.cloneLeft === null, leftClones().join(', '));
  check('nothing on the receiver changed (GUIDs, written, used, volmode, clones, holds)', receiverState() === before);
  const fsRefused = await client.exportVolume(`${ROOT}/src/fs@a`, { volsize: BigInt(size), write: async () => {} }).catch((e: unknown) => e);
  check('a filesystem snapshot is refused (REQUEST_REFUSED), nothing cloned', (fsRefused as { code?: string }).code === 'RECEIVER_REQUEST_REFUSED' && leftClones().length === 0, String((fsRefused as Error).message));
  const wrongSize = await client.exportVolume(`${vol}@a`, { volsize: BigInt(size - 512), write: async () => {} }).catch((e: unknown) => e);
  check('a volsize other than the recorded one: EXPORT_SIZE_MISMATCH', (wrongSize as { code?: string }).code === 'EXPORT_SIZE_MISMATCH');
  await client.close();
  await pair.agent;
  check('…and the agent, seeing dom0 go, left no clone', leftClones().length === 0, leftClones().join(', '));

  // A dead agent's marked clone is swept at the next export; an unmarked look-alike stays.
  sh(`zfs clone -o volmode=dev -o readonly=on -o org.qubes-zfs-backup:export=999999 ${vol}@a ${ROOT}/.qzb-export-999999-0badc0de
    zfs clone -o volmode=none ${vol}@a ${ROOT}/.qzb-export-999998-deadbeef`);
  pair = createLinkedPair(createZfsRunner(process.env), { log: (l) => logs.push(l) });
  client = pair.client;
  await client.hello(ROOT);
  await exportSha(client, `${vol}@a`);
  const left = leftClones();
  check('a dead agent\'s marked clone is destroyed at the next export; an unmarked one stays', left.length === 1 && left[0] === `${ROOT}/.qzb-export-999998-deadbeef`, left.join(', '));
  sh(`zfs destroy ${ROOT}/.qzb-export-999998-deadbeef`);

  // dom0 abandons an export mid-stream (its import failed): the link fails, the agent destroys the clone.
  let seen = 0;
  const abandoned = await client.exportVolume(`${vol}@b`, {
    volsize: BigInt(size),
    write: async (p: Piece) => {
      if (p.kind === 'data') seen += p.bytes.length;
      if (seen > 2 * MiB) throw new Error('the import stopped');
    },
  }).catch((e: unknown) => e);
  await client.close();
  const end = await pair.agent;
  check('dom0 abandoning an export: link fails with the sink\'s error, session ends, no clone left', (abandoned as Error).message === 'the import stopped' && end !== 'protocol-error' && leftClones().length === 0, `${end}; ${leftClones().join(', ')}`);

  // The agent as its own process (the shipped bundle through the qrexec launcher).
  const launcher = path.join(path.dirname(fileURLToPath(import.meta.url)), 'local-qrexec-client.sh');
  const link = connectReceiver('backup-vm', { env: { ...process.env, QZB_QREXEC_CLIENT: launcher } });
  await link.client.hello(ROOT);
  const p1 = await exportSha(link.client, `${vol}@b`);
  check('separate agent process: export @b equals the source', p1.sha === shaB);
  // SIGTERM mid-export: the agent stops, destroys its clone, exits.
  let killed = false;
  const sig = await link.client.exportVolume(`${vol}@a`, {
    volsize: BigInt(size),
    write: async (p: Piece) => {
      if (p.kind === 'data' && !killed) {
        killed = true;
        process.kill(link.pid!, 'SIGTERM');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  }).catch((e: unknown) => e);
  const code = await link.exited;
  await link.client.close();
  check('SIGTERM to the agent mid-export: link fails, agent exits, no clone left', sig instanceof Error && code !== null && leftClones().length === 0, `${(sig as Error).message}; exit ${code}; ${link.stderrTail().filter((l) => /export/.test(l)).slice(-2).join(' | ')}`);
  check('after everything: the receiver is as it was', receiverState() === before);
  console.log(`agent log (last lines):\n  ${logs.slice(-6).join('\n  ')}`);
  console.log(failures === 0 ? 'ALL PASSED' : `${failures} FAILED`);
  process.exitCode = failures === 0 ? 0 : 1;
}

async function host(): Promise<void> {
  const { runInVm } = await import('../../vm/vm.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'qzb-export-vm-'));
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', path.join(outDir, 'dist')], { cwd: repo, stdio: 'ignore' });
  const r = await runInVm({
    command: ['node', '--import', 'tsx', 'test/unit/receiver/export.vm.ts'],
    outDir,
    env: { QZB_RECEIVER_BUNDLE: path.join(outDir, 'dist', 'qubes-zfs-backup-receiver.mjs') },
    timeoutMs: 15 * 60 * 1000,
    onStdoutLine: (l) => console.log(l),
  });
  if (r.stderr) process.stderr.write(r.stderr);
  console.log(`[vm] zfs ${r.zfsVersion}; boot ${r.bootMs} ms; total ${r.totalMs} ms; exit ${r.exitCode}`);
  rmSync(outDir, { recursive: true, force: true });
  process.exitCode = r.exitCode;
}

if (process.env.QZB_VM === '1') {
  await guest().catch((error: unknown) => {
    console.log(`FAIL unexpected: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
} else {
  await host();
}
