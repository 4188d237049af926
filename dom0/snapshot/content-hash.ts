// Which recorded snapshots `snapshot --content-hash` reads (pure): every volume snapshot of the job
// that the state records with its GUID and no content hash yet, once each, in target order.
import type { ZfsInventory } from '../inventory/types.ts';
import type { JobState } from '../metadata/types.ts';

/** A volume snapshot to hash. */
export interface HashItem {
  snapshot: string;
  dataset: string;
  /** The GUID recorded by snapshot (the read is refused if the snapshot has another one now). */
  guid: bigint;
  qube: string | null;
}

// The snapshots to hash among `recorded` (this run's created and verified ones).
export function snapshotsToHash(recorded: readonly { snapshot: string; qube: string | null }[], zfs: ZfsInventory, state: JobState): HashItem[] {
  const volumes = new Set(zfs.datasets.filter((d) => d.type === 'volume').map((d) => d.name));
  const out: HashItem[] = [];
  const seen = new Set<string>();
  for (const r of recorded) {
    const dataset = r.snapshot.slice(0, r.snapshot.indexOf('@'));
    const rec = state.targets[r.snapshot];
    if (seen.has(r.snapshot) || !volumes.has(dataset) || rec?.guid === undefined || rec.contentHash !== undefined) continue;
    seen.add(r.snapshot);
    out.push({ snapshot: r.snapshot, dataset, guid: BigInt(rec.guid), qube: r.qube });
  }
  return out;
}
