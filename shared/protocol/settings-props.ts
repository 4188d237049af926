// How a qube's settings document is kept on the receiver: as ZFS user properties of the received
// snapshot it belongs to (so it is tied to that snapshot, goes when the snapshot is destroyed, and
// a later backup never touches it), cut into chunks under ZFS's 8 KiB limit on a property value.
// Shared by the agent (which sets and reads them) and dom0 (which cuts and joins).
import { createHash } from 'node:crypto';

/** User property holding the document's SHA-256 (hex). */
export const SETTINGS_SHA256_PROP = 'org.qubes-zfs-backup:settings-sha256';
/** User property holding the number of chunks. */
export const SETTINGS_CHUNKS_PROP = 'org.qubes-zfs-backup:settings-chunks';
/** Prefix of the chunk properties: `org.qubes-zfs-backup:settings.000`, `.001`, … (zero-padded, so they sort). */
export const SETTINGS_CHUNK_PREFIX = 'org.qubes-zfs-backup:settings.';

/** Largest chunk (ZFS refuses user property values of 8192 bytes or more). */
export const MAX_SETTINGS_CHUNK = 8000;
/** Most chunks in one document (with the limit above: 960 000 bytes, inside one control frame). */
export const MAX_SETTINGS_CHUNKS = 120;

/** A chunk: printable ASCII only (the canonical settings JSON is). */
export const SETTINGS_CHUNK_RE = /^[\x20-\x7e]{1,8000}$/;

// The property name of chunk `i`.
export function settingsChunkProp(i: number): string {
  return `${SETTINGS_CHUNK_PREFIX}${String(i).padStart(3, '0')}`;
}

// Cuts document bytes (printable ASCII) into chunks; throws when too large or not ASCII.
export function chunkSettings(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString('latin1');
  if (!/^[\x20-\x7e]+$/.test(text)) throw new Error('a settings document must be non-empty printable ASCII');
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += MAX_SETTINGS_CHUNK) chunks.push(text.slice(i, i + MAX_SETTINGS_CHUNK));
  if (chunks.length > MAX_SETTINGS_CHUNKS) throw new Error(`a settings document of ${text.length} bytes needs more than ${MAX_SETTINGS_CHUNKS} chunks`);
  return chunks;
}

// The bytes the chunks make, and their SHA-256 (hex).
export function joinSettings(chunks: readonly string[]): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.from(chunks.join(''), 'latin1');
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}
