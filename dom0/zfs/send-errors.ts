// Classifies how a `zfs send` (or `zfs send -nvP [-t]`) ended, from its exit status and stderr as
// recorded on OpenZFS 2.3.2 under LC_ALL=C (test/unit/zfs/fixtures/send/, README there). Pure: the
// caller decides what a failure means for the step. Exit codes seen: 1 for ordinary failures
// ("cannot open", "warning: cannot send ..."), 255 for every "cannot resume send: ..." (corrupt
// token or source gone), 2 for usage errors, and death by SIGPIPE when the reader closed the pipe.

/** One recognised way `zfs send` failed. `name` is quoted from ZFS's message. */
export type SendFailure =
  /** A snapshot or dataset (the one sent, or a snapshot given to -i) does not exist: "cannot open 'N': dataset does not exist". */
  | { kind: 'missing'; name: string; message: string }
  /** The -i bookmark (or snapshot) does not exist: "incremental source (N) does not exist". */
  | { kind: 'from-missing'; name: string; message: string }
  /** -i names something that is not an earlier snapshot of the same dataset (or of the clone's origin). */
  | { kind: 'from-not-earlier'; message: string }
  /** Resume: the token's snapshot was destroyed on the source. */
  | { kind: 'resume-to-missing'; name: string; message: string }
  /** Resume: a different snapshot now has the token's snapshot's name. */
  | { kind: 'resume-to-replaced'; name: string; message: string }
  /** Resume: the token's incremental source exists neither as a snapshot nor as a bookmark. */
  | { kind: 'resume-from-missing'; guid: bigint; message: string }
  /** ZFS rejected the token string ("resume token is corrupt (...)"). */
  | { kind: 'token-corrupt'; detail: string; message: string }
  /** The reader went away: killed by SIGPIPE (or, with SIGPIPE ignored, "signal received"). */
  | { kind: 'broken-pipe'; message: string }
  /** Killed by another signal (our stop(), a Ctrl-C reaching its process group). */
  | { kind: 'killed'; signal: string; message: string }
  /** Usage error (exit 2), e.g. "invalid flags combined with -t": a bug in our argv. */
  | { kind: 'usage'; message: string }
  /** Anything else: report the message as is. */
  | { kind: 'unknown'; message: string };

/** How a `zfs send` process ended. */
export interface SendEnd {
  exitCode: number | null;
  signal: string | null;
  /** stderr, whole or its tail (only the first informative line matters). */
  stderr: string | readonly string[];
}

const SHELL_SIGPIPE_STATUS = 128 + 13;

// Maps one ended `zfs send` to a SendFailure, or null when it succeeded (exit 0, no signal).
export function classifySendFailure(end: SendEnd): SendFailure | null {
  const text = typeof end.stderr === 'string' ? end.stderr : end.stderr.join('\n');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  // The first line is ZFS's message; a usage text may follow.
  const message = lines[0] ?? (end.signal !== null ? `killed by ${end.signal}` : `exit ${end.exitCode ?? '?'}`);
  if (end.exitCode === 0 && end.signal === null) return null;
  if (end.signal === 'SIGPIPE' || end.exitCode === SHELL_SIGPIPE_STATUS) return { kind: 'broken-pipe', message };
  if (end.signal !== null) return { kind: 'killed', signal: end.signal, message };
  let m: RegExpExecArray | null;
  if ((m = /resume token is corrupt(?: \((.*)\))?/.exec(message)) !== null) return { kind: 'token-corrupt', detail: m[1] ?? '', message };
  if ((m = /^cannot resume send: '(.+)' used in the initial send no longer exists$/.exec(message)) !== null) {
    return { kind: 'resume-to-missing', name: m[1]!, message };
  }
  if ((m = /^cannot resume send: '(.+)' is no longer the same snapshot used in the initial send$/.exec(message)) !== null) {
    return { kind: 'resume-to-replaced', name: m[1]!, message };
  }
  if ((m = /^cannot resume send: incremental source (0x[0-9a-f]{1,16}) no longer exists$/.exec(message)) !== null) {
    return { kind: 'resume-from-missing', guid: BigInt(m[1]!), message };
  }
  if ((m = /^cannot open '(.+)': dataset does not exist$/.exec(message)) !== null) return { kind: 'missing', name: m[1]!, message };
  if ((m = /^warning: cannot send '.+': incremental source \((.+)\) does not exist$/.exec(message)) !== null) {
    return { kind: 'from-missing', name: m[1]!, message };
  }
  if (/^warning: cannot send '.+': not an earlier snapshot from the same fs$/.test(message)) return { kind: 'from-not-earlier', message };
  if (/^warning: cannot send '.+': signal received$/.test(message)) return { kind: 'broken-pipe', message };
  if (end.exitCode === 2) return { kind: 'usage', message };
  return { kind: 'unknown', message };
}
