// `zfs bookmark SNAPSHOT BOOKMARK`: the step cursor made after a confirmed step (SPEC §6). ZFS says
// only "bookmark exists" when the name is taken, whatever GUID the existing one has (recorded on
// 2.3.2, fixtures/send/bookmark-exists*.err): the caller lists the bookmark to compare GUIDs.
// Facts checked on 2.3.2: bookmarks of zvol snapshots work; a bookmark must be in the snapshot's
// own dataset ("dataset does not exist" otherwise); a missing source gives exit 2 with usage text.
import { QzbError } from '../../shared/errors.ts';
import { componentProblem, datasetNameProblem } from '../../shared/zfs-names.ts';
import { runZfs, ZfsCommandError, type ZfsRunOptions } from './runner.ts';

function split(name: string, sep: '@' | '#'): [string, string] | null {
  const i = name.indexOf(sep);
  if (i <= 0) return null;
  const ds = name.slice(0, i);
  const part = name.slice(i + 1);
  if (datasetNameProblem(ds) !== null || componentProblem(part) !== null || /[@#]/.test(part)) return null;
  return [ds, part];
}

// argv (without the binary) of `zfs bookmark pool/ds@snap pool/ds#bm` (same dataset required).
export function bookmarkArgs(snapshot: string, bookmark: string): string[] {
  const s = split(snapshot, '@');
  const b = split(bookmark, '#');
  if (s === null || b === null || s[0] !== b[0]) {
    throw new QzbError('INTERNAL', `refusing zfs bookmark ${JSON.stringify(snapshot)} ${JSON.stringify(bookmark)}: needs pool/ds@snap and pool/ds#name of the same dataset`);
  }
  return ['bookmark', snapshot, bookmark];
}

/** Why `zfs bookmark` failed, as far as its stderr tells. */
export type BookmarkFailure = 'exists' | 'source-missing' | 'unknown';

// Classifies `zfs bookmark` stderr: "cannot create bookmark 'X': bookmark exists" → 'exists';
// "cannot open 'X': dataset does not exist" → 'source-missing'.
export function classifyBookmarkError(stderr: string): BookmarkFailure {
  const first = stderr.split('\n').find((l) => l.trim().length > 0)?.trim() ?? '';
  if (/^cannot create bookmark '.+': bookmark exists$/.test(first)) return 'exists';
  if (/^cannot open '.+': dataset does not exist$/.test(first)) return 'source-missing';
  return 'unknown';
}

// Creates the bookmark; 'exists' when the name is already taken (compare its GUID yourself).
// Throws ZfsCommandError for every other failure.
export async function createBookmark(snapshot: string, bookmark: string, options: ZfsRunOptions = {}): Promise<'created' | 'exists'> {
  const args = bookmarkArgs(snapshot, bookmark);
  const r = await runZfs(args, { ...options, allowExitCodes: [1] });
  if (r.exitCode === 0) return 'created';
  if (classifyBookmarkError(r.stderr) === 'exists') return 'exists';
  throw new ZfsCommandError(['zfs', ...args], r.exitCode, r.stderr);
}
