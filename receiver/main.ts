// The receiver agent entry, run by the qrexec service qubes.ZfsBackupReceive inside the receiver
// qube (as root, forced by rpc-config). stdin/stdout carry the protocol from dom0; stderr is a log
// that qrexec sends to the qube's journal. On SIGTERM/SIGHUP/SIGINT the input is closed, which ends
// any running receive the same way as dom0 going away: zfs's stdin is closed (an unframed receive's
// zfs gets SIGTERM), ZFS keeps resumable partial state, the agent waits for zfs and exits.
// stdin is read through FdInput, never process.stdin (see fd-input.ts).
import { VERSION } from '../shared/version.ts';
import { serveSession } from './session.ts';
import { createZfsRunner } from './zfs-runner.ts';
import { FdInput, makeStdinBlocking } from './fd-input.ts';

const log = (line: string): void => {
  process.stderr.write(`qubes-zfs-backup-receiver[${process.pid}]: ${line}\n`);
};

const input = new FdInput(0, makeStdinBlocking());
for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    input.close();
  });
}
// A closed stdout shows up as EPIPE on write; the session handles it, nothing may crash on it.
process.stdout.on('error', () => {});

log(`version ${VERSION} started for ${process.env.QREXEC_REMOTE_DOMAIN ?? 'a local caller'}`);
const end = await serveSession(input, process.stdout, { zfs: createZfsRunner(process.env), version: VERSION, log });
log(`session ended: ${end}${input.sawNonBlocking ? ' (stdin was non-blocking: no unframed receives were offered)' : ''}`);
// The session ended stdout; let what is queued reach dom0 (at most 5 s), then exit explicitly: a
// read of stdin abandoned by close() would otherwise keep the process alive.
await new Promise<void>((resolve) => {
  if (process.stdout.writableFinished || process.stdout.destroyed) return resolve();
  setTimeout(resolve, 5000);
  for (const event of ['finish', 'close', 'error']) process.stdout.once(event, () => resolve());
});
process.exit(end === 'protocol-error' ? 1 : 0);
