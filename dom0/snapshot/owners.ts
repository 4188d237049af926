// Which qube a dataset belongs to: a qube's root datasets are the parents of its volumes' vids
// (`<container>/<qube>`, as the Qubes zfs driver lays them out); everything inside belongs to it.
import { isSameOrDescendant, parentOf } from '../../shared/zfs-names.ts';
import type { Qube, QubesInventory, ZfsInventory } from '../inventory/types.ts';

// A qube and its root datasets.
export interface QubeRoots {
  qube: Qube;
  /** Dataset names of the qube's root datasets (one per ZFS pool holding its volumes). */
  roots: string[];
}

// The root datasets of every qube whose volumes live on ZFS (vid is a dataset, or the pool is zfs).
export function qubeRoots(qubes: QubesInventory, zfs: ZfsInventory): QubeRoots[] {
  const zfsPools = new Set(qubes.pools.filter((p) => p.driver === 'zfs').map((p) => p.name));
  const names = new Set(zfs.datasets.map((d) => d.name));
  const out: QubeRoots[] = [];
  for (const qube of qubes.qubes) {
    const roots = new Set<string>();
    for (const v of qube.volumes) {
      if (!v.vid || !(zfsPools.has(v.pool) || names.has(v.vid))) continue;
      const root = parentOf(v.vid);
      if (root !== null) roots.add(root);
    }
    if (roots.size > 0) out.push({ qube, roots: [...roots].sort() });
  }
  return out;
}

// The qube that owns `dataset`, or null for dom0's own datasets.
export function ownerOf(dataset: string, roots: readonly QubeRoots[]): Qube | null {
  let best: { qube: Qube; len: number } | null = null;
  for (const r of roots) {
    for (const root of r.roots) {
      if (isSameOrDescendant(dataset, root) && (!best || root.length > best.len)) best = { qube: r.qube, len: root.length };
    }
  }
  return best?.qube ?? null;
}
