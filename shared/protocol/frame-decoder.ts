// Streaming frame decoder: accepts input split at arbitrary byte boundaries, checks each header's
// type and length before allocating anything for the payload, and fails closed: after the first
// error every further call throws the same error.
import { FRAME_HEADER_BYTES } from './limits.ts';
import { checkFrameLength, FrameType, type Frame, type FrameTypeValue } from './frame.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Options of a FrameDecoder. */
export interface FrameDecoderOptions {
  /**
   * Hand out a data frame that spans input chunks as consecutive DATA pieces (views into the
   * input, never copied) instead of reassembling it. Data is a byte stream, so its consumers
   * (the agent writing to `zfs receive`) do not care where one frame ends; this saves a copy of
   * every byte. Control frames are always whole.
   */
  splitData?: boolean;
}

/** Incremental decoder; call push() with each chunk, end() at end of input. */
export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private readonly splitData: boolean;
  /** Payload bytes still to come of a data frame being handed out in pieces (splitData). */
  private dataLeft = 0;
  private headerFill = 0;
  private payloadType: FrameTypeValue | null = null;
  private payload: Buffer | null = null;
  private payloadFill = 0;
  private failure: ProtocolError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.splitData = options.splitData ?? false;
  }

  /** Decodes every complete frame in `chunk`; keeps a partial frame for the next call. */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    try {
      return this.decode(chunk);
    } catch (error) {
      this.failure = error instanceof ProtocolError ? error : new ProtocolError(ProtocolErrorCode.BAD_FRAME, String(error), { cause: error });
      throw this.failure;
    }
  }

  /** Call at end of input: throws PROTOCOL_TRUNCATED when the input stopped inside a frame. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.headerFill > 0 || this.payloadType !== null || this.dataLeft > 0) {
      this.failure = new ProtocolError(ProtocolErrorCode.TRUNCATED, 'the connection ended in the middle of a frame');
      throw this.failure;
    }
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.headerFill === 0 && this.payloadType === null && this.dataLeft === 0;
  }

  private decode(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let offset = 0;
    const size = chunk.length;
    while (offset < size) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, size - offset);
        frames.push({ type: FrameType.DATA, payload: chunk.subarray(offset, offset + take) });
        this.dataLeft -= take;
        offset += take;
        continue;
      }
      if (this.payloadType === null) {
        let length: number;
        let type: number;
        if (this.headerFill === 0 && size - offset >= FRAME_HEADER_BYTES) {
          length = chunk.readUInt32BE(offset);
          type = chunk[offset + 4]!;
          offset += FRAME_HEADER_BYTES;
        } else {
          const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, size - offset);
          chunk.copy(this.header, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < FRAME_HEADER_BYTES) break;
          this.headerFill = 0;
          length = this.header.readUInt32BE(0);
          type = this.header[4]!;
        }
        checkFrameLength(type, length);
        if (length === 0) {
          frames.push({ type, payload: Buffer.alloc(0) });
          continue;
        }
        if (size - offset >= length) {
          // The whole payload is in this chunk: hand out a view, no copy.
          frames.push({ type, payload: chunk.subarray(offset, offset + length) });
          offset += length;
          continue;
        }
        if (this.splitData && type === FrameType.DATA) {
          this.dataLeft = length;
          continue;
        }
        this.payloadType = type;
        this.payload = Buffer.allocUnsafe(length);
        this.payloadFill = 0;
      }
      const payload = this.payload!;
      const take = Math.min(payload.length - this.payloadFill, size - offset);
      chunk.copy(payload, this.payloadFill, offset, offset + take);
      this.payloadFill += take;
      offset += take;
      if (this.payloadFill === payload.length) {
        frames.push({ type: this.payloadType, payload });
        this.payloadType = null;
        this.payload = null;
        this.payloadFill = 0;
      }
    }
    return frames;
  }
}
