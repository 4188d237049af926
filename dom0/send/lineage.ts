// A receiving dataset whose history belongs to a source dataset that was replaced (a restore or
// `qvm-volume import` creates a fresh dataset with a new GUID and none of the old snapshots; a
// `qvm-volume revert` past our snapshots destroys them and their bookmarks). Pure: the send planner
// asks it once per receiving dataset, before any other check of that dataset.
import type { ZfsDataset } from '../inventory/types.ts';
import type { JobState } from '../metadata/types.ts';
import type { ReceiverDatasetView } from './types.ts';

/** Why a receiving dataset's history is not the source dataset's any more. */
export interface ReplacedLineage {
  /** The receiver's snapshots of that history (labels, oldest first). */
  labels: string[];
  /** The jobs of this dom0 that recorded one of them as a snapshot of the source dataset. */
  jobs: string[];
}

// The lineage is replaced when the receiver holds snapshots of the dataset, dom0's job states show
// that (at least one of) them came from this very source dataset, and the source has none of them
// any more, neither as a snapshot nor as a bookmark: no stream can continue that history. Without
// that evidence (metadata lost, another system's backup) the ordinary findings (DIVERGED,
// DESTINATION_EXISTS, BASE_*) stay, because dom0 cannot tell whose history it is.
export function replacedLineage(src: ZfsDataset, live: ReceiverDatasetView | undefined, states: readonly JobState[]): ReplacedLineage | null {
  if (live === undefined || live.snapshots.length === 0) return null;
  const onSource = new Set<bigint>([...src.snapshots.map((s) => s.guid), ...src.bookmarks.map((b) => b.guid)]);
  if (live.snapshots.some((s) => onSource.has(s.guid))) return null;
  const held = new Set(live.snapshots.map((s) => s.guid.toString()));
  const jobs = new Set<string>();
  for (const state of states) {
    for (const r of Object.values(state.targets)) {
      if (r.snapshot.slice(0, r.snapshot.indexOf('@')) !== src.name) continue;
      if ((r.guid !== undefined && held.has(r.guid)) || (r.receivedGuid !== undefined && held.has(r.receivedGuid))) jobs.add(state.job);
    }
  }
  if (jobs.size === 0) return null;
  return { labels: live.snapshots.map((s) => s.label), jobs: [...jobs].sort() };
}

// Without the receiver (`check`): the snapshots of `src` that this dom0's jobs recorded as sent, when
// the source has none of them any more (no snapshot or bookmark with their GUIDs). The receivers
// that hold them hold history this dataset no longer shares: its next send there stops at
// RECEIVER_LINEAGE_REPLACED unless that copy was renamed aside meanwhile.
export function sentHistoryGone(src: ZfsDataset, states: readonly JobState[]): ReplacedLineage | null {
  const onSource = new Set<string>([...src.snapshots.map((s) => s.guid.toString()), ...src.bookmarks.map((b) => b.guid.toString())]);
  const labels = new Set<string>();
  const jobs = new Set<string>();
  for (const state of states) {
    for (const r of Object.values(state.targets)) {
      const at = r.snapshot.indexOf('@');
      if (at < 0 || r.snapshot.slice(0, at) !== src.name || (r.status !== 'sent' && r.status !== 'verified')) continue;
      const g = r.receivedGuid ?? r.guid;
      if (g === undefined) continue;
      if (onSource.has(g)) return null;
      labels.add(r.snapshot.slice(at + 1));
      jobs.add(state.job);
    }
  }
  return jobs.size === 0 ? null : { labels: [...labels].sort(), jobs: [...jobs].sort() };
}

// A name beside `receiving` to keep the old history under: '<receiving>-before-<day>', with '-2',
// '-3', … when the receiver already has that name.
export function asideName(receiving: string, day: string, exists: (name: string) => boolean): string {
  const base = `${receiving}-before-${day}`;
  if (!exists(base)) return base;
  for (let n = 2; ; n++) if (!exists(`${base}-${n}`)) return `${base}-${n}`;
}

// A ZFS name as one shell word (ZFS names may contain spaces; nothing else needs quoting).
export function shellWord(name: string): string {
  return /^[A-Za-z0-9_.:/@#+-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}
