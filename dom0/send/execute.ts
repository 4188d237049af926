// Runs one planned step over the receiver link: discard stale partial state if the plan says so,
// then stream. A small step's `zfs send` starts while the agent starts its `zfs receive` (the two
// process starts overlap; the stream waits in the pipe) and dom0 forwards it; a large one, once the
// agent is ready, writes straight into the link (no byte through dom0's process). Progress,
// cancellation, and always stopping the sender in the safe order (kill, close the pipe, wait).
// Decides nothing.
import { isQzbError, QzbError } from '../../shared/errors.ts';
import type { ReceiverConnection, SendAdapters, SendProcess, SendSource } from '../commands/context.ts';
import { ReceiveFailedError } from '../receiver-link/errors.ts';
import type { ReceiveHeader } from '../receiver-link/types.ts';
import type { SendStep } from './types.ts';

/**
 * Streams estimated at this size or more go unframed when the agent offers it: no copy through the
 * agent (in the test VM that halves the time of a large send), for one `zfs get` in the agent per
 * step, and a cut stream ends the session (a run stops at a failed step anyway). Where the adapters
 * can (startSendInto), such a stream also bypasses dom0's process: zfs send writes into the link.
 */
export const UNFRAMED_MIN_BYTES = 2n * 1024n * 1024n;

/** How one step ended. */
export type StepResult =
  | { ok: true; guid: bigint; bytes: bigint }
  | { ok: false; error: QzbError; bytes: bigint; resumable: boolean; cancelled: boolean };

// What `zfs send` streams for a step.
export function sourceOf(step: SendStep): SendSource {
  if (step.action === 'resume' && step.token !== null) return { token: step.token };
  return { snapshot: step.snapshot, from: step.from, flags: step.flags };
}

// The receive request for a step.
export function headerOf(step: SendStep): ReceiveHeader {
  const header: ReceiveHeader = {
    dataset: step.receiving,
    snapshot: step.label,
    type: step.type,
    stream: step.stream,
    origin: step.receiverOrigin,
    raw: step.flags.raw,
    resume: step.action === 'resume',
    // The agent re-checks that the dataset is still its own empty placeholder before it replaces it.
    intoPlaceholder: step.intoPlaceholder,
  };
  return header;
}

// Sends one step; never throws for a failure of the step itself (the result says what happened).
export async function executeStep(
  step: SendStep,
  link: ReceiverConnection,
  send: SendAdapters,
  options: { signal: AbortSignal; onProgress: (bytes: bigint) => void; estimate?: bigint | null },
): Promise<StepResult> {
  let proc: Pick<SendProcess, 'stop' | 'done'> | null = null;
  let bytes = 0n;
  const onProgress = (b: bigint): void => {
    bytes = b;
    options.onProgress(b);
  };
  try {
    if (step.abortFirst) await link.client.abort(step.receiving);
    const source = sourceOf(step);
    const unframed = options.estimate !== undefined && options.estimate !== null && options.estimate >= UNFRAMED_MIN_BYTES;
    let sourceExited!: (ok: boolean) => void;
    const sourceOk = new Promise<boolean>((resolve) => (sourceExited = resolve));
    const track = <P extends Pick<SendProcess, 'stop' | 'done'>>(p: P): P => {
      proc = p;
      void p.done.then((exit) => sourceExited(exit.exitCode === 0));
      return p;
    };
    // A large stream goes from zfs send straight into the link (startSendInto), started once the
    // agent is ready; a small one starts at once (its start overlaps the agent's) and is forwarded.
    const into = unframed ? send.startSendInto : undefined;
    const result = await link.client.receive(headerOf(step), into ? () => track(send.startSend(source)).stdout : track(send.startSend(source)).stdout, {
      signal: options.signal, onProgress, unframed, sourceOk,
      ...(into ? { direct: (output) => {
        const p = track(into(source, output));
        return { written: p.written, stop: p.stop, done: p.done.then((exit) => ({ ok: exit.exitCode === 0, bytes: exit.bytes })) };
      } } : {}),
    });
    const exit = await (proc as Pick<SendProcess, 'done'> | null)!.done;
    if (exit.exitCode !== 0) {
      // The receiver took a complete stream, yet zfs send reports a failure: do not trust the step.
      return { ok: false, bytes: result.bytes, resumable: false, cancelled: false, error: new QzbError('SEND_FAILED', `zfs send for ${step.snapshot} exited ${exit.exitCode ?? exit.signal}: ${exit.stderrTail.join(' / ') || 'no message'}`) };
    }
    return { ok: true, guid: result.guid, bytes: result.bytes };
  } catch (e) {
    const cancelled = options.signal.aborted;
    const stopped = proc as SendProcess | null;
    if (stopped) await stopped.stop();
    const exit = stopped ? await stopped.done : null;
    const sendError = exit && exit.exitCode !== 0 && exit.exitCode !== null && exit.stderrTail.length > 0 && !cancelled
      ? ` (zfs send: ${exit.stderrTail.slice(-3).join(' / ')})` : '';
    if (e instanceof ReceiveFailedError) {
      const error = new QzbError(e.reason === 'out-of-space' ? 'RECEIVER_POOL_FULL' : 'RECEIVE_FAILED', `${e.message}${sendError}`, { hint: e.hint });
      return { ok: false, error, bytes: e.bytes > bytes ? e.bytes : bytes, resumable: e.resumeToken !== null, cancelled };
    }
    if (isQzbError(e)) {
      const error = sendError ? new QzbError(e.code, `${e.message}${sendError}`, { hint: e.hint }) : e;
      // A cut link keeps ZFS's partial state on the receiver (zfs receive -s): resumable.
      return { ok: false, error, bytes, resumable: true, cancelled };
    }
    throw e;
  } finally {
    if (proc) await (proc as SendProcess).stop();
  }
}
