// One running `zfs send`: its stream as a Readable, a bounded tail of its stderr, and a stop() that
// cannot hang. SPEC §6: "Kill zfs send, close the pipe's read end, then wait": a zfs send blocked
// writing into a full pipe is woken by the signal or, failing that, by the read end closing (EPIPE),
// and a process that ignores SIGTERM gets SIGKILL after a grace period.
// The child gets default signal dispositions (libuv resets them), so a reader that goes away kills
// it with SIGPIPE (send-errors.ts: 'broken-pipe').
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { handshakeIn, reapedWchar, wcharAt } from './proc-io.ts';
import { quoteArgv, zfsBinary, zfsEnv } from './runner.ts';

export interface ZfsSendOptions {
  /** Write the command as a copy-pasteable line before starting it (--verbose). */
  onCommand?: (line: string) => void;
  /** The binary; default zfsBinary() ($QZB_ZFS or `zfs`). */
  binary?: string;
  /** Lines of stderr kept (the last ones); default 20. */
  stderrTailLines?: number;
  /** Time between SIGTERM and SIGKILL in stop(); default 5000 ms. */
  killGraceMs?: number;
  /** Run in its own process group, so a terminal's Ctrl-C reaches only the CLI (which then stops
   *  the send in order). Default false: Ctrl-C also kills zfs send directly (signal SIGINT). */
  detached?: boolean;
}

/** How the process ended. */
export interface ZfsSendExit {
  exitCode: number | null;
  signal: string | null;
  /** The last stderrTailLines lines of stderr (each cut at 1000 characters). */
  stderrTail: string[];
  /** The process could not be started (e.g. ENOENT): the message; exitCode and signal are null. */
  spawnError?: string;
}

export interface ZfsSendProcess {
  /** The send stream. Consume it (or pipe it); stop() destroys it. */
  stdout: Readable;
  pid: number | undefined;
  /** SIGTERM, then SIGKILL after the grace period; destroys stdout; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Resolves (never rejects) once the process has exited and its stderr is drained. */
  done: Promise<ZfsSendExit>;
}

const MAX_LINE = 1000;

// Starts `zfs <args>` (args from send-args.ts / resume-token.ts) with stdout as a pipe, stdin
// /dev/null and the allow-listed environment of runner.ts.
export function startZfsSend(args: readonly string[], options: ZfsSendOptions = {}): ZfsSendProcess {
  const binary = options.binary ?? zfsBinary();
  options.onCommand?.(quoteArgv(['zfs', ...args]));
  const child = spawn(binary, [...args], {
    env: zfsEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const watched = watch(child, options, () => child.stdout.destroy());
  return { stdout: child.stdout, pid: child.pid, ...watched };
}

/** A `zfs send` writing into the receiver link itself (startZfsSendInto). */
export interface ZfsSendIntoProcess {
  pid: number | undefined;
  /** Stream bytes written so far, by the kernel's count (0 until it can be read). */
  written(): bigint;
  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Resolves (never rejects) once the process has exited, with the stream bytes it wrote in all. */
  done: Promise<ZfsSendExit & { bytes: bigint }>;
}

/**
 * Starts `zfs <args>` with `output` (a descriptor of the qrexec call's stdin pipe, or that stream)
 * as its stdout, so the stream goes into the link without passing through this process. Under
 * `setpriv --pdeathsig KILL` (`setpriv`: the path of util-linux's setpriv): if this process dies, even by SIGKILL, the kernel
 * kills zfs send too, as the closed read end of a pipe did when dom0 forwarded every byte, so no
 * stream goes on into the receiver after the CLI is gone. Bytes are the kernel's counts (proc-io.ts).
 */
export function startZfsSendInto(args: readonly string[], output: Writable | number, setpriv: string, options: ZfsSendOptions = {}): ZfsSendIntoProcess {
  const binary = options.binary ?? zfsBinary();
  options.onCommand?.(quoteArgv(['zfs', ...args]));
  const reapedBefore = reapedWchar();
  const child = spawn(setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args], {
    env: zfsEnv(),
    stdio: ['ignore', output, 'pipe'],
    detached: options.detached ?? false,
  });
  // spawn() returns once the child has exec'd (libuv waits for it): what it wrote by now is libuv's
  // own handshake, and on a loaded machine perhaps zfs send's first bytes too (handshakeIn).
  const pid = child.pid;
  const handshake = pid === undefined ? 0n : handshakeIn(wcharAt(`${pid}`));
  let last = 0n;
  const written = (): bigint => {
    if (pid === undefined) return last;
    const now = wcharAt(`${pid}`);
    if (now !== null && now - handshake > last) last = now - handshake;
    return last;
  };
  const watched = watch(child, options, () => {});
  // Read in the 'exit' handler, right after the reap added the child's counts to this process's.
  const reapedAfter = new Promise<bigint | null>((resolve) => {
    child.once('exit', () => resolve(reapedWchar()));
    child.once('error', () => resolve(null));
  });
  const done = watched.done.then(async (exit) => {
    const after = await reapedAfter;
    // The exact count of a complete stream. Of a cut one (killed, or a receiver gone), the last one
    // read: another child reaped meanwhile (the qrexec call, when the receiver died) would add its
    // own writes to the difference. Never less than a count already seen.
    const total = exit.exitCode === 0 && after !== null && reapedBefore !== null ? after - reapedBefore - handshake : null;
    return { ...exit, bytes: total !== null && total > last ? total : written() };
  });
  return { pid, written, stop: watched.stop, done };
}

/**
 * util-linux's `setpriv` (in dom0's base system), which startZfsSendInto needs; null where there is
 * none on PATH. QZB_SETPRIV overrides the search (tests; 'none' disables it).
 */
export function findSetpriv(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.QZB_SETPRIV) return env.QZB_SETPRIV === 'none' ? null : env.QZB_SETPRIV;
  for (const dir of (zfsEnv(env).PATH ?? '').split(':')) {
    if (!dir.startsWith('/')) continue;
    const path = `${dir}/setpriv`;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not here */
    }
  }
  return null;
}

// The stderr tail, the exit and a stop() that cannot hang, for a started zfs send.
function watch(child: ChildProcess, options: ZfsSendOptions, closeOutput: () => void): { stop: () => Promise<void>; done: Promise<ZfsSendExit> } {
  const tailMax = Math.max(1, options.stderrTailLines ?? 20);
  const grace = options.killGraceMs ?? 5000;
  const tail: string[] = [];
  let partial = '';
  const push = (line: string): void => {
    tail.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
    if (tail.length > tailMax) tail.shift();
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    if (partial.length > MAX_LINE) partial = partial.slice(0, MAX_LINE);
    for (const p of parts) push(p);
  });
  let exited = false;
  let killTimer: NodeJS.Timeout | undefined;
  const done = new Promise<ZfsSendExit>((resolve) => {
    let spawnError: string | undefined;
    child.on('error', (e) => {
      // Spawn failure ('close' follows) or a failed kill (ignored: the process is gone or going).
      if (child.pid === undefined) spawnError = e.message;
    });
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code, signal) => {
      exited = true;
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (partial.length > 0) push(partial);
      // On a spawn failure node reports the negative errno as the code: not an exit status.
      const out: ZfsSendExit = { exitCode: spawnError === undefined ? code : null, signal, stderrTail: [...tail] };
      if (spawnError !== undefined) out.spawnError = spawnError;
      resolve(out);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited && child.pid !== undefined) {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, grace);
      }
      closeOutput();
      await done;
    })();
    return stopping;
  };
  return { stop, done };
}
