// Forwarding one `zfs send` stream as data frames: pulls the source only as fast as the link
// drains (backpressure), counts bytes for progress, and stops at once when the agent's result
// arrives early, the caller cancels, or the agent accepts nothing for the stall timeout, even
// while a read or a write is still pending. Each data frame is handed to the output whole, so
// stopping never leaves half a frame (or a queued one) behind.
import type { Readable } from 'node:stream';
import type { FrameWriter } from '../../shared/protocol/stream-io.ts';
import { isProtocolError } from '../../shared/protocol/errors.ts';
import { MAX_DATA_CHUNK } from '../../shared/protocol/limits.ts';
import { timer } from './timeouts.ts';

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
}

/** Forwards `source` through `writer` until it ends, fails, `stop` settles, `signal` fires, or the agent stalls. */
export async function forwardStream(source: Readable, writer: FrameWriter, stop: Promise<unknown>, options: ForwardOptions): Promise<ForwardOutcome> {
  const outcome: ForwardOutcome = { bytes: 0n, completed: false, sourceError: null, cancelled: false, stopped: false, stalled: false };
  const stopped = stop.then(() => 'stopped' as const, () => 'stopped' as const);
  let onAbort = (): void => {};
  const cancelled = new Promise<'cancelled'>((resolve) => {
    onAbort = () => resolve('cancelled');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  // True (and recorded) when `step` is a reason to stop: a result, a cancel or a stall.
  const interrupted = (step: unknown): boolean => {
    if (step === 'stopped') outcome.stopped = true;
    else if (step === 'cancelled') outcome.cancelled = true;
    else if (step === 'expired') outcome.stalled = true;
    else return false;
    return true;
  };
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  try {
    read: for (;;) {
      const step = await Promise.race([iterator.next(), stopped, cancelled]);
      if (interrupted(step)) break;
      const { done, value } = step as IteratorResult<Buffer | string>;
      if (done) {
        outcome.completed = true;
        break;
      }
      const chunk = typeof value === 'string' ? Buffer.from(value) : value;
      for (let offset = 0; offset < chunk.length; offset += MAX_DATA_CHUNK) {
        const piece = chunk.length <= MAX_DATA_CHUNK ? chunk : chunk.subarray(offset, offset + MAX_DATA_CHUNK);
        const room = writer.writeDataFrame(piece);
        outcome.bytes += BigInt(piece.length);
        options.onProgress?.(outcome.bytes);
        if (room) continue;
        // The output is full: wait for the agent to read, but not past a result, a cancel or a stall.
        const drained = writer.drained().then(() => 'drained' as const);
        drained.catch(() => {});
        const watchdog = options.stallMs === undefined ? null : timer(options.stallMs);
        try {
          const waited = await Promise.race([drained, stopped, cancelled, ...(watchdog ? [watchdog.expired] : [])]);
          if (interrupted(waited)) break read;
        } finally {
          watchdog?.cancel();
        }
      }
    }
  } catch (error) {
    // A broken link is the link's failure (reported by the reader), not the source's.
    if (!isProtocolError(error)) outcome.sourceError = error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  // Stopped short: close our end of the source (for `zfs send`, the pipe's read end).
  if (!outcome.completed) source.destroy();
  return outcome;
}
