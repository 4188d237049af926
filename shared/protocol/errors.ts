// Error codes of the protocol layer (framing, message validation, message order). Every one is
// fatal to the session: the peer is broken or hostile, so nothing it sends later is trusted.
import { QzbError } from '../errors.ts';

/** Stable codes for protocol failures; the table in receiver/README.md explains each. */
export const ProtocolErrorCode = {
  /** A frame header announced a payload above the limit for its type. */
  FRAME_TOO_LARGE: 'PROTOCOL_FRAME_TOO_LARGE',
  /** A frame type tag we do not know, or a frame whose length is invalid for its type. */
  BAD_FRAME: 'PROTOCOL_BAD_FRAME',
  /** The stream ended in the middle of a frame. */
  TRUNCATED: 'PROTOCOL_TRUNCATED',
  /** A control frame that is not valid msgpack, uses forbidden msgpack types, or fails its schema. */
  BAD_MESSAGE: 'PROTOCOL_BAD_MESSAGE',
  /** A valid message at a point of the conversation where it is not allowed. */
  UNEXPECTED_MESSAGE: 'PROTOCOL_UNEXPECTED_MESSAGE',
  /** The peers speak different protocol versions. */
  VERSION_MISMATCH: 'PROTOCOL_VERSION_MISMATCH',
  /** A ZFS name that is invalid or outside the receive root. */
  NAME_REFUSED: 'PROTOCOL_NAME_REFUSED',
  /** A list (inventory) longer than the protocol allows. */
  LIMIT_EXCEEDED: 'PROTOCOL_LIMIT_EXCEEDED',
  /** The peer closed the connection while a reply was still owed. */
  PEER_CLOSED: 'PROTOCOL_PEER_CLOSED',
} as const;

/** One of the ProtocolErrorCode values. */
export type ProtocolErrorCodeValue = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** A fatal protocol failure with one of the codes above. */
export class ProtocolError extends QzbError {
  declare readonly code: ProtocolErrorCodeValue;
  constructor(code: ProtocolErrorCodeValue, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

/** True when `value` is a ProtocolError (any code). */
export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
