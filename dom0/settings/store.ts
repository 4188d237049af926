// Settings documents in the metadata directory: `<job>/settings/<label without @>/<qube>.json`,
// canonical JSON written atomically, its SHA-256 and size recorded in the job state. A document
// is written once per qube and label (the first capture is the one closest to the snapshot) and
// only read afterwards; `readSettingsForSend` is what `send`/`verify` use to deliver and compare.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { QzbError } from '../../shared/errors.ts';
import { fsyncDir, writeFileAtomic } from '../metadata/atomic.ts';
import type { JobState, SettingsRecord } from '../metadata/types.ts';
import { canonicalJson, sha256OfBytes } from './canonical.ts';
import { QUBE_NAME_RE, settingsDocumentSchema, type SettingsDocument } from './schema.ts';

// The document's bytes (canonical JSON, UTF-8) and their SHA-256.
export function encodeSettings(doc: SettingsDocument): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.from(canonicalJson(doc), 'utf8');
  return { bytes, sha256: sha256OfBytes(bytes) };
}

// Parses and validates document bytes (from the metadata directory or the receiver).
export function decodeSettings(bytes: Uint8Array, where: string): SettingsDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new QzbError('SETTINGS_CORRUPT', `the settings document ${where} is not JSON (${(e as Error).message})`);
  }
  const parsed = settingsDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new QzbError('SETTINGS_CORRUPT', `the settings document ${where} is not a valid settings document (${i?.path.join('.') ?? ''}: ${i?.message ?? ''})`);
  }
  return parsed.data;
}

// The file of one document, relative to the job directory.
export function settingsRelPath(label: string, qube: string): string {
  const dir = label.startsWith('@') ? label.slice(1) : label;
  if (dir === '' || dir === '.' || dir === '..' || /[/\0]/.test(dir)) throw new QzbError('INTERNAL', `label ${JSON.stringify(label)} cannot name a settings directory`);
  if (!QUBE_NAME_RE.test(qube)) throw new QzbError('INTERNAL', `${JSON.stringify(qube)} is not a qube name`);
  return `settings/${dir}/${qube}.json`;
}

// The recorded entry for one qube and label, if any.
export function settingsRecord(state: JobState, label: string, qube: string): SettingsRecord | undefined {
  return state.settings?.[label]?.[qube];
}

// Writes one document under the job directory and records it in `state` (the caller saves state).
export async function writeSettings(jobDir: string, state: JobState, doc: SettingsDocument): Promise<SettingsRecord> {
  const rel = settingsRelPath(doc.snapshotLabel, doc.qube);
  const file = path.join(jobDir, rel);
  const { bytes, sha256 } = encodeSettings(doc);
  const created = await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // New directories: flush their entries up to the first one that already existed.
  if (created) for (let d = path.dirname(file); d.length >= created.length; d = path.dirname(d)) await fsyncDir(path.dirname(d));
  await writeFileAtomic(file, bytes);
  const record: SettingsRecord = { sha256, bytes: bytes.length, capturedAt: doc.capturedAt, file: rel };
  state.settings ??= {};
  (state.settings[doc.snapshotLabel] ??= {})[doc.qube] = record;
  return record;
}

/** One stored document, checked against its recorded hash. */
export interface StoredSettings {
  qube: string;
  label: string;
  /** The exact bytes (canonical JSON) whose SHA-256 the job state records. */
  bytes: Buffer;
  sha256: string;
  doc: SettingsDocument;
}

// Reads one document of a job and checks it against the state's hash; null when none was captured.
export async function readSettings(jobDir: string, state: JobState, label: string, qube: string): Promise<StoredSettings | null> {
  const record = settingsRecord(state, label, qube);
  if (!record) return null;
  if (record.file !== settingsRelPath(label, qube)) throw new QzbError('METADATA_CORRUPT', `the job state names ${record.file} for ${qube} ${label}`);
  const file = path.join(jobDir, record.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new QzbError('SETTINGS_CORRUPT', `the settings document of ${qube} for ${label} is missing (${file}: ${(e as Error).message})`, {
      hint: 'The metadata directory was changed by hand; the document cannot be recreated for that snapshot.',
    });
  }
  const sha256 = sha256OfBytes(bytes);
  if (sha256 !== record.sha256) {
    throw new QzbError('SETTINGS_CORRUPT', `the settings document ${file} does not match the SHA-256 recorded in the job state`, {
      hint: 'The file was changed after it was captured; the recorded hash is the reference.',
    });
  }
  const doc = decodeSettings(bytes, file);
  if (doc.qube !== qube || doc.snapshotLabel !== label) throw new QzbError('SETTINGS_CORRUPT', `${file} holds the settings of ${doc.qube} ${doc.snapshotLabel}`);
  return { qube, label, bytes, sha256, doc };
}

// For `send` and `verify`: the bytes and hash of one qube's document for one label (the job state
// and job directory of MetadataStore.read()); null when that qube has no document for the label.
export async function readSettingsForSend(jobDir: string, state: JobState, qube: string, label: string): Promise<{ bytes: Buffer; sha256: string } | null> {
  const s = await readSettings(jobDir, state, label, qube);
  return s ? { bytes: s.bytes, sha256: s.sha256 } : null;
}
