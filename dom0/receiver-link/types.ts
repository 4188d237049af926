// What dom0 gets from the receiver, after validation: names checked against the receive root,
// 64-bit values as bigint. Nothing here is a raw wire message.
import type { HelloReply } from '../../shared/protocol/schemas/replies.ts';

/** The receiver's answer to hello. */
export interface ReceiverHello {
  protocol: number;
  agent: string;
  zfsVersion: string[];
  receiveRoot: HelloReply['receiveRoot'];
  pool: HelloReply['pool'];
  /** Feature name → state, for quick lookups (absent = the receiver's ZFS does not know it). */
  features: Map<string, 'disabled' | 'enabled' | 'active'>;
  /** The agent can take unframed receives (its `zfs receive` reads the channel itself). */
  unframed: boolean;
}

/** A snapshot or bookmark on the receiver. */
export interface ReceiverPoint {
  /** Full name, `dataset@label` or `dataset#label`. */
  name: string;
  label: string;
  guid: bigint;
  createtxg: bigint;
}

/** A filesystem or volume under the receive root (the root itself included). */
export interface ReceiverDataset {
  name: string;
  type: 'filesystem' | 'volume';
  guid: bigint;
  createtxg: bigint;
  origin: string | null;
  encryption: string;
  inconsistent: boolean;
  placeholder: boolean;
  /** Untrusted: decode and match it against the planned step before any use (SPEC §6). */
  resumeToken: string | null;
  /** Bytes written since the newest snapshot (0 right after a receive; > 0: modified on the receiver). Without snapshots: its referenced. */
  written: bigint;
  /** Sorted by createtxg, oldest first. */
  snapshots: ReceiverPoint[];
  /** Sorted by createtxg, oldest first. */
  bookmarks: ReceiverPoint[];
}

/** Everything under the receive root, by dataset name. */
export interface ReceiverInventory {
  root: string;
  datasets: Map<string, ReceiverDataset>;
}

/** What dom0 asks the receiver to receive (see receiveRequest in shared/protocol). */
export interface ReceiveHeader {
  dataset: string;
  snapshot: string;
  type: 'filesystem' | 'volume';
  stream: 'full' | 'incremental' | 'clone';
  origin: string | null;
  raw: boolean;
  resume: boolean;
  /** The plan expects `dataset` to be the agent's own placeholder: the agent re-checks and uses -F (full filesystem streams only). Default false. */
  intoPlaceholder?: boolean;
}

/** A completed receive: the GUID of the snapshot the receiver created (the stream's drr_toguid, receiver/README.md). */
export interface ReceiveResult {
  dataset: string;
  snapshot: string;
  guid: bigint;
  /** Stream bytes dom0 forwarded. */
  bytes: bigint;
}
