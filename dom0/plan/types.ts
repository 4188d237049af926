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
}
