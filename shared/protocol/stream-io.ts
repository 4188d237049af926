// Frames over Node streams, transport-agnostic: any Readable/Writable pair (qrexec pipes, stdio,
// sockets, PassThrough in tests). Reading is pull-based and writing waits for 'drain', so
// backpressure runs end to end and no stream is ever buffered whole in memory.
import type { Writable } from 'node:stream';
import { FrameDecoder } from './frame-decoder.ts';
import { encodeFrame, encodeFrameHeader, FrameType, type Frame } from './frame.ts';
import { MAX_DATA_CHUNK } from './limits.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/**
 * Yields each frame of `input` as it arrives; throws a ProtocolError on bad framing or a cut-off
 * frame. A data frame split across input chunks comes out as consecutive DATA pieces (no copy).
 */
export async function* readFrames(input: AsyncIterable<Buffer | string>): AsyncGenerator<Frame, void, undefined> {
  const decoder = new FrameDecoder({ splitData: true });
  for await (const chunk of input) {
    const frames = decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    for (const frame of frames) yield frame;
  }
  decoder.end();
}

/** Writes frames to `output`, waiting for 'drain' when its buffer is full; fails once it closes. */
export class FrameWriter {
  private closed: Error | null = null;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(private readonly output: Writable) {
    const fail = (error?: Error): void => {
      this.closed ??= new ProtocolError(ProtocolErrorCode.PEER_CLOSED, `the connection closed${error ? `: ${error.message}` : ''}`, { cause: error });
      for (const w of this.waiters.splice(0)) w.reject(this.closed);
    };
    output.on('error', fail);
    output.on('close', () => fail());
    output.on('drain', () => {
      for (const w of this.waiters.splice(0)) w.resolve();
    });
  }

  /** True once the output has failed or closed. */
  get isClosed(): boolean {
    return this.closed !== null || this.output.destroyed || this.output.writableEnded;
  }

  /** Writes one already-encoded frame (control, END, ABORT). */
  async writeFrame(frame: Buffer): Promise<void> {
    this.check();
    if (!this.output.write(frame)) await this.drained();
  }

  /** Writes `chunk` as one or more data frames (each at most MAX_DATA_CHUNK bytes). */
  async writeData(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += MAX_DATA_CHUNK) {
      const piece = offset === 0 && chunk.length <= MAX_DATA_CHUNK ? chunk : chunk.subarray(offset, offset + MAX_DATA_CHUNK);
      this.check();
      this.output.cork();
      this.output.write(encodeFrameHeader(FrameType.DATA, piece.length));
      const ok = this.output.write(piece);
      this.output.uncork();
      if (!ok) await this.drained();
    }
  }

  /**
   * Writes `piece` (1..MAX_DATA_CHUNK bytes) as one data frame at once. Returns false when the
   * output is full: await drained() before the next. Nothing stays queued in this writer, so a
   * caller that stops waiting (cancel, stall, an early result) leaves no frame half-sent.
   */
  writeDataFrame(piece: Buffer): boolean {
    this.check();
    this.output.cork();
    this.output.write(encodeFrameHeader(FrameType.DATA, piece.length));
    const ok = this.output.write(piece);
    this.output.uncork();
    return ok;
  }

  /** Writes an END frame: the current data stream is complete. */
  writeEnd(): Promise<void> {
    return this.writeFrame(encodeFrame(FrameType.END));
  }

  /** Writes an ABORT frame: the current data stream stops short. */
  writeAbort(): Promise<void> {
    return this.writeFrame(encodeFrame(FrameType.ABORT));
  }

  /** Ends the output (EOF for the peer). */
  end(): void {
    if (!this.output.writableEnded && !this.output.destroyed) this.output.end();
  }

  private check(): void {
    if (this.closed) throw this.closed;
    if (this.output.destroyed || this.output.writableEnded) {
      throw new ProtocolError(ProtocolErrorCode.PEER_CLOSED, 'the connection is closed');
    }
  }

  /** Resolves at the output's next 'drain'; rejects once it has closed. */
  drained(): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}
