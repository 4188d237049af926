// One running `zfs receive` in dom0 (restore --zfs-receive only): stdin takes the stream, `done`
// resolves with the exit and a bounded stderr. It runs in its own process group, so a terminal's
// Ctrl-C reaches only the CLI, which then ends the stream in order (with -s, ZFS keeps resumable
// partial state).
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { quoteArgv, zfsBinary, zfsEnv } from './runner.ts';

/** How a receive ended. */
export interface ZfsReceiveExit {
  exitCode: number | null;
  signal: string | null;
  stderr: string;
}

export interface ZfsReceiveProcess {
  stdin: Writable;
  /** Resolves (never rejects) once the process has exited. */
  done: Promise<ZfsReceiveExit>;
}

const MAX_STDERR = 16 * 1024;

/** Starts `zfs <args>` (a receive) with stdin as a pipe and the allow-listed environment of runner.ts. */
export function startZfsReceive(args: readonly string[], options: { onCommand?: (line: string) => void } = {}): ZfsReceiveProcess {
  options.onCommand?.(`<stream> | ${quoteArgv(['zfs', ...args])}`);
  const child = spawn(zfsBinary(), [...args], { env: zfsEnv(), stdio: ['pipe', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (t: string) => {
    if (stderr.length < MAX_STDERR) stderr += t.slice(0, MAX_STDERR - stderr.length);
  });
  // EPIPE when zfs exits before the stream ends: `done` says why.
  child.stdin.on('error', () => {});
  const done = new Promise<ZfsReceiveExit>((resolve) => {
    child.once('error', (e) => resolve({ exitCode: null, signal: null, stderr: stderr || e.message }));
    child.once('close', (code, signal) => resolve({ exitCode: code, signal, stderr }));
  });
  return { stdin: child.stdin, done };
}
