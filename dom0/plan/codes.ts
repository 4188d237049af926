// Every finding code the planning core emits, with its severity and a one-line meaning: the place
// the planner, its tests and the README table agree on (the job loader's codes are in job/codes.ts).
import type { CodeInfo } from '../job/findings.ts';

/** The planner's finding codes (SPEC §3 plus a few the spec leaves open); `severity` is the usual
 *  one: 'error' or 'warning' by designation where the meaning says so. */
export const PLAN_CODES = {
  QUBE_NOT_FOUND: { severity: 'error', meaning: 'a qubes-group member that is not a qube on this system' },
  DATASET_NOT_FOUND: { severity: 'error', meaning: 'a datasets-group member that does not exist on this system' },
  QUBE_NOT_ON_ZFS: { severity: 'error', meaning: 'a qube with persistent volumes outside ZFS pools (error when included, warning when forgone)' },
  QUBE_VOLUME_MISSING: { severity: 'error', meaning: "an included qube's persistent volume whose dataset (vid) does not exist" },
  DISPOSABLE_QUBE: { severity: 'warning', meaning: 'a disposable in a group: nothing persistent to back up (info when not included)' },
  CONFLICTING_DESIGNATION: { severity: 'error', meaning: 'two objects resolve to one dataset with different designations' },
  DUPLICATE_MEMBER: { severity: 'warning', meaning: 'two objects resolve to one dataset with the same designation' },
  NESTED_DESIGNATION: { severity: 'error', meaning: 'an include or forgo designation inside another designation' },
  NO_INCLUDE: { severity: 'error', meaning: 'no include-group member resolves to a dataset on this system' },
  QUBE_UNDESIGNATED: { severity: 'warning', meaning: 'qubes with persistent data that no group mentions' },
  DATASET_UNDESIGNATED: { severity: 'info', meaning: 'top-most dataset subtrees outside every designation, and undesignated parents of designations' },
  VOID_WITHOUT_EFFECT: { severity: 'warning', meaning: 'a void designation that changes nothing' },
  RECEIVER_QUBE_NOT_FOUND: { severity: 'error', meaning: '`receiver.qube` is not a qube on this system' },
  RECEIVER_IS_SOURCE: { severity: 'error', meaning: "the receiver qube (or its datasets) would be backed up" },
  INCLUDE_WITHOUT_TARGETS: { severity: 'warning', meaning: 'an include designation that adds nothing (transient volume, work dataset)' },
  NO_TARGETS: { severity: 'error', meaning: 'include designations exist but hold nothing that can be backed up' },
  SINCE_NOT_FOUND: { severity: 'error', meaning: '`since` names a label no target dataset has' },
  SINCE_MISSING_SOME: { severity: 'info', meaning: 'target datasets without `since`: they get a full send' },
  SINCE_AFTER_TARGET: { severity: 'error', meaning: 'on some dataset `since` is not older than `target-snapshot`' },
  DRIVER_SNAPSHOTS_LEFT_OUT: { severity: 'info', meaning: "progressive left out the Qubes driver's own snapshots (@qubes-clean-*, @qubes:*)" },
  TARGET_SNAPSHOT_PENDING: { severity: 'info', meaning: 'target datasets whose target snapshot does not exist yet' },
  SNAPSHOT_CREATION_DISABLED: { severity: 'warning', meaning: 'target snapshots missing while `snapshot-creation: no`' },
  QUBE_IN_USE: { severity: 'warning', meaning: 'included qubes running or still marked dirty: their snapshots must wait' },
} as const satisfies Record<string, CodeInfo>;

/** A code the planner emits. */
export type PlanCode = keyof typeof PLAN_CODES;
