// Writing a restore's bytes into a child's stdin (Qubes' import script, dom0's zfs receive) with
// backpressure: each write resolves once the pipe takes it, and rejects with `stopped()` as soon as
// the child is gone (its stdin closed, or `finished` settled), so a stream never waits on a reader
// that left.
import type { Writable } from 'node:stream';

/** A write function for `stdin`; `finished` settles when the child exits. */
export function pipeWriter(stdin: Writable, finished: Promise<unknown>, stopped: () => Error): (chunk: Buffer) => Promise<void> {
  let ended = false;
  void finished.then(() => (ended = true), () => (ended = true));
  return (chunk) => new Promise((resolve, reject) => {
    if (ended || stdin.destroyed || stdin.writableEnded) return reject(stopped());
    if (stdin.write(chunk)) return resolve();
    const finish = (error: Error | null): void => {
      stdin.off('drain', onDrain);
      stdin.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => finish(null);
    const onClose = (): void => finish(stopped());
    stdin.on('drain', onDrain);
    stdin.on('close', onClose);
    void finished.then(() => finish(stopped()), () => finish(stopped()));
  });
}
