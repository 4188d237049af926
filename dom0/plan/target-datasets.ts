// SPEC §4.3: which datasets an include designation brings into the backup — its subtree, minus void
// subtrees, transient qube volumes, the driver's work datasets and partial-receive state.
import type { ZfsDataset } from '../inventory/types.ts';
import type { DatasetIndex } from './dataset-index.ts';
import { descendantsOf, nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import { isDriverWorkDataset, isPartialReceive, isTransient } from './qubes-layout.ts';
import type { ExcludedDataset, ExclusionReason } from './types.ts';

/** A dataset that gets backed up, with the include designation that brought it in. */
export interface TargetDataset {
  dataset: ZfsDataset;
  /** The nearest include designation above (or at) the dataset. */
  designation: string;
}

/** The target datasets, and the datasets inside includes that the rules left out. */
export interface TargetSelection {
  /** Target datasets, each designation subtree in name order (parents before children). */
  selected: TargetDataset[];
  excluded: ExcludedDataset[];
}

// Why `name` can never be a target dataset, whatever its designation (null when it can be).
export function structuralExclusion(layout: QubesLayout, name: string): ExclusionReason | null {
  if (isPartialReceive(name)) return 'partial-receive';
  if (isDriverWorkDataset(layout, name)) return 'driver-work';
  if (isTransient(layout, name)) return 'transient';
  return null;
}

// Walks each outermost include designation's subtree once: O(datasets × depth) overall.
export function selectTargetDatasets(index: DatasetIndex, layout: QubesLayout, maps: DesignationMaps): TargetSelection {
  const selected: TargetDataset[] = [];
  const excluded: ExcludedDataset[] = [];
  const roots = [...maps.include.keys()].filter((d) => nearestIn(maps.include, d, false) === null).sort();
  for (const root of roots) {
    const self = index.byName.get(root);
    const subtree = self ? [self, ...descendantsOf(index, root)] : descendantsOf(index, root);
    for (const ds of subtree) {
      const designation = nearestIn(maps.include, ds.name, true) ?? root;
      const voidBy = nearestIn(maps.void, ds.name, true);
      if (voidBy !== null) {
        excluded.push({ dataset: ds.name, reason: 'void', designation, by: voidBy });
        continue;
      }
      const reason = structuralExclusion(layout, ds.name);
      if (reason !== null) {
        const e: ExcludedDataset = { dataset: ds.name, reason, designation };
        if (reason === 'transient') {
          const owner = layout.volumeByVid.get(ds.name)?.qube.name ?? layout.qubeByRoot.get(ds.name);
          if (owner !== undefined) e.by = owner;
        }
        excluded.push(e);
        continue;
      }
      selected.push({ dataset: ds, designation });
    }
  }
  return { selected, excluded };
}
