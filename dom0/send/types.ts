// The send step planner's inputs and outputs (SPEC §6): plain data, 64-bit values as bigint. The
// planner (plan.ts) turns the live targets, the job state and the receiver's inventory into steps;
// the `send` command executes them.
import type { Finding } from '../job/findings.ts';
import type { ZfsInventory } from '../inventory/types.ts';
import type { JobState } from '../metadata/types.ts';
import type { Target } from '../plan/types.ts';

/** `zfs send` stream flags, fixed per receiving lineage (raw never mixes with non-raw). */
export interface SendFlags {
  /** -w: an encrypted source goes as ciphertext. */
  raw: boolean;
  /** -L */
  largeBlocks: boolean;
  /** -c */
  compressed: boolean;
  /** -e */
  embedded: boolean;
}

/** What dom0 learned from `zfs send -nvP -t TOKEN` (GUIDs from hex), before any use of the token. */
export interface DecodedToken {
  /** The snapshot the partial stream creates, as the sender named it ('pool/a@s'). */
  toname: string;
  toguid: bigint;
  /** Present exactly for an incremental (or clone) stream. */
  fromguid: bigint | null;
  /** Bytes already received, when the token says. */
  bytes: bigint | null;
  flags: { largeblockok: boolean; embedok: boolean; compressok: boolean; rawok: boolean };
}

/** The receiver's side, as the planner needs it (from hello + inventory; untrusted but validated). */
export interface ReceiverView {
  /** The receive root (`receiver.dataset`). */
  root: string;
  rootExists: boolean;
  rootType: 'filesystem' | 'volume' | null;
  /** The receive root's `encryption` ('off' when not encrypted), null when unknown. */
  rootEncryption: string | null;
  rootKeyStatus: 'available' | 'unavailable' | 'none' | null;
  /** Pool feature → state; a feature the receiver's ZFS does not know is absent. */
  features: ReadonlyMap<string, 'disabled' | 'enabled' | 'active'>;
  datasets: ReadonlyMap<string, ReceiverDatasetView>;
}

/** One dataset under the receive root. */
export interface ReceiverDatasetView {
  name: string;
  type: 'filesystem' | 'volume';
  encryption: string;
  inconsistent: boolean;
  placeholder: boolean;
  resumeToken: string | null;
  /** Bytes written since the newest snapshot (`written`); > 0 means modified on the receiver. */
  written: bigint;
  /** By createtxg, oldest first. */
  snapshots: readonly { label: string; guid: bigint }[];
}

/** Everything the planner decides from. */
export interface SendPlanInput {
  /** The live targets in send order (computeTargets). */
  targets: readonly Target[];
  /** The live dom0 inventory (datasets' types, encryption, snapshots and bookmarks). */
  source: ZfsInventory;
  state: JobState;
  patching: boolean;
  receiver: ReceiverView;
  /** Tokens found on receiving datasets, decoded in dom0 (an error text when decoding failed). */
  tokens: ReadonlyMap<string, DecodedToken | { error: string }>;
  /** The other jobs' states in this dom0: evidence of which receiver snapshots came from here. */
  history?: readonly JobState[];
  /** Today as YYYY-MM-DD (the planner has no clock), for the name a replaced history is moved to. */
  today: string;
}

/** What a step does in this run. */
export type StepAction = 'send' | 'resume' | 'skip' | 'pending';

/** One snapshot's transfer (or why it does not happen now). */
export interface SendStep {
  /** Source snapshot, 'pool/a@label'. */
  snapshot: string;
  dataset: string;
  label: string;
  kind: Target['kind'];
  qube: string | null;
  /** The dataset on the receiver: '<root>/<dataset>'. */
  receiving: string;
  type: 'filesystem' | 'volume';
  /** The source snapshot's GUID (0n when it does not exist yet). */
  guid: bigint;
  action: StepAction;
  stream: 'full' | 'incremental' | 'clone';
  /** Source-side base: 'ds@x', 'ds#x' (a bookmark) or, for a clone, the origin snapshot; else null. */
  from: string | null;
  /** GUID of `from`, for matching a resume token. */
  fromGuid: bigint | null;
  /** A clone's origin snapshot on the receiver ('<root>/<origin>'). */
  receiverOrigin: string | null;
  flags: SendFlags;
  /** For 'resume': the token, validated and matched against this step. */
  token: string | null;
  /** Discard partial state on the receiving dataset first (a token that does not match this step). */
  abortFirst: boolean;
  /** The receiving dataset exists as the agent's own empty placeholder (full receive replaces it). */
  intoPlaceholder: boolean;
  /** Why the step is skipped or pending, in words; null for send/resume. */
  reason: string | null;
  /** Already on the receiver but not recorded as sent by this job (patching). */
  patched: boolean;
}

/** The planner's answer. */
export interface SendPlan {
  steps: SendStep[];
  /** Preflight problems (errors stop the whole run before any byte moves), warnings, notes. */
  findings: Finding[];
  /** Flags per receiving lineage, including ones first fixed by this plan (to record). */
  lineages: Record<string, SendFlags>;
}
