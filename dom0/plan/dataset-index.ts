// A sorted view of the ZFS inventory: name lookups, subtree ranges and ancestor walks without ever
// comparing every dataset with every other (planning must stay fast at thousands of datasets).
import type { ZfsDataset, ZfsInventory } from '../inventory/types.ts';

/** The inventory's datasets sorted by name, and by name. */
export interface DatasetIndex {
  /** Datasets sorted by name in UTF-16 code-unit order (the order subtree ranges rely on). */
  readonly sorted: readonly ZfsDataset[];
  readonly byName: ReadonlyMap<string, ZfsDataset>;
}

// Plain code-unit comparison: locale-independent and the same order the subtree ranges assume.
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Builds the index; the inventory's own order is not trusted (zfs list's sort need not match ours).
export function indexDatasets(zfs: ZfsInventory): DatasetIndex {
  const sorted = [...zfs.datasets].sort((a, b) => compareNames(a.name, b.name));
  const byName = new Map<string, ZfsDataset>();
  for (const d of sorted) byName.set(d.name, d);
  return { sorted, byName };
}

function lowerBound(sorted: readonly ZfsDataset[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.name < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The strict descendants of `root`: contiguous in code-unit order, between "root/" and "root0"
// ('0' is the character after '/'), even when siblings like "root-x" or "root.x" exist.
export function descendantsOf(index: DatasetIndex, root: string): readonly ZfsDataset[] {
  const start = lowerBound(index.sorted, root + '/');
  const end = lowerBound(index.sorted, root + '0');
  return index.sorted.slice(start, end);
}

// `root` (when it exists) followed by its descendants, parents before children.
export function subtreeOf(index: DatasetIndex, root: string): ZfsDataset[] {
  const self = index.byName.get(root);
  const below = descendantsOf(index, root);
  return self ? [self, ...below] : [...below];
}

// Every proper ancestor of a dataset name, nearest first ('a/b/c' → 'a/b', 'a').
export function ancestorsOf(name: string): string[] {
  const out: string[] = [];
  let i = name.lastIndexOf('/');
  while (i > 0) {
    out.push(name.slice(0, i));
    i = name.lastIndexOf('/', i - 1);
  }
  return out;
}

/** Anything with `has(name)`: a Set of names or a Map keyed by name. */
export interface NameSet {
  readonly size: number;
  has(name: string): boolean;
}

// The nearest key of `map` that is `name` itself (when includeSelf) or one of its ancestors.
export function nearestIn(map: NameSet, name: string, includeSelf: boolean): string | null {
  if (map.size === 0) return null;
  if (includeSelf && map.has(name)) return name;
  let i = name.lastIndexOf('/');
  while (i > 0) {
    const a = name.slice(0, i);
    if (map.has(a)) return a;
    i = name.lastIndexOf('/', i - 1);
  }
  return null;
}
