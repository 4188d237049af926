// Frames over Node streams, transport-agnostic: any Readable/Writable pair (qrexec pipes, stdio,
// sockets, PassThrough in tests). Reading is pull-based and writing waits for 'drain', so
// backpressure runs end to end and no stream is ever buffered whole in memory.
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from './frame-decoder.ts';
import { encodeFrame, encodeFrameHeader, FrameType, type Frame } from './frame.ts';
import { MAX_DATA_CHUNK } from './limits.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** What readFrames() returns; return() stops reading and destroys the input, as a stream's async iterator does. */
export interface FrameReader extends AsyncIterableIterator<Frame> {
  return(value?: unknown): Promise<IteratorResult<Frame>>;
  /**
   * True when nothing past the frames handed out so far has been read from the input, and no read
   * is pending: the input may then be handed to another reader (an unframed receive). Only a reader
   * over an AsyncIterable (read a chunk at a time, on demand) can say so; a Readable's never does.
   */
  idle(): boolean;
}

/** Payload bytes of decoded frames held before the input is paused (backpressure to the peer). */
const QUEUE_HIGH_BYTES = 256 * 1024;

/**
 * Yields each frame of `input` as it arrives; throws a ProtocolError on bad framing or a cut-off
 * frame. A data frame split across input chunks comes out as consecutive DATA pieces (no copy).
 * A Readable is read through 'data' events, paused while more than QUEUE_HIGH_BYTES wait, not
 * through its async iterator: under the test VM's emulated CPU the iterator's read() and promise
 * chain per chunk cost the agent more CPU than moving the bytes (test/bench/send.bench.ts). Any
 * other AsyncIterable is pulled a chunk at a time, only when a frame is wanted and none is decoded.
 */
export function readFrames(input: AsyncIterable<Buffer | string>): FrameReader {
  return isReadable(input) ? new FrameQueue(input) : new FramePuller(input);
}

/** Frames of an AsyncIterable, pulled on demand: nothing is read ahead of what next() needs. */
class FramePuller implements FrameReader {
  private readonly decoder = new FrameDecoder({ splitData: true });
  private readonly source: AsyncIterator<Buffer | string>;
  private frames: Frame[] = [];
  private head = 0;
  private pulling = false;
  private done = false;

  constructor(input: AsyncIterable<Buffer | string>) {
    this.source = input[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this;
  }

  async next(): Promise<IteratorResult<Frame>> {
    while (this.head >= this.frames.length) {
      if (this.done) return { done: true, value: undefined };
      this.pulling = true;
      let step: IteratorResult<Buffer | string>;
      try {
        step = await this.source.next();
      } finally {
        this.pulling = false;
      }
      if (step.done) {
        this.done = true;
        this.decoder.end();
        return { done: true, value: undefined };
      }
      this.frames = this.decoder.push(typeof step.value === 'string' ? Buffer.from(step.value) : step.value);
      this.head = 0;
    }
    return { done: false, value: this.frames[this.head++]! };
  }

  return(): Promise<IteratorResult<Frame>> {
    this.done = true;
    this.frames = [];
    this.head = 0;
    // Not awaited: with a read still pending, the source's return() would wait for that read.
    this.source.return?.()?.catch(() => {});
    return Promise.resolve({ done: true, value: undefined });
  }

  idle(): boolean {
    return !this.pulling && this.head >= this.frames.length && this.decoder.idle;
  }
}

const ignore = (): void => {};

function isReadable(input: unknown): input is Readable {
  const r = input as Partial<Readable>;
  return typeof r.on === 'function' && typeof r.pause === 'function' && typeof r.resume === 'function';
}

/** Frames of a Readable, decoded as its chunks arrive and handed out one next() at a time. */
class FrameQueue implements FrameReader {
  private readonly decoder = new FrameDecoder({ splitData: true });
  private readonly frames: Frame[] = [];
  private head = 0;
  private queuedBytes = 0;
  private ended = false;
  private failure: unknown = null;
  private waiter: { resolve: (r: IteratorResult<Frame>) => void; reject: (e: unknown) => void } | null = null;
  private readonly onData = (chunk: Buffer | string): void => {
    try {
      for (const f of this.decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
        this.frames.push(f);
        this.queuedBytes += f.payload.length;
      }
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.queuedBytes > QUEUE_HIGH_BYTES) this.input.pause();
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.detach();
    this.wake();
  };
  private readonly onError = (error: unknown): void => this.fail(error);
  // Closed without 'end' (destroyed): what the stream's async iterator reports as a premature close.
  private readonly onClose = (): void => {
    if (!this.ended) this.fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  };

  constructor(private readonly input: Readable) {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.onError);
    input.on('close', this.onClose);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this;
  }

  idle(): boolean {
    return false;
  }

  next(): Promise<IteratorResult<Frame>> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.wake();
    });
  }

  return(): Promise<IteratorResult<Frame>> {
    this.detach();
    this.frames.length = 0;
    this.head = 0;
    this.ended = true;
    this.input.destroy();
    return Promise.resolve({ done: true, value: undefined });
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.head < this.frames.length) {
      const frame = this.frames[this.head++]!;
      this.queuedBytes -= frame.payload.length;
      if (this.head === this.frames.length) {
        this.frames.length = 0;
        this.head = 0;
      }
      this.waiter = null;
      if (this.queuedBytes <= QUEUE_HIGH_BYTES && !this.ended && this.failure === null) this.input.resume();
      w.resolve({ done: false, value: frame });
      return;
    }
    if (this.failure !== null) {
      this.waiter = null;
      w.reject(this.failure);
      return;
    }
    if (this.ended) {
      this.waiter = null;
      try {
        this.decoder.end();
        w.resolve({ done: true, value: undefined });
      } catch (error) {
        this.failure = error;
        w.reject(error);
      }
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.detach();
    this.wake();
  }

  private detach(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onError);
    this.input.off('close', this.onClose);
    // A late error (EPIPE, ECONNRESET) of an input nobody reads any more is nobody's failure, but
    // an 'error' event without a listener would end the process.
    if (this.input.listenerCount('error') === 0) this.input.on('error', ignore);
  }
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

  /**
   * Writes `chunk` as it is, unframed (the stream of an unframed receive). Returns false when the
   * output is full: await drained() before the next.
   */
  writeRaw(chunk: Buffer): boolean {
    this.check();
    return this.output.write(chunk);
  }

  /**
   * The output itself, for a process that writes an unframed stream into it directly (the output's
   * file descriptor becomes that process's stdout): only an output backed by a descriptor, with
   * nothing of ours still queued (else the bytes would interleave). Null otherwise (in-memory
   * streams in tests): write through writeRaw(). Nothing may be written here until that process exits.
   */
  handOff(): Writable | null {
    this.check();
    const fd = (this.output as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0 || this.output.writableLength > 0) return null;
    return this.output;
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
