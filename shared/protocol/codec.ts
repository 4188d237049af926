// The message layer: a control frame's payload is one msgpack map with a `kind` key. Decoding
// checks the bytes against the plain msgpack subset, lets msgpackr build plain values only, and
// validates the result with the strict zod schema for its kind. Encoding validates too, so a
// peer never receives a message its own side would refuse.
// msgpackr's pure-JS entry (its `pack`/`unpack` subpaths), the code the bundles ship: the package's
// main entry would load the optional native string extractor (msgpackr-extract) in tests run from
// node_modules, code dom0 never runs.
import { Packr } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import type { z } from 'zod';
import { checkPlainMsgpack } from './msgpack-subset.ts';
import { encodeFrame, FrameType } from './frame.ts';
import { MAX_CONTROL_FRAME, MAX_MESSAGE_DEPTH } from './limits.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

// No records, no structures, no extensions on either side: plain maps/arrays/strings/numbers.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false, variableMapSize: true, structuredClone: false });

/**
 * The decoder's options, every extension-enabling one off explicitly (the subset check already
 * refuses the bytes they would act on; this is the second wall). Exported for the differential test.
 */
export const UNPACK_OPTIONS = {
  useRecords: false, structuredClone: false, moreTypes: false, sequential: false, bundleStrings: false,
  mapsAsObjects: true, allowArraysInMapKeys: false, int64AsType: 'number', useFloat32: 0,
} as const;
const unpackr = new Unpackr({ ...UNPACK_OPTIONS });

/** A table of message schemas by `kind` (requestSchemas or replySchemas). */
export type SchemaTable = Readonly<Record<string, z.ZodTypeAny>>;

/** The message type a schema table describes. */
export type MessageOf<T extends SchemaTable> = z.infer<T[keyof T]>;

/** Decodes and validates one control payload against `schemas`; throws PROTOCOL_BAD_MESSAGE. */
export function decodeMessage<T extends SchemaTable>(schemas: T, payload: Uint8Array): MessageOf<T> {
  checkPlainMsgpack(payload);
  let value: unknown;
  try {
    value = unpackr.unpack(payload);
  } catch (error) {
    // msgpackr's messages may quote the peer's bytes; they are not shown.
    throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, 'undecodable control message', { cause: error });
  }
  if (!isPlainValue(value, 0)) throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, 'a control message decoded to a value outside the plain msgpack subset');
  return validateMessage(schemas, value);
}

/** True for null, booleans, numbers, strings, and plain arrays/objects of them (what the subset allows). */
function isPlainValue(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'boolean': case 'number': case 'string': return true;
    case 'object': break;
    default: return false;
  }
  if (depth > MAX_MESSAGE_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (const item of value as unknown[]) if (!isPlainValue(item, depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (Object.hasOwn(value, key) && !isPlainValue((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

/** Validates a decoded value against the schema for its `kind`; throws PROTOCOL_BAD_MESSAGE. */
export function validateMessage<T extends SchemaTable>(schemas: T, value: unknown): MessageOf<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, 'a control message must be a map');
  }
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !Object.hasOwn(schemas, kind)) {
    const shown = typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : typeof kind;
    throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, `unknown message kind ${shown}`);
  }
  let result: z.SafeParseReturnType<unknown, unknown>;
  try {
    result = schemas[kind]!.safeParse(value);
  } catch (error) {
    throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, `invalid ${kind} message: ${String(error)}`, { cause: error });
  }
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(message)';
    throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, `invalid ${kind} message: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data as MessageOf<T>;
}

/** Validates `message` and encodes it as a complete control frame (header included). */
export function encodeMessage<T extends SchemaTable>(schemas: T, message: MessageOf<T>): Buffer {
  const valid = validateMessage(schemas, message);
  const payload = packr.pack(valid);
  if (payload.length > MAX_CONTROL_FRAME) {
    throw new ProtocolError(ProtocolErrorCode.FRAME_TOO_LARGE, `a ${String((valid as { kind: string }).kind)} message of ${payload.length} bytes exceeds the control frame limit`);
  }
  checkPlainMsgpack(payload);
  return encodeFrame(FrameType.CONTROL, payload);
}
