// The job file after parsing: the seed's YAML format with every position kept, so findings about
// the system (a missing qube, a nested designation) can still point at the line that caused them.

/** 1-based line and column in the job file. */
export interface Position {
  line: number;
  column: number;
}

export type Designation = 'include' | 'forgo' | 'void';
export type GroupType = 'qubes' | 'datasets';

export interface Member {
  /** A qube name (type: qubes) or a dataset name (type: datasets). */
  value: string;
  pos?: Position;
}

export interface Group {
  name: string;
  type: GroupType;
  members: Member[];
  pos?: Position;
}

export interface GroupRef {
  name: string;
  pos?: Position;
}

export interface Job {
  name: string;
  scope: {
    /** Includes the leading '@', e.g. "@backup-2025-04-14". */
    targetSnapshot: string;
    /** A snapshot label with its '@', or the special value 'beginning'. */
    since: string;
    progressive: boolean;
    honourOrigins: boolean;
  };
  allowedBehaviours: {
    snapshotCreation: boolean;
    patching: boolean;
  };
  receiver: {
    qube: string;
    dataset: string;
  };
  includeGroups: GroupRef[];
  forgoGroups: GroupRef[];
  voidGroups: GroupRef[];
  /** Every object group defined at the top level, by name, in file order. */
  groups: Group[];
  /** Where each reserved field sits in the file (key: 'scope.since', 'receiver.qube', …). */
  positions: Record<string, Position>;
  /**
   * Paths of fields ('scope.since', 'receiver', …) whose value was missing, of the wrong type or
   * invalid: in this Job they hold the text as written or a placeholder ('', false, []). Present
   * only when loadJob also returned errors; never act on a Job with errors.
   */
  invalid?: string[];
}
