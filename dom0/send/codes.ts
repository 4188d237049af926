// Every finding code `send` and `verify` report, with its severity and a one-line meaning (a test
// keeps this table and the sources in step). Step failures carry the code of the error that ended
// them (RECEIVE_FAILED, RECEIVER_POOL_FULL, RECEIVER_*, PROTOCOL_*, SEND_FAILED, …).
import type { CodeInfo } from '../job/findings.ts';

/** Preflight (plan.ts), execution (commands/send.ts) and verify codes. */
export const SEND_CODES = {
  RECEIVE_ROOT_MISSING: { severity: 'error', meaning: 'the receive root does not exist on the receiver (the message has the zfs create to run there)' },
  RECEIVE_ROOT_NOT_FILESYSTEM: { severity: 'error', meaning: 'the receive root is not a filesystem' },
  RECEIVER_NOT_RESUMABLE: { severity: 'error', meaning: 'the receiver pool lacks extensible_dataset: interrupted receives could not resume' },
  RECEIVE_ROOT_KEY_UNAVAILABLE: { severity: 'error', meaning: 'the encrypted receive root has no key loaded' },
  TARGETS_ON_RECEIVER: { severity: 'error', meaning: 'targets already on the receiver that this job did not send, with patching: no' },
  RECEIVER_LINEAGE_REPLACED: { severity: 'error', meaning: "the receiver's history of a dataset belongs to the dataset it replaced (restore, qvm-volume import, revert): rename it aside there or use a new receive root" },
  DIVERGED: { severity: 'error', meaning: 'the receiver has a snapshot of the same name with another GUID' },
  SNAPSHOT_GUID_CHANGED: { severity: 'error', meaning: 'a target snapshot has another GUID than snapshot recorded' },
  SOURCE_DATASET_MISSING: { severity: 'error', meaning: 'a target dataset vanished from the dom0 inventory' },
  RECEIVER_DATASET_MODIFIED: { severity: 'error', meaning: 'the receiving dataset was written to since its newest snapshot (never rolled back)' },
  SNAPSHOTS_IN_THE_WAY: { severity: 'error', meaning: 'the receiver has snapshots newer than the incremental base' },
  BASE_MISSING_ON_RECEIVER: { severity: 'error', meaning: 'the incremental base is not on the receiver' },
  BASE_NOT_ON_SOURCE: { severity: 'error', meaning: "the receiver's newest snapshot is neither a snapshot nor a bookmark on the source" },
  BASE_NOT_OLDER: { severity: 'error', meaning: "the receiver's newest snapshot is not older than the step" },
  DESTINATION_EXISTS: { severity: 'error', meaning: 'a full send into a receiving dataset that exists and is not our placeholder' },
  PLACEHOLDER_NOT_REPLACEABLE: { severity: 'error', meaning: 'a raw stream, or any under an encrypted receive root, cannot replace a placeholder' },
  PLACEHOLDER_TYPE: { severity: 'error', meaning: 'a volume cannot replace a placeholder filesystem' },
  ORIGIN_MISSING_ON_RECEIVER: { severity: 'error', meaning: "a clone's origin is not on the receiver" },
  LINEAGE_FLAGS_MIXED: { severity: 'error', meaning: 'raw and non-raw streams would mix on one receiving dataset' },
  CLONE_SENT_IN_FULL: { severity: 'info', meaning: 'a clone goes in full because its receiving dataset is a placeholder' },
  STALE_RESUME_TOKEN: { severity: 'info', meaning: 'partial state that is not this step: discarded (zfs receive -A), the step restarts' },
  PARTIAL_STATE_LEFT: { severity: 'warning', meaning: 'partial state no step uses: left alone' },
  GUID_MISMATCH: { severity: 'error', meaning: 'the receiver reported another GUID than the source snapshot' },
  NOT_CONFIRMED: { severity: 'error', meaning: 'the final listing does not show a step with the source GUID' },
  BOOKMARK_CONFLICT: { severity: 'warning', meaning: 'a bookmark of that name exists for another snapshot: left alone' },
  BOOKMARK_FAILED: { severity: 'warning', meaning: 'the bookmark of a sent snapshot could not be created' },
  SETTINGS_NOT_DELIVERED: { severity: 'error', meaning: "a qube's settings document could not be stored on the receiver (its data is backed up; send again)" },
  VERIFY_SETTINGS_MISSING: { severity: 'error', meaning: "verify: a qube's settings are not on the receiver" },
  VERIFY_SETTINGS_ALTERED: { severity: 'error', meaning: "verify: a qube's settings on the receiver differ from the hash recorded in dom0" },
  VERIFY_MISSING: { severity: 'error', meaning: 'verify: targets not on the receiver' },
  VERIFY_DIFFERENT: { severity: 'error', meaning: 'verify: targets on the receiver with another GUID' },
  VERIFY_PENDING: { severity: 'error', meaning: 'verify: targets not snapshotted or sent yet' },
} as const satisfies Record<string, CodeInfo>;
