// What the tool knows about the system: a snapshot of ZFS (from one recursive `zfs list` per
// need) and of Qubes (from the Admin API). The planning core takes these as plain data.
// 64-bit values (GUIDs, txgs, byte counts) are bigint, never number.

export interface ZfsSnapshot {
  /** Full name, 'pool/a/b@label'. */
  name: string;
  guid: bigint;
  createtxg: bigint;
  /** Seconds since the epoch (1 s resolution: never use it for ordering). */
  creation: bigint;
}

export interface ZfsBookmark {
  /** Full name, 'pool/a/b#label'. */
  name: string;
  guid: bigint;
  createtxg: bigint;
}

export interface ZfsDataset {
  name: string;
  type: 'filesystem' | 'volume';
  guid: bigint;
  createtxg: bigint;
  /** Origin snapshot's full name for a clone, else null. */
  origin: string | null;
  /** True when native encryption is on for this dataset. */
  encrypted: boolean;
  /** `receive_resume_token`, or null for '-'. */
  receiveResumeToken: string | null;
  /** The Qubes driver's `org.qubes:dirty` user property: 'on', 'off', or null when unset. */
  qubesDirty: 'on' | 'off' | null;
  /** Snapshots of this dataset, sorted by createtxg ascending. */
  snapshots: ZfsSnapshot[];
  /** Bookmarks of this dataset, sorted by createtxg ascending. */
  bookmarks: ZfsBookmark[];
}

export interface ZfsInventory {
  /** Every filesystem and volume the tool can see, sorted by name. */
  datasets: ZfsDataset[];
}

export interface QubesVolume {
  /** Volume name: 'root', 'private', 'volatile', 'kernel'. */
  name: string;
  /** Qubes pool name. */
  pool: string;
  /** The volume id; for the zfs driver the dataset name '<container>/<qube>/<volume>'. */
  vid: string;
  saveOnStop: boolean;
  snapOnStart: boolean;
  rw: boolean;
  /** Source volume (pool:vid) for snap_on_start volumes, else ''. */
  source: string;
  revisionsToKeep: number;
  ephemeral: boolean;
}

export interface Qube {
  name: string;
  /** 'AdminVM', 'AppVM', 'TemplateVM', 'StandaloneVM', 'DispVM'. */
  klass: string;
  /** Power state: 'Halted', 'Running', 'Paused', 'Transient', 'Halting', 'Dying', 'Crashed', 'NA'. */
  state: string;
  volumes: QubesVolume[];
}

export interface QubesPool {
  name: string;
  driver: string;
  /** The zfs driver's `container` dataset; undefined for other drivers. */
  container?: string;
  /** Every key=value the Admin API returned for the pool. */
  config: Record<string, string>;
}

export interface QubesInventory {
  /** Every qube except dom0 (the AdminVM is listed separately). */
  qubes: Qube[];
  pools: QubesPool[];
}
