// One running `zfs send`: its stream as a Readable, a bounded tail of its stderr, and a stop() that
// cannot hang. SPEC §6: "Kill zfs send, close the pipe's read end, then wait": a zfs send blocked
// writing into a full pipe is woken by the signal or, failing that, by the read end closing (EPIPE),
// and a process that ignores SIGTERM gets SIGKILL after a grace period.
// The child gets default signal dispositions (libuv resets them), so a reader that goes away kills
// it with SIGPIPE (send-errors.ts: 'broken-pipe').
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
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
  const tailMax = Math.max(1, options.stderrTailLines ?? 20);
  const grace = options.killGraceMs ?? 5000;
  options.onCommand?.(quoteArgv(['zfs', ...args]));
  const child = spawn(binary, [...args], {
    env: zfsEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const tail: string[] = [];
  let partial = '';
  const push = (line: string): void => {
    tail.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
    if (tail.length > tailMax) tail.shift();
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
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
      child.stdout.destroy();
      await done;
    })();
    return stopping;
  };
  return { stdout: child.stdout, pid: child.pid, stop, done };
}
