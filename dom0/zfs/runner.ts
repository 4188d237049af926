// The one place dom0 runs `zfs`/`zpool`: argv arrays only, LC_ALL=C so ZFS's messages are the
// canonical English ones our matchers know, an allow-listed environment, bounded output, and one
// typed error carrying argv, exit code and the first lines of stderr.
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { QzbError } from '../../shared/errors.ts';
import { quoteArgv } from '../../shared/shell.ts';
import { childOutcome, type ChildOutcome } from '../../shared/child-output.ts';

/** Largest stdout we buffer from a listing command (a 250k-snapshot `zfs list` is ~40 MB). */
export const MAX_ZFS_OUTPUT_BYTES = 512 * 1024 * 1024;

export interface ZfsRunOptions {
  /** Write the command as a copy-pasteable line before running it (--verbose). */
  onCommand?: (line: string) => void;
  /** Exit codes that are not errors (the caller inspects stderr). */
  allowExitCodes?: number[];
  /**
   * A call off the critical path (send's bookmark of the previous step while the next streams):
   * started at the lowest CPU priority, so it takes the CPU the step's own zfs send and receive do
   * not use. On a busy 2-core test VM the step then ran ~7% faster; a sync task waits in the kernel
   * either way.
   */
  background?: boolean;
}

export interface ZfsResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class ZfsCommandError extends QzbError {
  constructor(
    readonly argv: string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    const first = stderr.trim().split('\n').slice(0, 3).join(' / ');
    super('ZFS_COMMAND_FAILED', `${quoteArgv(argv)} failed (exit ${exitCode}): ${first || 'no message'}`);
  }
}

/** The zfs and zpool binaries; QZB_ZFS / QZB_ZPOOL override them (the test harness's views). */
export function zfsBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.QZB_ZFS || 'zfs';
}
export function zpoolBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.QZB_ZPOOL || 'zpool';
}

/** Environment for every zfs call: only PATH, plus LC_ALL=C. */
export function zfsEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
}

/** Most stderr bytes kept from a command (its first lines make the message). */
export const MAX_ZFS_STDERR_BYTES = 64 * 1024;

/** The nice value of a `background` call (the lowest CPU priority). */
export const BACKGROUND_NICE = 19;

// Plain child_process (each call is a fork of this process; the per-call cost counts where a
// send makes one bookmark per step).
function execute(binary: string, args: string[], background = false): Promise<ChildOutcome> {
  const child = spawn(binary, args, { env: zfsEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  if (background && child.pid !== undefined) {
    try {
      setPriority(child.pid, BACKGROUND_NICE);
    } catch {
      // (It ended already, or the system refused: it runs at normal priority, which is only slower.)
    }
  }
  return childOutcome(child, { stdout: MAX_ZFS_OUTPUT_BYTES, stderr: MAX_ZFS_STDERR_BYTES });
}

export async function runZfs(args: string[], options: ZfsRunOptions = {}, binary = zfsBinary()): Promise<ZfsResult> {
  const argv = [binary, ...args];
  options.onCommand?.(quoteArgv(['zfs', ...args]));
  const r = await execute(binary, args, options.background);
  const spawnCode = r.spawnError?.code;
  if (spawnCode === 'ENOENT' || spawnCode === 'EACCES') {
    // The program itself could not be started: say so, rather than "failed (exit 1): no message".
    throw new QzbError('ZFS_NOT_FOUND', `cannot run ${binary}: ${spawnCode === 'ENOENT' ? 'no such program on PATH' : 'permission denied'}`, {
      hint: 'Run this tool as root in dom0, with ZFS installed there (the zfs command on PATH).',
    });
  }
  if (r.overflow) throw new ZfsCommandError(argv, 1, `output of more than ${MAX_ZFS_OUTPUT_BYTES} bytes refused`);
  // A signal (null) or a spawn failure other than the two above counts as exit 1.
  const exitCode = r.exitCode ?? 1;
  if (exitCode !== 0 && !(options.allowExitCodes ?? []).includes(exitCode)) {
    throw new ZfsCommandError(argv, exitCode, r.stderr);
  }
  return { stdout: r.stdout, stderr: r.stderr, exitCode };
}

/** A shell-safe rendering of argv for --verbose and error messages (shared/shell.ts). */
export { quoteArgv };
