// receive: one `zfs receive -s -u` fed by the data frames that follow the request. The stream is
// never held in memory: each frame is written to zfs's stdin and the next frame is read only when
// that write has drained, so backpressure reaches dom0. If zfs exits early its result is sent at
// once and the remaining frames are discarded until END/ABORT. If dom0 goes away mid-stream, zfs's
// stdin is closed so ZFS keeps resumable partial state, and the session ends after zfs has exited.
// An unframed receive (large streams) instead gives zfs the agent's own input: see receiveUnframed.
import type { Writable } from 'node:stream';
import type { AgentContext } from '../context.ts';
import type { ReceiveRequest } from '../../shared/protocol/schemas/requests.ts';
import type { Reply } from '../../shared/protocol/schemas/replies.ts';
import { resumeToken as resumeTokenSchema } from '../../shared/protocol/schemas/common.ts';
import { FrameType } from '../../shared/protocol/frame.ts';
import type { FrameReader } from '../../shared/protocol/stream-io.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';
import { isBelowRoot, pointDatasetWithinRoot } from '../../shared/protocol/confine.ts';
import { errorReply, safeStderr, zfsFailure } from '../replies.ts';
import { ensureParents, PLACEHOLDER_PROPERTY } from '../placeholder.ts';
import { checkPlaceholder, intoPlaceholderRequestProblem } from '../placeholder-check.ts';
import { guidOf, resumeTokenOf } from '../zfs-queries.ts';
import { StreamBegin } from '../../shared/stream-begin.ts';
import type { ZfsOutput } from '../zfs-runner.ts';

/**
 * How a receive left the session: ready for the next request, dom0 has gone, or an unframed
 * stream failed (what is left of it may still be on the input: the session must end).
 */
export type ReceiveEnd = 'idle' | 'eof' | 'unframed-failed';

/**
 * The `zfs receive` argv for a request: -s -u always, never -d/-e; options by dataset type. -F only
 * when `placeholderChecked` (the live re-check of an intoPlaceholder request passed) for a full
 * filesystem stream that asked for it; never otherwise.
 */
export function receiveArgs(request: ReceiveRequest, placeholderChecked = false): string[] {
  const args = ['receive', '-s', '-u'];
  if (placeholderChecked && request.intoPlaceholder && request.stream === 'full' && request.type === 'filesystem' && !request.raw) args.push('-F');
  args.push('-o', 'volmode=none');
  // canmount does not apply to volumes: `zfs receive -o canmount=…` fails for a volume stream.
  if (request.type === 'filesystem') args.push('-o', 'canmount=noauto');
  // The marker, set locally to "off": user properties inherit, so without it a dataset received
  // below a placeholder would show the marker. ZFS applies -o only when the receive succeeds, so
  // a placeholder keeps its marker through a partial receive into it (and its resume).
  args.push('-o', `${PLACEHOLDER_PROPERTY}=off`);
  if (request.stream === 'clone' && request.origin !== null && !request.resume) args.push('-o', `origin=${request.origin}`);
  args.push(`${request.dataset}@${request.snapshot}`);
  return args;
}

/** Why the agent refuses this request, or null. */
export function refuseReceive(request: ReceiveRequest, root: string): string | null {
  if (!isBelowRoot(request.dataset, root)) return `${request.dataset} is not below the receive root ${root}`;
  if (request.origin !== null && pointDatasetWithinRoot(request.origin, '@', root) === null) {
    return `the origin ${request.origin} is not inside the receive root ${root}`;
  }
  return intoPlaceholderRequestProblem(request);
}

/** Runs one receive; `frames` is the session's frame reader, read only as far as this stream goes. */
export async function handleReceive(ctx: AgentContext, root: string, request: ReceiveRequest, frames: FrameReader): Promise<ReceiveEnd> {
  // Checked before anything else: were a byte of an unframed stream already read, it would be lost.
  if (request.unframed && (ctx.unframedFd === null || !frames.idle())) {
    throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, ctx.unframedFd === null
      ? 'an unframed receive was asked of an agent that did not offer it'
      : 'data followed an unframed receive request before receive-ready');
  }
  const refusal = refuseReceive(request, root);
  if (refusal !== null) {
    await ctx.send(errorReply('REQUEST_REFUSED', refusal));
    return 'idle';
  }
  // The one -F: only after the live re-check that the dataset is still our own empty placeholder.
  let placeholderChecked = false;
  if (request.intoPlaceholder) {
    const problem = await checkPlaceholder(ctx.zfs, request);
    if (problem !== null) {
      ctx.log(`receive: refused -F into ${request.dataset}: ${problem}`);
      await ctx.send(errorReply('REQUEST_REFUSED', `not receiving into ${request.dataset} as a placeholder: ${problem}`));
      return 'idle';
    }
    placeholderChecked = true;
  }
  // An incremental stream goes into a dataset that exists already (else zfs receive says so), so
  // its parents exist: no look-up per step.
  if (!request.resume && !placeholderChecked && request.stream !== 'incremental') {
    const failed = await ensureParents(ctx.zfs, request.dataset, root, ctx.log, ctx.known);
    if (failed) {
      await ctx.send(zfsFailure(`creating the placeholder ${failed.name}`, failed.output));
      return 'idle';
    }
  }
  const args = receiveArgs(request, placeholderChecked);
  ctx.log(`receive: zfs ${args.join(' ')}${request.unframed ? ' (unframed, reading the input itself)' : ''}`);
  if (request.unframed) return receiveUnframed(ctx, request, args, ctx.unframedFd!);
  const proc = ctx.zfs.receive(args);
  let exited: ZfsOutput | null = null;
  const done = proc.done.then((output) => (exited = output));
  await ctx.send({ kind: 'receive-ready', dataset: request.dataset, snapshot: request.snapshot });

  let resultSent = false;
  let bytes = 0;
  const begin = new StreamBegin();
  const finish = async (): Promise<void> => {
    const output = await done;
    if (!resultSent) {
      resultSent = true;
      await ctx.send(await outcome(ctx, request, output, begin));
    }
  };
  // Settles (with null) only if zfs exits with a failure; made once, not per frame.
  const failedExit = done.then((o) => (o.exitCode === 0 ? new Promise<null>(() => {}) : null));
  try {
    for (;;) {
      // Only a failure goes out early: zfs receive may exit 0 as soon as it has read the stream's
      // END record, before the END frame arrives, and dom0 rightly refuses `received` before END.
      if (exited !== null && (exited as ZfsOutput).exitCode !== 0 && !resultSent) await finish();
      const next = frames.next();
      // While zfs runs, notice its exit even if dom0 sends nothing: the result goes out at once.
      const first = resultSent ? await next : await Promise.race([next, failedExit]);
      const step = first ?? (await finish(), await next);
      if (step.done) {
        ctx.log(`receive: dom0 went away after ${bytes} bytes; closing the stream so ZFS keeps resumable state`);
        proc.stdin.destroy();
        await done;
        ctx.log(`receive: zfs exited (${describe(await done)})`);
        return 'eof';
      }
      const frame = step.value;
      if (frame.type === FrameType.DATA) {
        if (bytes < 64) begin.push(frame.payload);
        bytes += frame.payload.length;
        if (exited === null && !resultSent) await writeChunk(proc.stdin, frame.payload, ctx.inputClosed);
        continue;
      }
      if (frame.type === FrameType.END || frame.type === FrameType.ABORT) {
        if (frame.type === FrameType.ABORT) {
          ctx.log(`receive: dom0 aborted the stream after ${bytes} bytes`);
          proc.stdin.destroy();
        } else {
          proc.stdin.end();
        }
        await finish();
        return 'idle';
      }
      throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, 'a control message arrived inside a data stream (expected data, END or ABORT)');
    }
  } catch (error) {
    // Bad frames or a broken connection: cut the stream (partial state is kept), wait, pass it on.
    ctx.log(`receive: stopped after ${bytes} bytes (${error instanceof Error ? error.message : String(error)}); closing the stream so ZFS keeps resumable state`);
    proc.stdin.destroy();
    ctx.log(`receive: zfs exited (${describe(await done)})`);
    throw error;
  }
}

/**
 * An unframed receive: `zfs receive` reads the agent's input descriptor itself, so no byte of the
 * stream passes through the agent. It stops reading at the stream's END record (checked on
 * OpenZFS 2.3 and 2.1: real-zfs.vm.ts), so after a success the next frame follows on the same
 * input. dom0 closing its end mid-stream, or a signal to the agent, cuts the stream; ZFS keeps
 * resumable state.
 */
async function receiveUnframed(ctx: AgentContext, request: ReceiveRequest, args: string[], fd: number): Promise<ReceiveEnd> {
  const proc = ctx.zfs.receiveFrom!(args, fd);
  const onClosed = (): void => proc.kill();
  ctx.inputClosed.addEventListener('abort', onClosed, { once: true });
  let output: ZfsOutput;
  try {
    await ctx.send({ kind: 'receive-ready', dataset: request.dataset, snapshot: request.snapshot });
  } finally {
    output = await proc.done;
    ctx.inputClosed.removeEventListener('abort', onClosed);
  }
  ctx.log(`receive: zfs exited (${describe(output)})`);
  await ctx.send(await outcome(ctx, request, output, null));
  return output.exitCode === 0 ? 'idle' : 'unframed-failed';
}

/**
 * The reply for a finished receive: `received` with the GUID of the snapshot ZFS created (the
 * stream's drr_toguid, which ZFS gives it; read back with `zfs get` only when the stream did not
 * show one), or `receive-failed`. dom0 compares it with the source's, and confirms every step
 * with a fresh inventory at the end of the run, never on this word alone.
 */
async function outcome(ctx: AgentContext, request: ReceiveRequest, output: ZfsOutput, begin: StreamBegin | null): Promise<Reply> {
  const target = `${request.dataset}@${request.snapshot}`;
  if (output.exitCode === 0) {
    const guid = begin?.toguid() ?? (await guidOf(ctx.zfs, target));
    if (guid !== null) {
      ctx.known.add(request.dataset);
      ctx.log(`receive: ${target} received, guid ${guid}`);
      return { kind: 'received', dataset: request.dataset, snapshot: request.snapshot, guid };
    }
    return errorReply('ZFS_COMMAND_FAILED', `zfs receive succeeded but the GUID of ${target} cannot be read`);
  }
  const token = await resumeTokenOf(ctx.zfs, request.dataset);
  const valid = token !== null && resumeTokenSchema.safeParse(token).success ? token : null;
  ctx.log(`receive: ${target} failed (${describe(output)})${valid ? ', resumable' : ''}`);
  return {
    kind: 'receive-failed',
    dataset: request.dataset,
    snapshot: request.snapshot,
    exitCode: output.exitCode === null ? null : Math.min(Math.max(output.exitCode, -1), 255),
    signal: output.signal === null ? null : output.signal.slice(0, 16),
    stderr: safeStderr(output),
    resumeToken: valid,
  };
}

function describe(output: ZfsOutput): string {
  return output.exitCode === null ? `signal ${output.signal ?? '?'}` : `exit ${output.exitCode}`;
}

/**
 * Writes one chunk, waiting for 'drain' when needed; resolves early if the pipe closes (zfs gone)
 * or dom0's input closes (so a stalled zfs cannot keep the agent from noticing dom0 has left).
 */
function writeChunk(stdin: Writable, chunk: Buffer, inputClosed: AbortSignal): Promise<void> {
  if (stdin.destroyed || stdin.writableEnded) return Promise.resolve();
  if (stdin.write(chunk) || inputClosed.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stdin.off('drain', done);
      stdin.off('close', done);
      stdin.off('error', done);
      inputClosed.removeEventListener('abort', done);
      resolve();
    };
    stdin.on('drain', done);
    stdin.on('close', done);
    stdin.on('error', done);
    inputClosed.addEventListener('abort', done);
  });
}
