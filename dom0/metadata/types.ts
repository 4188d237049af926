// The job state kept in the metadata directory (metadata/<job>/state.json). 64-bit values are
// decimal strings on disk.

export type TargetStatus = 'pending' | 'snapshotted' | 'sent' | 'verified';

export interface TargetRecord {
  /** Full snapshot name, 'pool/x@label'. */
  snapshot: string;
  status: TargetStatus;
  /** The snapshot's GUID as a decimal string, once seen (at `snapshot` time). */
  guid?: string;
  /** ISO time when this tool created or first verified the snapshot. */
  snapshottedAt?: string;
  /** True when this tool created the snapshot, false when it already existed. */
  createdByTool?: boolean;
  /** Bytes forwarded for this target (decimal string), once `send` runs. */
  bytes?: string;
  sentAt?: string;
  /** The GUID the receiver reported for the received snapshot (decimal string). */
  receivedGuid?: string;
  /** True when the step that completed it continued from a resume token. */
  resumed?: boolean;
  /** ISO time when the receiver was last seen holding it with the source's GUID. */
  verifiedAt?: string;
  /** `snapshot --content-hash`: SHA-256 of a volume snapshot's bytes (all volsize of them), read in dom0. */
  contentHash?: ContentHashRecord;
}

/** A volume snapshot's content hash as recorded in dom0. */
export interface ContentHashRecord {
  /** 64 lowercase hex digits. */
  sha256: string;
  /** The number of bytes hashed (the snapshot's volsize), decimal string. */
  bytes: string;
}

/** The stream flags fixed for one receiving lineage at its first full (or clone) send. */
export interface LineageRecord {
  raw: boolean;
  largeBlocks: boolean;
  compressed: boolean;
  embedded: boolean;
  /** The dataset on the receiver. */
  receiving: string;
  fixedAt: string;
}

/** The step a `send` is working on right now (rewritten every few seconds; cleared when it ends). */
export interface StepInProgress {
  snapshot: string;
  receiving: string;
  startedAt: string;
  updatedAt: string;
  /** Bytes forwarded in this run's attempt (decimal string). */
  bytes: string;
  /** The `zfs send -nvP` estimate (decimal string), when known. */
  estimate?: string;
  resumed: boolean;
  pid: number;
}

export interface JobState {
  version: 1;
  job: string;
  /** SHA-256 of the imported job file, hex. */
  configSha256: string;
  importedAt: string;
  /** Keyed by full snapshot name. */
  targets: Record<string, TargetRecord>;
  /** Keyed by source dataset: the send flags of its receiving lineage. */
  lineages?: Record<string, LineageRecord>;
  /** Set while a `send` step runs (and left behind by one that was killed). */
  inProgress?: StepInProgress | null;
  /** Settings documents captured at `snapshot`: snapshot label ('@x') → qube → record. */
  settings?: Record<string, Record<string, SettingsRecord>>;
}

/** Where one qube's settings document for one label is, and its hash (dom0/settings/). */
export interface SettingsRecord {
  /** SHA-256 of the document's bytes (canonical JSON), hex. */
  sha256: string;
  /** Size of the document in bytes. */
  bytes: number;
  capturedAt: string;
  /** The file, relative to the job directory: settings/<label without @>/<qube>.json. */
  file: string;
}
