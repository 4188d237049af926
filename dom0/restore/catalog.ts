// What the receiver holds that a restore can use, from its validated inventory alone (pure): a qube
// backup is a received filesystem `<root>/<source container>/<qube>` with a snapshot @L whose
// direct child volumes have @L too (send mirrors the source names; the qube's settings document
// is stored on that filesystem snapshot). The agent's own export clones (`<root>/.…`) are never
// part of it. Everything here is the backup qube's word: names and GUIDs only, no sizes (those
// come from the settings document, checked by the restore).
import type { ReceiverInventory } from '../receiver-link/types.ts';
import { QUBE_NAME_RE } from '../settings/schema.ts';

/** One backed-up volume snapshot on the receiver. */
export interface HeldVolume {
  /** The Qubes volume name (the child dataset's last component: private, root, …). */
  name: string;
  /** The received volume dataset. */
  dataset: string;
  /** The source vid it mirrors (the dataset without the receive root). */
  sourceVid: string;
  /** `dataset@label` on the receiver. */
  snapshot: string;
  guid: bigint;
}

/** One qube backed up under one label. */
export interface HeldBackup {
  qube: string;
  /** The label with its '@'. */
  label: string;
  /** The received qube root filesystem, and its snapshot carrying the settings. */
  rootDataset: string;
  rootSnapshot: string;
  /** The source qube root dataset (e.g. mainpool/qubes/work). */
  sourceRoot: string;
  createtxg: bigint;
  volumes: HeldVolume[];
}

/** Every qube backup under the receive root, by qube then label (oldest label first). */
export function catalogue(inventory: ReceiverInventory): HeldBackup[] {
  const root = inventory.root;
  const out: HeldBackup[] = [];
  const children = new Map<string, string[]>();
  for (const d of inventory.datasets.values()) {
    const slash = d.name.lastIndexOf('/');
    if (slash <= 0) continue;
    const parent = d.name.slice(0, slash);
    const list = children.get(parent) ?? [];
    list.push(d.name);
    children.set(parent, list);
  }
  for (const d of inventory.datasets.values()) {
    if (d.type !== 'filesystem' || d.name === root || !d.name.startsWith(`${root}/`)) continue;
    const rel = d.name.slice(root.length + 1);
    if (rel.startsWith('.') || d.inconsistent) continue;
    const qube = rel.slice(rel.lastIndexOf('/') + 1);
    if (!QUBE_NAME_RE.test(qube) || !rel.includes('/')) continue;
    const vols = (children.get(d.name) ?? []).map((n) => inventory.datasets.get(n)!).filter((v) => v.type === 'volume' && !v.inconsistent);
    if (vols.length === 0) continue;
    for (const s of d.snapshots) {
      const volumes: HeldVolume[] = [];
      for (const v of vols) {
        const snap = v.snapshots.find((x) => x.label === s.label);
        if (!snap) continue;
        volumes.push({ name: v.name.slice(d.name.length + 1), dataset: v.name, sourceVid: v.name.slice(root.length + 1), snapshot: snap.name, guid: snap.guid });
      }
      if (volumes.length === 0) continue;
      volumes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      out.push({ qube, label: `@${s.label}`, rootDataset: d.name, rootSnapshot: s.name, sourceRoot: rel, createtxg: s.createtxg, volumes });
    }
  }
  out.sort((a, b) => (a.qube < b.qube ? -1 : a.qube > b.qube ? 1 : a.createtxg < b.createtxg ? -1 : a.createtxg > b.createtxg ? 1 : 0));
  return out;
}

/** The backup of `qube` to restore: the one with `label`, else the newest; null when none. */
export function pickBackup(held: readonly HeldBackup[], qube: string, label: string | null): HeldBackup | null {
  const mine = held.filter((h) => h.qube === qube && (label === null || h.label === label));
  return mine[mine.length - 1] ?? null;
}
