// The agent's own way of running `zfs` and `zpool`: argv arrays only, LC_ALL=C so messages are the
// canonical English ones, an environment of PATH alone, bounded output. Tests inject a fake with
// the same interface for protocol-order logic; real ZFS behaviour is tested in the VM.
import type { Readable, Writable } from 'node:stream';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { childOutcome } from '../shared/child-output.ts';

/** Largest stdout kept from a listing (a million snapshots is ~100 MB). */
export const MAX_LISTING_BYTES = 256 * 1024 * 1024;

/** Most bytes of a `zfs receive`'s stderr kept (the first lines are what matter). */
export const MAX_RECEIVE_STDERR_BYTES = 64 * 1024;

/** How a finished command ended. exitCode is null when a signal killed it. */
export interface ZfsOutput {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** A running `zfs receive`: write the stream to stdin, end it, then await done. */
export interface ReceiveProcess {
  stdin: Writable;
  done: Promise<ZfsOutput>;
}

/** A running `zfs receive` that reads a descriptor of the agent's own (an unframed stream). */
export interface FdReceiveProcess {
  done: Promise<ZfsOutput>;
  /** SIGTERM: ZFS keeps resumable state of a stream cut short (zfs receive -s). */
  kill(): void;
}

/** A running `zfs send`: read the stream from stdout, then await done; kill() stops it. */
export interface SendProcess {
  stdout: Readable;
  done: Promise<ZfsOutput>;
  kill(): void;
}

/** Everything the agent needs from ZFS. */
export interface AgentZfs {
  /** Runs `zfs ARGS` to completion (never throws for a non-zero exit). */
  zfs(args: string[]): Promise<ZfsOutput>;
  /** Runs `zpool ARGS` to completion (never throws for a non-zero exit). */
  zpool(args: string[]): Promise<ZfsOutput>;
  /** Starts `zfs ARGS` (a receive) with stdin open for the stream. */
  receive(args: string[]): ReceiveProcess;
  /** Starts `zfs ARGS` (a receive) reading descriptor `fd` as its stdin (an unframed stream). */
  receiveFrom?(args: string[], fd: number): FdReceiveProcess;
  /** Starts `zfs ARGS` (a send) with stdout open for the stream (restore --zfs-receive). */
  send?(args: string[]): SendProcess;
  /** The block device of a volume (default /dev/zvol/<name>; tests point it at a file). */
  zvolPath?(dataset: string): string;
}

/** The environment of every zfs call: PATH only, plus LC_ALL=C. */
export function agentZfsEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return { PATH: env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
}

// Children still running; stopped if the agent exits under them (a crash included), so no zfs
// process goes on reading the qrexec channel or the pool after the agent has gone.
const running = new Map<ChildProcess, boolean>();
let exitHookSet = false;

function track(child: ChildProcess, group: boolean): void {
  if (!exitHookSet) {
    exitHookSet = true;
    process.once('exit', () => {
      for (const [c, inGroup] of running) signalChild(c, 'SIGTERM', inGroup);
    });
  }
  running.set(child, group);
  child.once('close', () => running.delete(child));
  child.once('error', () => running.delete(child));
}

/** A signal to the child (or its process group); nothing if it has gone. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already gone.
  }
}

/**
 * The real runner: binaries from QZB_ZFS / QZB_ZPOOL (defaults `zfs`, `zpool`). Plain
 * child_process: every call is a fork of the agent, and in a small qube each one counts.
 */
export function createZfsRunner(env: NodeJS.ProcessEnv = process.env): AgentZfs {
  const zfsBin = env.QZB_ZFS || 'zfs';
  const zpoolBin = env.QZB_ZPOOL || 'zpool';
  const childEnv = agentZfsEnv(env);
  const start = (file: string, args: string[], stdio: StdioOptions, detached = false): ChildProcess => {
    const child = spawn(file, args, { env: childEnv, stdio, detached });
    track(child, detached);
    return child;
  };
  const run = async (file: string, args: string[]): Promise<ZfsOutput> => {
    const r = await childOutcome(start(file, args, ['ignore', 'pipe', 'pipe']), { stdout: MAX_LISTING_BYTES, stderr: MAX_RECEIVE_STDERR_BYTES });
    // A listing this large is refused whole, never parsed cut short.
    if (r.overflow) return { exitCode: null, signal: r.signal, stdout: '', stderr: `${r.stderr}output of more than ${MAX_LISTING_BYTES} bytes refused\n` };
    return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    zfs: (args) => run(zfsBin, args),
    zpool: (args) => run(zpoolBin, args),
    receive(args) {
      const child = start(zfsBin, args, ['pipe', 'ignore', 'pipe']);
      // EPIPE after zfs exits is expected; the session sees the exit through `done`.
      child.stdin!.on('error', () => {});
      return { stdin: child.stdin!, done: exitOf(child) };
    },
    receiveFrom(args, fd) {
      const child = start(zfsBin, args, [fd, 'ignore', 'pipe']);
      return { done: exitOf(child), kill: () => signalChild(child, 'SIGTERM', false) };
    },
    send(args) {
      // Its own process group, so that a kill reaches zfs send and nothing keeps the pipe open.
      const child = start(zfsBin, args, ['ignore', 'pipe', 'pipe'], true);
      return { stdout: child.stdout!, done: exitOf(child), kill: () => signalChild(child, 'SIGTERM', true) };
    },
  };
}

/** How a streaming zfs child (a receive or a send) ended, with the first MAX_RECEIVE_STDERR_BYTES of its stderr. */
async function exitOf(child: ChildProcess): Promise<ZfsOutput> {
  const r = await childOutcome(child, { stderr: MAX_RECEIVE_STDERR_BYTES });
  return { exitCode: r.exitCode, signal: r.signal, stdout: '', stderr: r.stderr };
}

/** The first `max` non-empty lines of a command's stderr. */
export function firstLines(text: string, max: number): string[] {
  return text.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0).slice(0, max);
}
