// Field schemas shared by the request and reply messages: 64-bit decimal strings, ZFS names,
// bounded display text. Names are checked for syntax here; "inside the receive root" is checked
// by the session code, which knows the root.
import { z } from 'zod';
import { componentProblem, datasetNameProblem, MAX_DATASET_NAME_LENGTH } from '../../zfs-names.ts';
import { MAX_RESUME_TOKEN_LENGTH, MAX_TEXT_LENGTH } from '../limits.ts';

const UINT64_MAX = (1n << 64n) - 1n;

/** A 64-bit unsigned value (GUID, txg, size) as a decimal string; convert with BigInt(). */
export const decimal64 = z
  .string()
  .regex(/^[0-9]{1,20}$/, 'expected a decimal string of at most 20 digits')
  // zod runs refinements even after the regex failed: test the pattern again before BigInt().
  .refine((s) => /^[0-9]{1,20}$/.test(s) && BigInt(s) <= UINT64_MAX, 'value exceeds 2^64-1');

// C0/C1 controls (tab allowed), DEL, line/paragraph separators and bidi overrides: nothing that
// could move a terminal cursor or disguise text when dom0 prints it.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_TEXT = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Printable text of at most `max` characters (messages, stderr lines); safe to show in dom0. */
export function safeText(max: number = MAX_TEXT_LENGTH) {
  return z.string().max(max).refine((s) => !UNSAFE_TEXT.test(s), 'text contains control characters');
}

/** Replaces every character safeText() refuses with '?' and cuts to `max` (agent side, before sending). */
export function toSafeText(text: string, max: number = MAX_TEXT_LENGTH): string {
  return text.replace(new RegExp(UNSAFE_TEXT.source, 'g'), '?').slice(0, max);
}

/** A filesystem or volume name valid per OpenZFS namecheck rules. */
export const datasetName = z
  .string()
  .max(MAX_DATASET_NAME_LENGTH)
  .superRefine((s, ctx) => {
    const problem = datasetNameProblem(s);
    if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** One snapshot or bookmark label (the part after '@' or '#'). */
export const labelName = z
  .string()
  .max(MAX_DATASET_NAME_LENGTH)
  .superRefine((s, ctx) => {
    const problem = s.includes('@') || s.includes('#') || s.includes('/') ? "'@', '#' and '/' are not allowed in a label" : componentProblem(s);
    if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** Splits "dataset<sep>label" and checks both parts; null when it is not such a name. */
export function splitPointName(name: string, separator: '@' | '#'): { dataset: string; label: string } | null {
  if (name.length > MAX_DATASET_NAME_LENGTH) return null;
  const i = name.indexOf(separator);
  if (i <= 0) return null;
  const dataset = name.slice(0, i);
  const label = name.slice(i + 1);
  if (!datasetName.safeParse(dataset).success || !labelName.safeParse(label).success) return null;
  return { dataset, label };
}

/** A full snapshot name "dataset@label". */
export const snapshotName = z.string().refine((s) => splitPointName(s, '@') !== null, 'expected a snapshot name dataset@label');

/** A full bookmark name "dataset#label". */
export const bookmarkName = z.string().refine((s) => splitPointName(s, '#') !== null, 'expected a bookmark name dataset#label');

/** A `receive_resume_token` as ZFS prints it ("1-<hex>-<hex>-<hex>"); untrusted until dom0 decodes it. */
export const resumeToken = z
  .string()
  .max(MAX_RESUME_TOKEN_LENGTH)
  .regex(/^[0-9]{1,3}-[0-9a-f]{1,16}-[0-9a-f]{1,16}-[0-9a-f]+$/, 'not a resume token');

/** Dataset types that can be received. */
export const datasetType = z.enum(['filesystem', 'volume']);
