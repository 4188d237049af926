// The frame layer: every frame is a 4-byte big-endian payload length, a 1-byte type tag, then the
// payload. This file holds the tags, their length rules and the encoder; frame-decoder.ts reads.
import { FRAME_HEADER_BYTES, MAX_CONTROL_FRAME, MAX_DATA_CHUNK } from './limits.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Frame type tags (the fifth header byte). */
export const FrameType = {
  /** One msgpack control message. */
  CONTROL: 0x01,
  /** One raw chunk of a `zfs send` stream (1..MAX_DATA_CHUNK bytes). */
  DATA: 0x02,
  /** The data stream of the current receive is complete (empty payload). */
  END: 0x03,
  /** The sender gave up on the current data stream (empty payload); the receive stops short. */
  ABORT: 0x04,
} as const;

/** One of the FrameType tags. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** One decoded frame; `payload` may share memory with the input chunk it came from. */
export interface Frame {
  type: FrameTypeValue;
  payload: Buffer;
}

/** Throws unless `length` is a legal payload length for a frame of type `type` (checked before allocating). */
export function checkFrameLength(type: number, length: number): asserts type is FrameTypeValue {
  switch (type) {
    case FrameType.CONTROL:
      if (length > MAX_CONTROL_FRAME) {
        throw new ProtocolError(ProtocolErrorCode.FRAME_TOO_LARGE, `control frame of ${length} bytes exceeds the limit of ${MAX_CONTROL_FRAME}`);
      }
      if (length === 0) throw new ProtocolError(ProtocolErrorCode.BAD_FRAME, 'empty control frame');
      return;
    case FrameType.DATA:
      if (length > MAX_DATA_CHUNK) {
        throw new ProtocolError(ProtocolErrorCode.FRAME_TOO_LARGE, `data frame of ${length} bytes exceeds the limit of ${MAX_DATA_CHUNK}`);
      }
      if (length === 0) throw new ProtocolError(ProtocolErrorCode.BAD_FRAME, 'empty data frame');
      return;
    case FrameType.END:
    case FrameType.ABORT:
      if (length !== 0) throw new ProtocolError(ProtocolErrorCode.BAD_FRAME, `frame type ${type} must be empty, got ${length} bytes`);
      return;
    default:
      throw new ProtocolError(ProtocolErrorCode.BAD_FRAME, `unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/** The 5-byte header for a frame of `type` carrying `length` payload bytes (length checked). */
export function encodeFrameHeader(type: FrameTypeValue, length: number): Buffer {
  checkFrameLength(type, length);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  header[4] = type;
  return header;
}

/** A whole frame (header + payload) in one new buffer; used for control and empty frames. */
export function encodeFrame(type: FrameTypeValue, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  checkFrameLength(type, payload.length);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame[4] = type;
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}
