// The `snapshot` command's decisions as a pure function (SPEC §5): for every `target` of the job,
// verify an existing `@label` (and its recorded GUID), or create it when allowed and its qube is
// not in use. Intermediate and origin snapshots are verified and recorded the same way, never created. Creations are batched into one atomic `zfs snapshot` per qube per pool (a qube is
// never half-snapshotted); dom0's own datasets are snapshotted live, batched per pool.
import { poolOf } from '../../shared/zfs-names.ts';
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import type { QubesInventory, ZfsDataset, ZfsInventory } from '../inventory/types.ts';
import type { JobState } from '../metadata/types.ts';
import type { Target } from '../plan/types.ts';
import { ownerOf, qubeRoots } from './owners.ts';

// Everything the planner decides from: collected before it runs.
export interface SnapshotPlanInput {
  targets: readonly Target[];
  snapshotCreation: boolean;
  zfs: ZfsInventory;
  qubes: QubesInventory;
  state: JobState;
}

// A target snapshot that exists with the expected GUID.
export interface VerifiedSnapshot {
  snapshot: string;
  dataset: string;
  guid: bigint;
  /** The owning qube, or null for a dom0 dataset. */
  qube: string | null;
  /** True when this run sees the snapshot for the first time (not yet in the job state). */
  newlyRecorded: boolean;
}

// One atomic `zfs snapshot` command.
export interface SnapshotBatch {
  /** The owning qube, or null for dom0 datasets (snapshotted live). */
  qube: string | null;
  pool: string;
  /** Full snapshot names, created together by one `zfs snapshot`. */
  snapshots: string[];
}

// Why a snapshot waits.
export type PendingReason = 'qube-running' | 'volume-dirty' | 'blocked-by-error';

// A snapshot left for a later run.
export interface PendingSnapshot {
  snapshot: string;
  dataset: string;
  qube: string;
  reason: PendingReason;
  /** Why, in words, naming what to do. */
  message: string;
}

// The planner's decision: verify these, create these batches, leave these, report these errors.
export interface SnapshotPlan {
  verified: VerifiedSnapshot[];
  create: SnapshotBatch[];
  pending: PendingSnapshot[];
  errors: Finding[];
}

function inUseReason(qube: { name: string; state: string }, datasets: readonly ZfsDataset[]): { reason: PendingReason; message: string } | null {
  if (qube.state !== 'Halted') {
    return { reason: 'qube-running', message: `qube ${qube.name} is ${qube.state}: shut it down (qvm-shutdown --wait ${qube.name}) and run snapshot again` };
  }
  const dirty = datasets.filter((d) => d.qubesDirty === 'on').map((d) => d.name);
  if (dirty.length > 0) {
    return {
      reason: 'volume-dirty',
      message: `qube ${qube.name} is Halted but ${dirty.join(', ')} ${dirty.length === 1 ? 'is' : 'are'} still marked in use (org.qubes:dirty=on): the Qubes storage driver has not finished stopping it; wait a moment and run snapshot again (after a dom0 crash, start and cleanly shut down ${qube.name} once)`,
    };
  }
  return null;
}

// Decides what `snapshot` does; performs no I/O.
export function planSnapshots(input: SnapshotPlanInput): SnapshotPlan {
  const plan: SnapshotPlan = { verified: [], create: [], pending: [], errors: [] };
  const byName = new Map(input.zfs.datasets.map((d) => [d.name, d]));
  const roots = qubeRoots(input.qubes, input.zfs);
  const qubeDatasets = new Map<string, ZfsDataset[]>();
  for (const r of roots) {
    qubeDatasets.set(r.qube.name, input.zfs.datasets.filter((d) => r.roots.some((root) => d.name === root || d.name.startsWith(root + '/'))));
  }
  // Missing snapshots per owner (qube name or '' for dom0), in target order.
  const missing = new Map<string, { dataset: string; snapshot: string }[]>();
  const qubesWithErrors = new Set<string>();

  for (const t of input.targets) {
    const dataset = byName.get(t.dataset);
    const owner = ownerOf(t.dataset, roots);
    const recorded = input.state.targets[t.snapshot];
    const fail = (code: string, message: string): void => {
      plan.errors.push(finding(code, 'error', message, { subject: t.snapshot, details: owner ? { qube: owner.name } : undefined }));
      if (owner) qubesWithErrors.add(owner.name);
    };
    if (!dataset) {
      fail('TARGET_DATASET_MISSING', `the dataset ${t.dataset} no longer exists, so ${t.snapshot} cannot be verified or created; check the job with \`check\``);
      continue;
    }
    const existing = dataset.snapshots.find((s) => s.name === t.snapshot);
    if (existing) {
      if (recorded?.guid !== undefined && recorded.guid !== existing.guid.toString()) {
        fail('SNAPSHOT_GUID_CHANGED', `${t.snapshot} now has GUID ${existing.guid} but GUID ${recorded.guid} was recorded when it was first snapshotted: the dataset or snapshot was replaced (for example by qvm-volume import, or by destroying and re-creating it). This tool will not silently start over; re-import the job with \`import FILE --replace\` to begin this backup again`);
        continue;
      }
      plan.verified.push({ snapshot: t.snapshot, dataset: t.dataset, guid: existing.guid, qube: owner?.name ?? null, newlyRecorded: recorded?.guid === undefined });
      continue;
    }
    if (recorded?.guid === undefined && t.kind !== 'target') {
      // Intermediate and origin snapshots are never created by this tool: they must already exist.
      fail('REQUIRED_SNAPSHOT_MISSING', `${t.snapshot} (${t.kind} snapshot) no longer exists; the backup needs it. Run \`calc\` to see the current targets`);
      continue;
    }
    if (recorded?.guid !== undefined) {
      fail('SNAPSHOT_DISAPPEARED', `${t.snapshot} (GUID ${recorded.guid}) was recorded by an earlier run but no longer exists: it was destroyed, or the dataset was replaced (for example by qvm-volume import or qvm-volume revert). This tool will not silently create a different one; re-import the job with \`import FILE --replace\` to begin this backup again`);
      continue;
    }
    if (!input.snapshotCreation) {
      fail('SNAPSHOT_CREATION_DISABLED', `${t.snapshot} does not exist and the job has allowed-behaviours.snapshot-creation: no; create it yourself (zfs snapshot ${t.snapshot}) or allow creation in the job file and re-import it`);
      continue;
    }
    const key = owner?.name ?? '';
    const list = missing.get(key) ?? [];
    list.push({ dataset: t.dataset, snapshot: t.snapshot });
    missing.set(key, list);
  }

  for (const [key, items] of missing) {
    const qube = key === '' ? null : input.qubes.qubes.find((q) => q.name === key) ?? null;
    if (qube) {
      const blocked = qubesWithErrors.has(qube.name)
        ? { reason: 'blocked-by-error' as const, message: `not snapshotted because another snapshot of qube ${qube.name} has an error (above): a qube is snapshotted all at once or not at all` }
        : inUseReason(qube, qubeDatasets.get(qube.name) ?? []);
      if (blocked) {
        for (const it of items) plan.pending.push({ ...it, qube: qube.name, ...blocked });
        continue;
      }
    }
    const byPool = new Map<string, string[]>();
    for (const it of items) {
      const pool = poolOf(it.dataset);
      byPool.set(pool, [...(byPool.get(pool) ?? []), it.snapshot]);
    }
    for (const [pool, snapshots] of byPool) plan.create.push({ qube: qube?.name ?? null, pool, snapshots });
  }
  return plan;
}

/** Exit status of a snapshot run: 1 errors, 3 work pending, 0 all done. */
export function snapshotExitCode(errors: number, pending: number): 0 | 1 | 3 {
  return errors > 0 ? 1 : pending > 0 ? 3 : 0;
}
