// A small system for snapshot planning and command tests: qube `work` with volumes in two pools,
// qube `vault`, and dom0 datasets in two pools.
import type { QubesInventory, ZfsDataset, ZfsInventory } from '../../../dom0/inventory/types.ts';
import type { Target } from '../../../dom0/plan/types.ts';
import type { JobState } from '../../../dom0/metadata/types.ts';

let txg = 100n;
// A dataset with the given snapshots (names after '@').
export function ds(name: string, type: 'filesystem' | 'volume', opts: { snapshots?: [string, bigint][]; dirty?: 'on' | 'off' } = {}): ZfsDataset {
  return {
    name, type, guid: BigInt(name.length) * 1000n + 7n, createtxg: txg++, origin: null, encrypted: false, receiveResumeToken: null,
    qubesDirty: opts.dirty ?? null,
    snapshots: (opts.snapshots ?? []).map(([l, guid]) => ({ name: `${name}@${l}`, guid, createtxg: txg++, creation: 1n })),
    bookmarks: [],
  };
}

// The ZFS side; `extra` overrides datasets by name.
export function zfsOf(extra: ZfsDataset[] = []): ZfsInventory {
  const base = [
    ds('tank', 'filesystem'), ds('tank/qubes', 'filesystem'),
    ds('tank/qubes/work', 'filesystem'), ds('tank/qubes/work/private', 'volume', { dirty: 'off' }),
    ds('aux', 'filesystem'), ds('aux/qubes', 'filesystem'), ds('aux/qubes/work', 'filesystem'), ds('aux/qubes/work/root', 'volume', { dirty: 'off' }),
    ds('tank/qubes/vault', 'filesystem'), ds('tank/qubes/vault/private', 'volume', { dirty: 'off' }),
    ds('tank/dom0', 'filesystem'), ds('aux/dom0', 'filesystem'),
  ];
  const byName = new Map(base.map((d) => [d.name, d]));
  for (const e of extra) byName.set(e.name, e);
  return { datasets: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
}

const vol = (name: string, pool: string, vid: string, saveOnStop = true) => ({
  name, pool, vid, saveOnStop, snapOnStart: false, rw: true, source: '', revisionsToKeep: 1, ephemeral: false,
});

// The Qubes side with the given power states.
export function qubesOf(states: { work?: string; vault?: string } = {}): QubesInventory {
  return {
    qubes: [
      { name: 'work', klass: 'StandaloneVM', state: states.work ?? 'Halted', volumes: [vol('private', 'zfs-main', 'tank/qubes/work/private'), vol('root', 'zfs-aux', 'aux/qubes/work/root'), vol('volatile', 'zfs-main', 'tank/qubes/work/volatile', false)] },
      { name: 'vault', klass: 'AppVM', state: states.vault ?? 'Halted', volumes: [vol('private', 'zfs-main', 'tank/qubes/vault/private')] },
    ],
    pools: [
      { name: 'zfs-main', driver: 'zfs', container: 'tank/qubes', config: {} },
      { name: 'zfs-aux', driver: 'zfs', container: 'aux/qubes', config: {} },
    ],
  };
}

const TARGET_DATASETS = ['tank/qubes/work', 'tank/qubes/work/private', 'aux/qubes/work', 'aux/qubes/work/root', 'tank/qubes/vault', 'tank/qubes/vault/private', 'tank/dom0', 'aux/dom0'];

// The targets of the job, `exists` filled from the inventory.
export function targetsOf(zfs: ZfsInventory, label = '@l'): Target[] {
  return TARGET_DATASETS.map((d) => {
    const snap = zfs.datasets.find((x) => x.name === d)?.snapshots.find((s) => s.name === `${d}${label}`);
    const t: Target = { dataset: d, snapshot: `${d}${label}`, kind: 'target', send: { type: 'full' }, exists: snap !== undefined };
    if (snap) t.guid = snap.guid;
    return t;
  });
}

// An empty job state.
export function emptyState(): JobState {
  return { version: 1, job: 'j', configSha256: '0'.repeat(64), importedAt: 'x', targets: {} };
}
