// Forwarding one `zfs send` stream as data frames: pulls the source only as fast as the link
// drains (backpressure), counts bytes for progress, and stops at once when the agent's result
// arrives early or the caller cancels, even while a read or a write is still pending.
import type { Readable } from 'node:stream';
import type { FrameWriter } from '../../shared/protocol/stream-io.ts';
import { isProtocolError } from '../../shared/protocol/errors.ts';

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
}

/** Forwards `source` through `writer` until it ends, fails, `stop` settles, or `signal` fires. */
export async function forwardStream(
  source: Readable,
  writer: FrameWriter,
  stop: Promise<unknown>,
  options: { signal?: AbortSignal; onProgress?: (bytes: bigint) => void },
): Promise<ForwardOutcome> {
  const outcome: ForwardOutcome = { bytes: 0n, completed: false, sourceError: null, cancelled: false };
  const stopped = stop.then(() => 'stopped' as const, () => 'stopped' as const);
  let onAbort = (): void => {};
  const cancelled = new Promise<'cancelled'>((resolve) => {
    onAbort = () => resolve('cancelled');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  try {
    for (;;) {
      const step = await Promise.race([iterator.next(), stopped, cancelled]);
      if (step === 'stopped') break;
      if (step === 'cancelled') {
        outcome.cancelled = true;
        break;
      }
      if (step.done) {
        outcome.completed = true;
        break;
      }
      const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : step.value;
      if (chunk.length === 0) continue;
      if ((await Promise.race([writer.writeData(chunk), cancelled])) === 'cancelled') {
        outcome.cancelled = true;
        break;
      }
      outcome.bytes += BigInt(chunk.length);
      options.onProgress?.(outcome.bytes);
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
