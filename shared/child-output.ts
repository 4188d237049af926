// How a child process ended, with its output kept within limits: the one collector behind dom0's
// runZfs and the agent's zfs runner. Output is kept as bytes and decoded once (a character split
// across reads comes out whole); stdout beyond its limit kills the child (a listing is refused
// whole, never parsed cut short); stderr beyond its limit is dropped (the first lines are what
// matter in a message).
import type { ChildProcess } from 'node:child_process';

export interface OutputLimits {
  /** Most stdout bytes kept; more kills the child (SIGKILL). Omit when stdout is not a pipe to keep. */
  stdout?: number;
  /** Most stderr bytes kept; the rest is read and dropped. */
  stderr: number;
}

export interface ChildOutcome {
  /** Null when a signal ended it or it never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** What the child wrote to stderr; for a child that could not start, the reason (spawn's error message). */
  stderr: string;
  /** Stdout passed its limit: the child was killed and `stdout` is empty. */
  overflow: boolean;
  /** The child could not be started (spawn's error, e.g. ENOENT). */
  spawnError: NodeJS.ErrnoException | null;
}

/** Collects a just-spawned child's output and resolves when it has ended. */
export function childOutcome(child: ChildProcess, limits: OutputLimits): Promise<ChildOutcome> {
  const out = limits.stdout === undefined ? null : keepBounded(limits.stdout);
  const err = keepBounded(limits.stderr);
  let overflow = false;
  if (out && child.stdout) {
    child.stdout.on('data', (chunk: Buffer) => {
      if (overflow) return;
      if (!out.push(chunk)) {
        overflow = true;
        child.kill('SIGKILL');
      }
    });
  }
  child.stderr?.on('data', (chunk: Buffer) => void err.push(chunk));
  return new Promise((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      resolve({ exitCode: null, signal: null, stdout: '', stderr: err.text() || e.message, overflow: false, spawnError: e }));
    child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) =>
      resolve({ exitCode, signal, stdout: overflow || !out ? '' : out.text(), stderr: err.text(), overflow, spawnError: null }));
  });
}

/** A byte buffer of at most `limit` bytes; push() says whether the chunk fitted whole. */
function keepBounded(limit: number): { push(chunk: Buffer): boolean; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      const room = limit - size;
      if (room <= 0) return chunk.length === 0;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(kept);
      size += kept.length;
      return kept.length === chunk.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}
