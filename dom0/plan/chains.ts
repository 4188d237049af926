// One dataset's send chain (SPEC §4.4–4.6): its incremental base, the snapshots to send in createtxg
// order, and how the first one is sent (full, incremental from the base, or as a clone of its origin).
import type { ZfsDataset, ZfsSnapshot } from '../inventory/types.ts';
import type { TargetKind } from './types.ts';

/** An incremental base: a snapshot, or a bookmark (`zfs send -i ds#bm` works for the first step). */
export interface Base {
  name: string;
  createtxg: bigint;
  bookmark: boolean;
}

/** One snapshot to send; `snap` is null for a target snapshot that does not exist yet. */
export interface Step {
  name: string;
  kind: TargetKind;
  snap: ZfsSnapshot | null;
}

/** One dataset's part of the plan: its base, its steps, and how the first step is sent. */
export interface DatasetPlan {
  name: string;
  ds: ZfsDataset;
  /** A target dataset (inside an include designation) or only a holder of origin snapshots. */
  isTarget: boolean;
  designation: string;
  base: Base | null;
  /** Ascending createtxg; a pending target snapshot (snap null) is last. */
  steps: Step[];
  /** Full name of the origin snapshot when the first step is sent as a clone of it. */
  cloneOf: string | null;
  note?: string;
}

// The dataset's snapshots in createtxg order (the inventory promises this; verified in O(n)).
export function snapshotsByTxg(ds: ZfsDataset): readonly ZfsSnapshot[] {
  const s = ds.snapshots;
  for (let i = 1; i < s.length; i++) {
    if (s[i - 1]!.createtxg > s[i]!.createtxg) {
      return [...s].sort((a, b) => (a.createtxg < b.createtxg ? -1 : a.createtxg > b.createtxg ? 1 : 0));
    }
  }
  return s;
}

// Looks a snapshot up by full name.
export function findSnapshot(ds: ZfsDataset, fullName: string): ZfsSnapshot | undefined {
  for (const s of ds.snapshots) if (s.name === fullName) return s;
  return undefined;
}

/** What decides a target dataset's chain. */
export interface ChainInput {
  ds: ZfsDataset;
  /** '@label' */
  targetLabel: string;
  /** '@label' or 'beginning' */
  since: string;
  progressive: boolean;
}

/** What buildChain found for one target dataset. */
export interface ChainResult {
  base: Base | null;
  steps: Step[];
  /** Qubes driver snapshots between the base and the target that progressive left out (§4.5). */
  driverSnapshotsSkipped: number;
  /** The target snapshot, when it exists. */
  target: ZfsSnapshot | undefined;
}

// Base (§4.4) and steps (§4.5) of one target dataset.
export function buildChain(input: ChainInput): ChainResult {
  const { ds, targetLabel, since, progressive } = input;
  const targetName = ds.name + targetLabel;
  const sinceName = since === 'beginning' ? null : ds.name + since;
  // One pass finds both the target and the since snapshot.
  let target: ZfsSnapshot | undefined;
  let snap: ZfsSnapshot | undefined;
  for (const s of ds.snapshots) {
    if (s.name === targetName) target = s;
    else if (s.name === sinceName) snap = s;
  }
  let base: Base | null = null;
  if (since !== 'beginning') {
    if (snap) {
      base = { name: snap.name, createtxg: snap.createtxg, bookmark: false };
    } else {
      const bmName = ds.name + '#' + since.slice(1);
      const bm = ds.bookmarks.find((b) => b.name === bmName);
      if (bm) base = { name: bm.name, createtxg: bm.createtxg, bookmark: true };
    }
  }
  const steps: Step[] = [];
  let driverSnapshotsSkipped = 0;
  if (progressive) {
    for (const s of snapshotsByTxg(ds)) {
      if (s.name === targetName) continue;
      if (base !== null && s.createtxg <= base.createtxg) continue;
      if (target && s.createtxg >= target.createtxg) continue;
      // qubesd creates and prunes these at every start/stop: a plan holding them would break.
      if (isDriverSnapshot(s.name)) {
        driverSnapshotsSkipped++;
        continue;
      }
      steps.push({ name: s.name, kind: 'intermediate', snap: s });
    }
  }
  steps.push({ name: targetName, kind: 'target', snap: target ?? null });
  return { base, steps, driverSnapshotsSkipped, target };
}

// The Qubes zfs driver's own snapshots (`@qubes-clean-*`, `@qubes:before-start:*` and other `@qubes:*`).
export function isDriverSnapshot(fullName: string): boolean {
  const label = fullName.slice(fullName.indexOf('@') + 1);
  return label.startsWith('qubes-clean-') || label.startsWith('qubes:');
}

// Adds an origin snapshot to a chain in createtxg order. False when it would come at or before the
// base: the receiver can only append after the base, so the origin cannot be sent in this backup.
export function insertOrigin(plan: DatasetPlan, snap: ZfsSnapshot): boolean {
  if (plan.steps.some((s) => s.name === snap.name)) return true;
  if (plan.base !== null && snap.createtxg <= plan.base.createtxg) return false;
  let i = plan.steps.length;
  while (i > 0) {
    const prev = plan.steps[i - 1]!;
    if (prev.snap !== null && prev.snap.createtxg < snap.createtxg) break;
    i--;
  }
  plan.steps.splice(i, 0, { name: snap.name, kind: 'origin', snap });
  return true;
}
