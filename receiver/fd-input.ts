// The agent's input, read straight from a file descriptor (fd 0, the qrexec channel from dom0) one
// chunk at a time and only when the session asks for one. Never a Node stream over it: a
// net.Socket keeps a read pending on the descriptor (and sets it non-blocking), so it could not be
// handed to `zfs receive` for an unframed stream without both reading from it at once.
import { read } from 'node:fs';

/** Bytes asked for per read (each read gets a buffer of its own: frames keep slices of it). */
const CHUNK_BYTES = 256 * 1024;

/** Reads below this size are copied out, so a small frame does not keep a whole chunk alive. */
const COPY_BELOW = 4096;

/**
 * Puts the agent's stdin back into blocking mode; false if that could not be done. Node creates
 * process.stdin as soon as any module imports 'node:process' (Node enumerates the builtin's
 * exports; a bundled dependency may, and this function does), and creating it over a pipe or
 * socket makes the descriptor non-blocking.
 * That stream is never read; but our reads would meet EAGAIN, and an unframed `zfs receive`
 * would fail on it. (`_handle.setBlocking` is libuv's uv_stream_set_blocking, in Node 18 to 22.)
 */
export function makeStdinBlocking(): boolean {
  const handle = (process.stdin as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
  return typeof handle?.setBlocking === 'function' && handle.setBlocking(true) === 0;
}

/** Chunks of one descriptor, pulled on demand; close() ends them at once (a signal). */
export class FdInput implements AsyncIterable<Buffer> {
  private readonly closer = new AbortController();
  /** Aborted at EOF, on a read error, or by close(). */
  readonly closed: AbortSignal = this.closer.signal;
  /** The descriptor answered EAGAIN once: it is non-blocking, and no other reader could share it. */
  sawNonBlocking = false;
  private eof = false;

  /** `blocking`: the descriptor is known to be in blocking mode (an unframed receive needs that). */
  constructor(readonly fd: number, readonly blocking = false) {}

  /**
   * Ends the input (a signal): a pending read is abandoned, and the session sees a premature close
   * (as for a destroyed stream), not a clean EOF.
   */
  close(): void {
    this.closer.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    while (!this.eof) {
      if (this.closed.aborted) throw prematureClose();
      const chunk = await this.readOnce();
      if (chunk === null) {
        this.closer.abort();
        return;
      }
      yield chunk;
    }
  }

  private readOnce(): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(prematureClose());
      this.closed.addEventListener('abort', onClose, { once: true });
      const attempt = (): void => {
        const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
        read(this.fd, buffer, 0, CHUNK_BYTES, null, (error, n) => {
          if (this.closed.aborted) return reject(prematureClose());
          if (error && (error as NodeJS.ErrnoException).code === 'EAGAIN') {
            // Only when makeStdinBlocking() failed; survivable for frames (unframed is not offered).
            this.sawNonBlocking = true;
            setTimeout(attempt, 5);
            return;
          }
          this.closed.removeEventListener('abort', onClose);
          if (error) {
            this.closer.abort();
            return reject(error);
          }
          if (n === 0) {
            this.eof = true;
            return resolve(null);
          }
          resolve(n < COPY_BELOW ? Buffer.from(buffer.subarray(0, n)) : buffer.subarray(0, n));
        });
      };
      attempt();
    });
  }
}

/** What a destroyed stream's iterator reports; the session treats it as dom0 having gone. */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
