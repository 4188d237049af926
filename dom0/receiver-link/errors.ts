// Errors of the receiver link. Protocol errors (shared/protocol/errors.ts) are fatal to the link;
// these two are request failures after which the link stays usable.
import { QzbError } from '../../shared/errors.ts';

/** The agent refused or failed a request (code RECEIVER_<agent code>); the link stays usable. */
export class ReceiverRequestError extends QzbError {
  constructor(
    readonly agentCode: string,
    message: string,
    readonly stderr: readonly string[],
  ) {
    super(`RECEIVER_${agentCode}`, `the receiver reported: ${message}${stderr.length > 0 ? ` (${stderr.slice(0, 3).join(' / ')})` : ''}`);
    this.name = 'ReceiverRequestError';
  }
}

/** Why a `zfs receive` failed, classified from ZFS's canonical (LC_ALL=C) stderr. */
export type ReceiveFailureReason =
  | 'incomplete-stream'
  | 'destination-exists'
  | 'destination-modified'
  | 'base-mismatch'
  | 'partial-state-exists'
  | 'missing-dataset'
  | 'origin-missing'
  | 'out-of-space'
  | 'unsupported'
  | 'other';

const MATCHERS: Array<[RegExp, ReceiveFailureReason]> = [
  [/checksum mismatch or incomplete stream|Partially received snapshot is saved|failed to read from stream/, 'incomplete-stream'],
  [/contains partially-complete state|dataset is busy/, 'partial-state-exists'],
  [/has been modified\s+since most recent snapshot/, 'destination-modified'],
  // ZFS wraps this one: "most recent snapshot of X does not\nmatch incremental source" (2.3.2).
  [/does not\s+match incremental source|IV set guid mismatch/, 'base-mismatch'],
  [/destination '.*' exists|destination already exists|must specify -F to overwrite/, 'destination-exists'],
  [/local origin for clone .* does not exist/, 'origin-missing'],
  [/dataset does not exist|does not exist/, 'missing-dataset'],
  [/out of space|quota exceeded/, 'out-of-space'],
  [/must be upgraded|not supported|stream uses crypto parameters not compatible|cannot be used to destroy an encrypted filesystem/, 'unsupported'],
];

/**
 * Classifies `zfs receive` stderr lines; 'other' when nothing matches. A new full stream into a
 * dataset that holds partial state of its own prints only "destination 'X' exists" (2.3.2): with
 * the resume token the agent found afterwards, that is partial-state-exists.
 */
export function classifyReceiveFailure(stderr: readonly string[], resumeToken: string | null = null): ReceiveFailureReason {
  const text = stderr.join('\n');
  for (const [pattern, reason] of MATCHERS) {
    if (!pattern.test(text)) continue;
    if (reason === 'destination-exists' && resumeToken !== null && !/Resuming recv/.test(text)) return 'partial-state-exists';
    return reason;
  }
  return 'other';
}

/** `zfs receive` failed on the receiver; resumeToken is untrusted (validate before use). */
export class ReceiveFailedError extends QzbError {
  readonly reason: ReceiveFailureReason;
  constructor(
    readonly dataset: string,
    readonly snapshot: string,
    readonly exitCode: number | null,
    readonly stderr: readonly string[],
    readonly resumeToken: string | null,
    readonly bytes: bigint,
  ) {
    const reason = classifyReceiveFailure(stderr, resumeToken);
    super('RECEIVE_FAILED', `zfs receive of ${dataset}@${snapshot} failed on the receiver: ${stderr.slice(0, 3).join(' / ') || `exit ${exitCode ?? 'by signal'}`}`, {
      hint: resumeToken !== null ? 'partial state was kept on the receiver; run send again to resume' : undefined,
    });
    this.name = 'ReceiveFailedError';
    this.reason = reason;
  }
}
