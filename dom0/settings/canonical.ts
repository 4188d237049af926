// Canonical JSON: object keys sorted by code unit, no whitespace, integers only (no floats, no
// -0), strings as JSON.stringify writes them with every character outside printable ASCII as a
// \uXXXX escape. The same value always gives the same bytes, so the SHA-256 of a settings document
// is stable across runs, Node versions and machines; and the bytes are printable ASCII, so they can
// be cut anywhere into ZFS user property values and read back with any tool.
import { createHash } from 'node:crypto';
import { QzbError } from '../../shared/errors.ts';

// Serialises `value` canonically; throws on anything JSON cannot hold exactly.
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

function write(v: unknown, depth: number): string {
  if (depth > 32) throw new QzbError('INTERNAL', 'canonical JSON: nesting deeper than 32');
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return asciiString(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new QzbError('INTERNAL', `canonical JSON: ${String(v)} is not a safe integer`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => write(x, depth + 1)).join(',')}]`;
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${asciiString(k)}:${write(x, depth + 1)}`).join(',')}}`;
  }
  throw new QzbError('INTERNAL', `canonical JSON: cannot serialise a ${typeof v}`);
}

// JSON.stringify's string, with DEL and everything above it escaped (UTF-16 units, as JSON does).
function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// SHA-256 of bytes, hex.
export function sha256OfBytes(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
