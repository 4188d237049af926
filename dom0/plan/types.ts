// Outputs of the pure planning core: designations (what the job file means on this system) and
// backup targets (the snapshots that will be sent, in order).
import type { Designation, Position } from '../job/types.ts';

export interface ResolvedDesignation {
  dataset: string;
  designation: Designation;
  /** The config object it came from: a qube name or a dataset name. */
  object: string;
  objectType: 'qube' | 'dataset';
  group: string;
  pos?: Position;
}

export type TargetKind = 'target' | 'intermediate' | 'origin';

export type SendType =
  | { type: 'full' }
  | { type: 'incremental'; from: string }
  | { type: 'clone'; origin: string };

export type TargetState = 'pending' | 'snapshotted' | 'sent' | 'verified';

export interface Target {
  dataset: string;
  /** Full snapshot name 'pool/x@label'. */
  snapshot: string;
  kind: TargetKind;
  send: SendType;
  /** Whether the snapshot exists on the source now. */
  exists: boolean;
  /** GUID of the snapshot when it exists. */
  guid?: bigint;
  /** Which include designation put this dataset in the backup. */
  designation?: string;
  /** createtxg of the snapshot when it exists (the order within one dataset). */
  createtxg?: bigint;
  /** The qube whose volume (or root dataset) this is, when it belongs to one. */
  qube?: string;
  /** Why the plan differs from the obvious one (e.g. an origin that could not be preserved). */
  note?: string;
}

/** Why a dataset inside an include designation is nevertheless not a target dataset. */
export type ExclusionReason = 'void' | 'transient' | 'driver-work' | 'partial-receive';

/** A dataset inside an include designation that the rules of SPEC §4.3 leave out. */
export interface ExcludedDataset {
  dataset: string;
  reason: ExclusionReason;
  /** The include designation it lies in. */
  designation: string;
  /** For 'void': the void designation; for 'transient': the qube that owns the volume. */
  by?: string;
}
