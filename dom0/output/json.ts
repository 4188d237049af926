// The --json document writer: bigint as decimal strings, two-space indentation, one document.
// Serialises a command result as JSON (64-bit values become decimal strings).
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}
