// Settings on the receiver, for `send` and `verify`: deliver a qube's document for a label to the
// received snapshot of the qube's root dataset (after that dataset's step is confirmed), and
// compare the receiver's copy with the SHA-256 recorded in the job state. The receiver is not
// trusted: the hash is recomputed here from the bytes it returns.
import type { JobState } from '../metadata/types.ts';
import { readSettingsForSend } from './store.ts';

/** What deliver/verify need of a ReceiverClient (dom0/receiver-link/client.ts). */
export interface SettingsLink {
  storeSettings(snapshot: string, bytes: Uint8Array, sha256: string): Promise<{ alreadyStored: boolean }>;
  readSettings(snapshot: string): Promise<{ bytes: Buffer; sha256: string; storedSha256: string } | null>;
}

/** The received snapshot a qube root dataset's settings go on: `<receive root>/<dataset>@<label without @>`. */
export function settingsSnapshotName(receiveRoot: string, sourceDataset: string, label: string): string {
  return `${receiveRoot}/${sourceDataset}@${label.startsWith('@') ? label.slice(1) : label}`;
}

// Stores the document (if the qube has one for the label) on `receivedSnapshot`.
export async function deliverSettings(
  link: SettingsLink, jobDir: string, state: JobState, qube: string, label: string, receivedSnapshot: string,
): Promise<'stored' | 'already-stored' | 'no-document'> {
  const doc = await readSettingsForSend(jobDir, state, qube, label);
  if (!doc) return 'no-document';
  const r = await link.storeSettings(receivedSnapshot, doc.bytes, doc.sha256);
  return r.alreadyStored ? 'already-stored' : 'stored';
}

/** The outcome of comparing the receiver's copy with the record. */
export type SettingsVerdict =
  | { status: 'ok'; sha256: string }
  | { status: 'no-document' }
  | { status: 'missing'; expected: string }
  | { status: 'altered'; expected: string; found: string; claimed: string };

// Reads the receiver's copy on `receivedSnapshot` and compares its hash with the job state's.
export async function verifySettings(
  link: SettingsLink, jobDir: string, state: JobState, qube: string, label: string, receivedSnapshot: string,
): Promise<SettingsVerdict> {
  const expected = state.settings?.[label]?.[qube]?.sha256;
  if (expected === undefined) return { status: 'no-document' };
  const got = await link.readSettings(receivedSnapshot);
  if (!got) return { status: 'missing', expected };
  if (got.sha256 !== expected || got.storedSha256 !== expected) return { status: 'altered', expected, found: got.sha256, claimed: got.storedSha256 };
  // The local copy must still match too (readSettingsForSend checks it against the record).
  await readSettingsForSend(jobDir, state, qube, label);
  return { status: 'ok', sha256: expected };
}
