// A structural check of msgpack bytes before msgpackr sees them. Only the plain subset is allowed:
// nil, booleans, integers, floats, strings, arrays and maps with string keys. Extension types
// (which msgpackr would turn into records, Errors, Sets, Dates, typed arrays…), bin, and 0xc1 are
// refused; every declared length must fit in the bytes that are left, so no peer-chosen allocation
// happens; nesting, map sizes and list lengths are bounded; exactly one value must fill the buffer.
// Every string and key must be well-formed UTF-8 (no overlong forms, surrogates or cut-off
// sequences): msgpackr's decoder reads a cut-off sequence past the string's end, so only then do
// the checker and the decoder see the same structure (test/unit/protocol/differential.test.ts).
import { MAX_LIST_LENGTH, MAX_MAP_KEYS, MAX_MESSAGE_DEPTH } from './limits.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

// Fatal: malformed UTF-8 throws. ignoreBOM keeps a leading U+FEFF, as msgpackr does, so a key
// "\uFEFFkind" stays distinct from "kind" for the duplicate check.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The one key msgpackr renames (to "__proto_"), which would make two distinct keys collide. */
const RENAMED_KEY = '__proto__';

function bad(message: string): never {
  throw new ProtocolError(ProtocolErrorCode.BAD_MESSAGE, `invalid control message: ${message}`);
}

/** Throws PROTOCOL_BAD_MESSAGE unless `bytes` is exactly one value of the plain msgpack subset. */
export function checkPlainMsgpack(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let pos = 0;

  const need = (n: number): void => {
    if (n > end - pos) bad(`a length of ${n} bytes runs past the end of the frame`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos);
    pos += 4;
    return v;
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };

  // Returns where a string's bytes start (they end at `pos`), or -1 for any other value, so map
  // keys can be required to be strings and compared for duplicates.
  const value = (depth: number): number => {
    const t = u8();
    if (t <= 0x7f || t >= 0xe0) return -1; // positive / negative fixint
    if (t >= 0xa0 && t <= 0xbf) return text(t - 0xa0);
    if (t >= 0x80 && t <= 0x8f) {
      map(t - 0x80, depth);
      return -1;
    }
    if (t >= 0x90 && t <= 0x9f) {
      array(t - 0x90, depth);
      return -1;
    }
    switch (t) {
      case 0xc0: case 0xc2: case 0xc3: return -1; // nil, false, true
      case 0xcc: case 0xd0: skip(1); return -1; // uint8, int8
      case 0xcd: case 0xd1: skip(2); return -1; // uint16, int16
      case 0xce: case 0xd2: case 0xca: skip(4); return -1; // uint32, int32, float32
      case 0xcf: case 0xd3: case 0xcb: skip(8); return -1; // uint64, int64, float64
      case 0xd9: return text(u8());
      case 0xda: return text(u16());
      case 0xdb: return text(u32());
      case 0xdc: array(u16(), depth); return -1;
      case 0xdd: array(u32(), depth); return -1;
      case 0xde: map(u16(), depth); return -1;
      case 0xdf: map(u32(), depth); return -1;
      default:
        return bad(`msgpack type 0x${t.toString(16)} is not allowed (only nil, booleans, numbers, strings, arrays and maps)`);
    }
  };
  const text = (length: number): number => {
    const start = pos;
    skip(length);
    let ascii = true;
    for (let i = start; i < pos; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      try {
        utf8.decode(bytes.subarray(start, pos));
      } catch {
        bad('a string is not valid UTF-8');
      }
    }
    return start;
  };
  const array = (length: number, depth: number): void => {
    if (depth >= MAX_MESSAGE_DEPTH) bad(`nesting deeper than ${MAX_MESSAGE_DEPTH}`);
    if (length > MAX_LIST_LENGTH) bad(`a list of ${length} elements exceeds the limit of ${MAX_LIST_LENGTH}`);
    if (length > end - pos) bad(`a list of ${length} elements runs past the end of the frame`);
    for (let i = 0; i < length; i++) value(depth + 1);
  };
  const map = (length: number, depth: number): void => {
    if (depth >= MAX_MESSAGE_DEPTH) bad(`nesting deeper than ${MAX_MESSAGE_DEPTH}`);
    if (length > MAX_MAP_KEYS) bad(`a map of ${length} keys exceeds the limit of ${MAX_MAP_KEYS}`);
    if (2 * length > end - pos) bad(`a map of ${length} keys runs past the end of the frame`);
    const keys = new Set<string>();
    for (let i = 0; i < length; i++) {
      const start = value(depth + 1);
      if (start < 0) bad('a map key is not a string');
      const key = utf8.decode(bytes.subarray(start, pos));
      if (key === RENAMED_KEY) bad(`the key ${RENAMED_KEY} is not allowed`);
      if (keys.has(key)) bad(`the key ${JSON.stringify(key)} appears twice in one map`);
      keys.add(key);
      value(depth + 1);
    }
  };

  value(0);
  if (pos !== end) bad(`${end - pos} bytes follow the message`);
}
