// Field schemas shared by the request and reply messages: 64-bit decimal strings, ZFS names,
// bounded display text. Names are checked for syntax here; "inside the receive root" is checked
// by the session code, which knows the root.
import { z } from 'zod';
import { componentProblem, datasetNameProblem, MAX_DATASET_NAME_LENGTH } from '../../zfs-names.ts';
import { MAX_RESUME_TOKEN_LENGTH, MAX_TEXT_LENGTH } from '../limits.ts';

const UINT64_MAX = (1n << 64n) - 1n;

/** True when `v` is a decimal string of a value in 0..2^64-1 (at most 20 digits). */
export function isDecimal64(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9]{1,20}$/.test(v) && (v.length < 20 || BigInt(v) <= UINT64_MAX);
}

// Checks are z.custom() rather than .refine(): zod 3 refinements cost ~5 µs each, which matters
// for inventories of a million snapshots, and they run even after an earlier check failed.

/** A 64-bit unsigned value (GUID, txg, size) as a decimal string; convert with BigInt(). */
export const decimal64 = z.custom<string>(isDecimal64, 'expected a decimal string of a 64-bit unsigned value');

// C0/C1 controls (tab allowed), DEL, line/paragraph separators and bidi overrides: nothing that
// could move a terminal cursor or disguise text when dom0 prints it.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_TEXT = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Printable text of at most `max` characters (messages, stderr lines); safe to show in dom0. */
export function safeText(max: number = MAX_TEXT_LENGTH) {
  return z.custom<string>((s) => typeof s === 'string' && s.length <= max && !UNSAFE_TEXT.test(s), `expected text of at most ${max} characters without control characters`);
}

/** Replaces every character safeText() refuses with '?' and cuts to `max` (agent side, before sending). */
export function toSafeText(text: string, max: number = MAX_TEXT_LENGTH): string {
  return text.replace(new RegExp(UNSAFE_TEXT.source, 'g'), '?').slice(0, max);
}

/** Why `s` is not a valid snapshot/bookmark label (the part after '@' or '#'), or null. */
export function labelProblem(s: string): string | null {
  if (s.length > MAX_DATASET_NAME_LENGTH) return 'the label is too long';
  if (s.includes('@') || s.includes('#') || s.includes('/')) return "'@', '#' and '/' are not allowed in a label";
  return componentProblem(s);
}

/** A filesystem or volume name valid per OpenZFS namecheck rules. */
export const datasetName = z.custom<string>(
  (s) => typeof s === 'string' && datasetNameProblem(s) === null,
  (s: unknown) => ({ message: typeof s === 'string' ? `invalid dataset name: ${datasetNameProblem(s) ?? ''}` : 'expected a dataset name' }),
);

/** One snapshot or bookmark label (the part after '@' or '#'). */
export const labelName = z.custom<string>(
  (s) => typeof s === 'string' && labelProblem(s) === null,
  (s: unknown) => ({ message: typeof s === 'string' ? `invalid label: ${labelProblem(s) ?? ''}` : 'expected a label' }),
);

/** Splits "dataset<sep>label" and checks both parts; null when it is not such a name. */
export function splitPointName(name: string, separator: '@' | '#'): { dataset: string; label: string } | null {
  if (typeof name !== 'string' || name.length > MAX_DATASET_NAME_LENGTH) return null;
  const i = name.indexOf(separator);
  if (i <= 0) return null;
  const dataset = name.slice(0, i);
  const label = name.slice(i + 1);
  if (datasetNameProblem(dataset) !== null || labelProblem(label) !== null) return null;
  return { dataset, label };
}

/** A full snapshot name "dataset@label". */
export const snapshotName = z.custom<string>((s) => splitPointName(s as string, '@') !== null, 'expected a snapshot name dataset@label');

/** A full bookmark name "dataset#label". */
export const bookmarkName = z.custom<string>((s) => splitPointName(s as string, '#') !== null, 'expected a bookmark name dataset#label');

/** A `receive_resume_token` as ZFS prints it ("1-<hex>-<hex>-<hex>"); untrusted until dom0 decodes it. */
export const resumeToken = z
  .string()
  .max(MAX_RESUME_TOKEN_LENGTH)
  .regex(/^[0-9]{1,3}-[0-9a-f]{1,16}-[0-9a-f]{1,16}-[0-9a-f]+$/, 'not a resume token');

/** Dataset types that can be received. */
export const datasetType = z.enum(['filesystem', 'volume']);
