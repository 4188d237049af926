// The receiver agent entry, run by the qrexec service qubes.ZfsBackupReceive inside the receiver
// qube (as root, forced by rpc-config). stdin/stdout carry the protocol from dom0; stderr is a log
// that qrexec sends to the qube's journal. On SIGTERM/SIGHUP/SIGINT the input is closed, which ends
// any running receive the same way as dom0 going away: zfs's stdin is closed, ZFS keeps resumable
// partial state, the agent waits for zfs and exits.
import { VERSION } from '../shared/version.ts';
import { serveSession } from './session.ts';
import { createZfsRunner } from './zfs-runner.ts';

const log = (line: string): void => {
  process.stderr.write(`qubes-zfs-backup-receiver[${process.pid}]: ${line}\n`);
};

for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.stdin.destroy();
  });
}
// A closed stdout shows up as EPIPE on write; the session handles it, nothing may crash on it.
process.stdout.on('error', () => {});

log(`version ${VERSION} started for ${process.env.QREXEC_REMOTE_DOMAIN ?? 'a local caller'}`);
const end = await serveSession(process.stdin, process.stdout, { zfs: createZfsRunner(process.env), version: VERSION, log });
log(`session ended: ${end}`);
process.exitCode = end === 'protocol-error' ? 1 : 0;
