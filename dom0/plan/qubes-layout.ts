// What the Qubes inventory says about ZFS names: which pools use the zfs driver, which dataset each
// volume is (its vid), which volumes are transient, and where the driver keeps its work datasets.
import type { Qube, QubesInventory, QubesPool, QubesVolume } from '../inventory/types.ts';
import { parentOf } from '../../shared/zfs-names.ts';

/** The driver's work datasets directly under a pool's container (SPEC §4.3). */
export const DRIVER_WORK_DATASETS = ['.tmp', '.exported', '.importing'] as const;

/** The qube and volume a vid belongs to. */
export interface VolumeOwner {
  qube: Qube;
  volume: QubesVolume;
}

/** The Qubes inventory indexed for the planner. */
export interface QubesLayout {
  qubeByName: ReadonlyMap<string, Qube>;
  /** Pools whose driver is `zfs`, by pool name. */
  zfsPools: ReadonlyMap<string, QubesPool>;
  /** The containers of the zfs pools (their `container` option). */
  containers: readonly string[];
  /** Every volume in a zfs pool, by vid (= its dataset name). */
  volumeByVid: ReadonlyMap<string, VolumeOwner>;
  /** vids of volumes that do not survive a qube stop (save_on_stop=False), plus the root datasets
   *  that hold only such volumes (a disposable's <container>/<qube>): nothing there outlives the qube. */
  transientVids: ReadonlySet<string>;
  /** Each qube's root datasets (vid parents in zfs pools), in volume order, deduplicated. */
  rootsByQube: ReadonlyMap<string, readonly string[]>;
  /** Which qube a root dataset belongs to. */
  qubeByRoot: ReadonlyMap<string, string>;
}

// The zfs driver's container dataset of a pool, from the typed field or the raw Admin API config.
export function containerOf(pool: QubesPool): string | undefined {
  const c = pool.container ?? pool.config['container'];
  return c === undefined || c === '' ? undefined : c;
}

// Indexes the Qubes inventory once; everything else looks things up here.
export function layoutOf(qubes: QubesInventory): QubesLayout {
  const qubeByName = new Map<string, Qube>();
  const zfsPools = new Map<string, QubesPool>();
  const containers: string[] = [];
  for (const p of qubes.pools) {
    if (p.driver !== 'zfs') continue;
    zfsPools.set(p.name, p);
    const c = containerOf(p);
    if (c !== undefined && !containers.includes(c)) containers.push(c);
  }
  const volumeByVid = new Map<string, VolumeOwner>();
  const transientVids = new Set<string>();
  const rootsByQube = new Map<string, string[]>();
  const qubeByRoot = new Map<string, string>();
  for (const q of qubes.qubes) {
    qubeByName.set(q.name, q);
    const roots: string[] = [];
    for (const v of q.volumes) {
      if (!zfsPools.has(v.pool) || v.vid === '') continue;
      volumeByVid.set(v.vid, { qube: q, volume: v });
      if (!v.saveOnStop) transientVids.add(v.vid);
      const root = parentOf(v.vid);
      if (root !== null && !roots.includes(root)) {
        roots.push(root);
        if (!qubeByRoot.has(root)) qubeByRoot.set(root, q.name);
      }
    }
    rootsByQube.set(q.name, roots);
  }
  const persistentRoots = new Set<string>();
  for (const [vid, o] of volumeByVid) if (o.volume.saveOnStop) persistentRoots.add(parentOf(vid) ?? vid);
  for (const root of qubeByRoot.keys()) if (!persistentRoots.has(root)) transientVids.add(root);
  return { qubeByName, zfsPools, containers, volumeByVid, transientVids, rootsByQube, qubeByRoot };
}

// True for `<container>/.tmp`, `.exported`, `.importing` of a zfs pool and anything below them.
export function isDriverWorkDataset(layout: QubesLayout, name: string): boolean {
  for (const c of layout.containers) {
    if (!name.startsWith(c + '/.')) continue;
    const rest = name.slice(c.length + 1);
    for (const w of DRIVER_WORK_DATASETS) {
      if (rest === w || rest.startsWith(w + '/')) return true;
    }
  }
  return false;
}

// True for a transient volume (or, defensively, anything below one): never backed up.
export function isTransient(layout: QubesLayout, name: string): boolean {
  if (layout.transientVids.size === 0) return false;
  if (layout.transientVids.has(name)) return true;
  let i = name.lastIndexOf('/');
  while (i > 0) {
    if (layout.transientVids.has(name.slice(0, i))) return true;
    i = name.lastIndexOf('/', i - 1);
  }
  return false;
}

// Receive-side partial state ('%recv' and friends) is never a real dataset to back up.
export function isPartialReceive(name: string): boolean {
  return name.includes('%');
}
