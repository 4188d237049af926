// How long dom0 waits for the receiver agent, and the typed errors when it waits in vain. A reply
// the agent owes is a timeout (RECEIVER_TIMEOUT); a receive that stops moving is a stall
// (RECEIVER_STALLED, resumable: ZFS keeps the partial state). Either fails the link; the caller
// closes it, which stops the qrexec call and lets the job lock go.
import { QzbError } from '../../shared/errors.ts';

/** The waits of one link, in milliseconds; every one is overridable per client. */
export interface LinkTimeouts {
  /**
   * One reply to hello, abort and receive (until receive-ready), and each inventory batch after the
   * first. Those run a few `zfs` commands, each waiting for at most a txg sync or two; 2 min is far
   * above that even on a slow, busy disk, and still ends a silent agent quickly.
   */
  replyTimeoutMs: number;
  /**
   * A whole inventory, first batch included: the agent lists everything under the receive root
   * before sending (`zfs list` of many thousand snapshots can take minutes on a cold cache).
   */
  inventoryTimeoutMs: number;
  /**
   * A receive with no progress: no stream data accepted by the agent while dom0 has data waiting,
   * or no result after END. `zfs receive` pauses for txg syncs and large frees; 10 min of no
   * progress at all means the receiver is stuck, and the stream resumes from its token.
   */
  stallTimeoutMs: number;
}

/** The defaults for real use (see LinkTimeouts for why). */
export const DEFAULT_LINK_TIMEOUTS: Readonly<LinkTimeouts> = {
  replyTimeoutMs: 2 * 60_000,
  inventoryTimeoutMs: 30 * 60_000,
  stallTimeoutMs: 10 * 60_000,
};

/** `ms` as a short duration for messages ("2 min", "45 s", "300 ms"). */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10} s`;
  return `${ms} ms`;
}

/** The agent owed a reply and sent none in time. */
export function timeoutError(what: string, ms: number): QzbError {
  return new QzbError('RECEIVER_TIMEOUT', `the receiver did not ${what} within ${formatDuration(ms)}`, {
    hint: 'the receiver qube may be overloaded or hung; see its journal, then run the command again',
  });
}

/** A receive made no progress for `ms`. */
export function stallError(point: string, what: string, ms: number): QzbError {
  return new QzbError('RECEIVER_STALLED', `the receive of ${point} stalled: the receiver ${what} for ${formatDuration(ms)}`, {
    hint: 'the receiver keeps resumable partial state; run send again to resume',
  });
}

/** A timer as a promise that resolves with 'expired'; cancel() it once it is not needed. */
export function timer(ms: number): { expired: Promise<'expired'>; cancel: () => void } {
  let handle: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    handle = setTimeout(() => resolve('expired'), ms);
  });
  return { expired, cancel: () => clearTimeout(handle) };
}
