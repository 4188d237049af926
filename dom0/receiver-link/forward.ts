// Forwarding one `zfs send` stream as data frames: pulls the source only as fast as the link
// drains (backpressure), counts bytes for progress, and stops at once when the agent's result
// arrives early, the caller cancels, or the agent accepts nothing for the stall timeout, even
// while a read or a write is still pending. Each data frame is handed to the output whole, so
// stopping never leaves half a frame (or a queued one) behind.
// Event-driven ('data' + pause/resume), not an async iterator with a race per chunk: under the
// test VM's emulated CPU the iterator's per-chunk promises and read() cost the CLI ~3x the CPU of
// the bytes themselves (measured: test/bench/send.bench.ts).
import type { Readable } from 'node:stream';
import type { FrameWriter } from '../../shared/protocol/stream-io.ts';
import { isProtocolError } from '../../shared/protocol/errors.ts';
import { MAX_DATA_CHUNK } from '../../shared/protocol/limits.ts';

/** How forwarding ended. */
export interface ForwardOutcome {
  /** Stream bytes written to the link. */
  bytes: bigint;
  /** The source ended normally (END is due); false when it stopped short (ABORT is due). */
  completed: boolean;
  /** The source failed (e.g. `zfs send` broke its pipe); null otherwise. */
  sourceError: unknown;
  /** The caller's signal fired. */
  cancelled: boolean;
  /** The agent's result (or the link's failure) arrived before the source ended. */
  stopped: boolean;
  /** The agent accepted no data for `stallMs` while a frame waited. */
  stalled: boolean;
}

/** Options of forwardStream(). */
export interface ForwardOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: bigint) => void;
  /** Longest wait for the link to drain (the agent to accept data); unlimited when absent. */
  stallMs?: number;
  /** Write the stream as it is (an unframed receive), not as data frames. */
  raw?: boolean;
}

type Ending = 'completed' | 'stopped' | 'cancelled' | 'stalled' | { error: unknown };

/** Forwards `source` through `writer` until it ends, fails, `stop` settles, `signal` fires, or the agent stalls. */
export function forwardStream(source: Readable, writer: FrameWriter, stop: Promise<unknown>, options: ForwardOptions): Promise<ForwardOutcome> {
  const outcome: ForwardOutcome = { bytes: 0n, completed: false, sourceError: null, cancelled: false, stopped: false, stalled: false };
  // Bytes as a number on the hot path (2^53 is 8 PiB), a bigint for the caller.
  let bytes = 0;
  return new Promise<ForwardOutcome>((resolve) => {
    let ended = false;
    // At most one stall timer, armed while a frame waits for the link to drain; always cleared
    // (a forgotten one kept the CLI alive for the whole stall timeout after an interrupted send).
    let stall: NodeJS.Timeout | null = null;
    const disarm = (): void => {
      if (stall !== null) clearTimeout(stall);
      stall = null;
    };
    const end = (how: Ending): void => {
      if (ended) return;
      ended = true;
      disarm();
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      outcome.bytes = BigInt(bytes);
      if (how === 'completed') outcome.completed = true;
      else if (how === 'stopped') outcome.stopped = true;
      else if (how === 'cancelled') outcome.cancelled = true;
      else if (how === 'stalled') outcome.stalled = true;
      // A broken link is the link's failure (reported by the reader), not the source's.
      else if (!isProtocolError(how.error)) outcome.sourceError = how.error;
      // Stopped short: close our end of the source (for `zfs send`, the pipe's read end).
      if (!outcome.completed) source.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => end('cancelled');
    const onEnd = (): void => end('completed');
    // Registered so a failing source never throws; only the first failure counts.
    const onError = (error: unknown): void => end({ error });
    const onData = (value: Buffer | string): void => {
      if (ended) return;
      const chunk = typeof value === 'string' ? Buffer.from(value) : value;
      let room = true;
      try {
        if (options.raw) {
          room = writer.writeRaw(chunk);
          bytes += chunk.length;
        } else for (let offset = 0; offset < chunk.length; offset += MAX_DATA_CHUNK) {
          const piece = chunk.length <= MAX_DATA_CHUNK ? chunk : chunk.subarray(offset, offset + MAX_DATA_CHUNK);
          room = writer.writeDataFrame(piece) && room;
          bytes += piece.length;
        }
      } catch (error) {
        end({ error });
        return;
      }
      options.onProgress?.(BigInt(bytes));
      if (room) return;
      // The output is full: wait for the agent to read, but not past a result, a cancel or a stall.
      source.pause();
      if (options.stallMs !== undefined && stall === null) stall = setTimeout(() => end('stalled'), options.stallMs);
      writer.drained().then(
        () => {
          disarm();
          if (!ended) source.resume();
        },
        (error: unknown) => end({ error }),
      );
    };
    stop.then(() => end('stopped'), () => end('stopped'));
    if (options.signal?.aborted) return end('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    source.on('error', onError);
    source.on('end', onEnd);
    source.on('data', onData);
    source.resume();
  });
}

/** A process writing a stream into the link itself (zfs send with the link as its stdout). */
export interface DirectSource {
  /** Stream bytes written so far. */
  written(): bigint;
  /** Kills it and waits until it is gone. */
  stop(): Promise<void>;
  /** Its exit: whether it succeeded (zfs send exited 0), and the stream bytes it wrote in all. */
  done: Promise<{ ok: boolean; bytes: bigint }>;
}

/** How often a direct source's count is read (progress, and the stall watchdog). */
export const DIRECT_POLL_MS = 250;

/**
 * Watches a direct source as forwardStream() forwards one: progress from its count, and it is
 * stopped (killed, then waited for) when `stop` settles, `signal` fires, or its count stays still
 * for `stallMs` (the receiver stopped reading). `completed` means it exited by itself; the caller
 * reads success from `ok`.
 */
export async function watchDirect(source: DirectSource, stop: Promise<unknown>, options: ForwardOptions): Promise<ForwardOutcome & { ok: boolean }> {
  const outcome: ForwardOutcome & { ok: boolean } = { bytes: 0n, completed: false, sourceError: null, cancelled: false, stopped: false, stalled: false, ok: false };
  let ended: Ending | null = null;
  let poll: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  const endWith = (how: Ending): void => {
    ended ??= how;
    wake?.();
  };
  const onAbort = (): void => endWith('cancelled');
  let seen = 0n;
  let stillSince = Date.now();
  const tick = (): void => {
    const now = source.written();
    if (now !== seen) {
      seen = now;
      stillSince = Date.now();
      options.onProgress?.(now);
    } else if (options.stallMs !== undefined && Date.now() - stillSince >= options.stallMs) endWith('stalled');
  };
  try {
    if (options.signal?.aborted) endWith('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    stop.then(() => endWith('stopped'), () => endWith('stopped'));
    poll = setInterval(tick, DIRECT_POLL_MS);
    const exit = source.done.then((d) => {
      endWith('completed');
      return d;
    });
    if (ended === null) await new Promise<void>((resolve) => { wake = resolve; });
    if (ended !== 'completed') await source.stop();
    const d = await exit;
    outcome.bytes = d.bytes;
    outcome.ok = d.ok;
    if (d.bytes !== seen) options.onProgress?.(d.bytes);
  } finally {
    if (poll !== null) clearInterval(poll);
    options.signal?.removeEventListener('abort', onAbort);
  }
  const how = ended as Ending | null;
  if (how === 'completed') outcome.completed = true;
  else if (how === 'stopped') outcome.stopped = true;
  else if (how === 'cancelled') outcome.cancelled = true;
  else if (how === 'stalled') outcome.stalled = true;
  return outcome;
}
