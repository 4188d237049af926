// The --json document writer: bigint as decimal strings, two-space indentation, one document.
// Every string is bounded (safe-text.ts) and the characters JSON leaves raw but a terminal acts on
// are written as \u escapes, so the document is exact JSON and safe to print.
import { MAX_COMMAND_CHARS, boundForJson, escapeJsonInvisibles } from './safe-text.ts';

// Serialises a command result as JSON (64-bit values become decimal strings, strings bounded).
export function toJson(value: unknown): string {
  // Arrays under the key `commands` hold exact zfs command lines: a larger bound.
  const commandLists = new WeakSet<object>();
  const json = JSON.stringify(value, function (this: unknown, key: string, v: unknown): unknown {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return boundForJson(v, commandLists.has(this as object) ? MAX_COMMAND_CHARS : undefined);
    if (key === 'commands' && Array.isArray(v)) commandLists.add(v);
    return v;
  }, 2);
  return escapeJsonInvisibles(json ?? 'null') + '\n';
}
