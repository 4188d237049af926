// Every finding code the job-file loader emits, with its severity and a one-line meaning: the single
// place the loader, its tests and the README table agree on.
import type { CodeInfo } from './findings.ts';

/** The loader's finding codes (SPEC §3 plus the file-only checks the spec leaves open). */
export const JOB_CODES = {
  FILE_TOO_LARGE: { severity: 'error', meaning: 'the file is larger than 1 MiB; a job file is a few kilobytes' },
  EMPTY_FILE: { severity: 'error', meaning: 'the file has no YAML content' },
  YAML_SYNTAX: { severity: 'error', meaning: 'the file is not valid YAML (position of the fault)' },
  YAML_UNSUPPORTED: { severity: 'error', meaning: 'YAML features a job file may not use (custom tags, too many aliases)' },
  YAML_TOO_COMPLEX: { severity: 'error', meaning: 'aliases and merge keys that expand to far more values than any job file needs' },
  NESTING_TOO_DEEP: { severity: 'error', meaning: 'brackets or indentation nested far deeper than any job file needs' },
  MULTIPLE_DOCUMENTS: { severity: 'error', meaning: 'more than one YAML document (`---`) in the file' },
  DUPLICATE_KEY: { severity: 'error', meaning: 'the same key twice in one mapping (only the first is used)' },
  MISSING_FIELD: { severity: 'error', meaning: 'a required field is missing or has no value' },
  UNKNOWN_FIELD: { severity: 'error', meaning: 'a key that is not a field of its section (typo?)' },
  WRONG_TYPE: { severity: 'error', meaning: 'a value of the wrong kind (text, yes/no, list, mapping)' },
  MISPLACED_FIELD: { severity: 'error', meaning: 'a field of a section or group written at the top level (lost indentation)' },
  RESERVED_KEY_TYPO: { severity: 'error', meaning: 'a top-level key that is not a group and is close to a field name' },
  INVALID_NAME: { severity: 'error', meaning: '`name` cannot be used as a command-line argument and directory name' },
  INVALID_SNAPSHOT_LABEL: { severity: 'error', meaning: 'a snapshot label that is not `@` + a valid ZFS snapshot name' },
  TARGET_EQUALS_SINCE: { severity: 'error', meaning: '`since` is the same label as `target-snapshot`' },
  INVALID_DATASET_NAME: { severity: 'error', meaning: 'not a valid ZFS dataset name (datasets group member or `receiver.dataset`)' },
  INVALID_QUBE_NAME: { severity: 'error', meaning: 'not a valid Qubes qube name (qubes group member or `receiver.qube`)' },
  INVALID_GROUP_TYPE: { severity: 'error', meaning: 'a group `type` other than `qubes` or `datasets`' },
  DOM0_IN_QUBES_GROUP: { severity: 'error', meaning: '`dom0` listed in a qubes group; its data goes in a datasets group' },
  RECEIVER_IS_DOM0: { severity: 'error', meaning: '`receiver.qube` is dom0; the receiver must be a separate qube' },
  UNDEFINED_GROUP: { severity: 'error', meaning: 'a `*-groups` list names a group that is not defined' },
  DUPLICATE_GROUP_REF: { severity: 'warning', meaning: 'a group listed twice in the same `*-groups` list' },
  GROUP_IN_SEVERAL_LISTS: { severity: 'error', meaning: 'one group in two of include-groups, forgo-groups, void-groups' },
  GROUP_UNUSED: { severity: 'warning', meaning: 'a defined group that no `*-groups` list names' },
  EMPTY_GROUP: { severity: 'warning', meaning: 'a group with no members' },
  DUPLICATE_MEMBER: { severity: 'warning', meaning: 'the same object twice with the same designation' },
  CONFLICTING_DESIGNATION: { severity: 'error', meaning: 'the same object designated two different ways' },
  NO_INCLUDE: { severity: 'error', meaning: 'nothing is included: no include group, or every include group is empty' },
  TOO_MANY_FINDINGS: { severity: 'error', meaning: 'the file has so many problems that only the first ones are listed' },
  INTERNAL_ERROR: { severity: 'error', meaning: 'a bug in the loader; please report it with the job file' },
} as const satisfies Record<string, CodeInfo>;

/** A code the loader emits. */
export type JobCode = keyof typeof JOB_CODES;
