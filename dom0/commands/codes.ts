// Finding codes that come neither from the job file (job/codes.ts) nor from the planner
// (plan/codes.ts): failures to read the system, which `check` and the other commands report as
// findings, and the `snapshot` command's own checks. dom0/FINDINGS.md documents all three lists.
import type { CodeInfo } from '../job/findings.ts';

/** Failures to read qubesd or zfs (findings with `details.system: true`; the system checks did not run). */
export const SYSTEM_CODES = {
  QUBESD_UNREACHABLE: { severity: 'error', meaning: 'the Qubes Admin API socket cannot be reached: not in dom0, not root, or qubesd is not running' },
  QUBESD_TIMEOUT: { severity: 'error', meaning: 'qubesd did not answer an Admin API call in time' },
  QUBES_API_ERROR: { severity: 'error', meaning: 'qubesd answered an Admin API call with an error (e.g. a qube removed meanwhile)' },
  QUBES_API_PROTOCOL: { severity: 'error', meaning: 'qubesd sent a reply this tool cannot read, or the connection broke' },
  QUBES_API_REFUSED: { severity: 'error', meaning: 'qubesd closed the connection without a reply (a call this Qubes release does not have, or an unknown object)' },
  ZFS_NOT_FOUND: { severity: 'error', meaning: 'the `zfs` program cannot be run (ZFS not installed in dom0, or not on PATH)' },
  ZFS_COMMAND_FAILED: { severity: 'error', meaning: 'a `zfs` command failed (the message has the command, its exit status and its first lines of stderr)' },
  CONTENT_HASH_FAILED: { severity: 'error', meaning: "`--content-hash`: a volume snapshot's bytes could not be read and hashed (its clone is removed; run snapshot --content-hash again)" },
  CONTENT_HASH_CLONE_KEPT: { severity: 'error', meaning: "a hashing clone is no longer a plain clone of its snapshot (ZFS promoted it): left alone, never destroyed" },
  ZFS_OUTPUT_UNPARSABLE: { severity: 'error', meaning: '`zfs list` printed something this tool cannot read' },
} as const satisfies Record<string, CodeInfo>;

/** The `snapshot` command's own findings (each stops the affected qube's snapshots; exit 1), and
 *  `check`'s look at the recorded history (SENT_HISTORY_GONE, a warning). */
export const SNAPSHOT_CODES = {
  SNAPSHOT_CREATION_DISABLED: { severity: 'error', meaning: 'a target snapshot is missing while `snapshot-creation: no` (a warning at `check`)' },
  SNAPSHOT_GUID_CHANGED: { severity: 'error', meaning: 'a snapshot recorded by an earlier run now has another GUID: its dataset was replaced' },
  SNAPSHOT_DISAPPEARED: { severity: 'error', meaning: 'a snapshot recorded by an earlier run no longer exists' },
  SNAPSHOT_FAILED: { severity: 'error', meaning: '`zfs snapshot` failed for a qube (or a pool of dom0 datasets); none of its snapshots was created' },
  SNAPSHOT_GUID_UNREAD: { severity: 'error', meaning: 'snapshots were created but their GUIDs could not be read back; run snapshot again' },
  REQUIRED_SNAPSHOT_MISSING: { severity: 'error', meaning: 'an intermediate or origin snapshot the backup needs no longer exists (never created by this tool)' },
  TARGET_DATASET_MISSING: { severity: 'error', meaning: 'a target dataset no longer exists' },
  SENT_HISTORY_GONE: { severity: 'warning', meaning: "a target dataset no longer has any snapshot or bookmark that this dom0's jobs sent (restored, imported, reverted): its next send will stop at RECEIVER_LINEAGE_REPLACED unless the receiver's copy is renamed aside" },
  CONTENT_HASH_UNAVAILABLE: { severity: 'error', meaning: '`--content-hash` cannot run here (no way to read volume snapshots)' },
  CONTENT_HASH_CLEANUP_FAILED: { severity: 'warning', meaning: 'the look for hashing clones left by an interrupted run failed (nothing removed)' },
  CONTENT_HASH_CLONE_REMOVED: { severity: 'info', meaning: 'a hashing clone left by an interrupted run was removed' },
} as const satisfies Record<string, CodeInfo>;
