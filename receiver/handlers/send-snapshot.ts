// send-snapshot: a `zfs send` stream of one received volume snapshot, for `restore --zfs-receive`
// (dom0 receives it into its own pool, so the restored volume keeps its GUIDs and the next backup
// stays incremental). Only a volume snapshot below the receive root, never an encrypted one (its
// stream would be raw and need dom0's key); a resume token must name that very snapshot, as ZFS
// itself decodes it. Order on the wire: send-ready {guid, volsize}, data frames, END and
// snapshot-sent {bytes}; when zfs send fails after send-ready: ABORT, then an error reply. When
// dom0 goes away mid-stream, zfs send is stopped.
import type { AgentContext } from '../context.ts';
import type { SendSnapshotRequest } from '../../shared/protocol/schemas/requests.ts';
import { isBelowRoot } from '../../shared/protocol/confine.ts';
import { splitPointName } from '../../shared/protocol/schemas/common.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';
import { errorReply, zfsFailure } from '../replies.ts';
import { describeSnapshot, sendData } from './export.ts';

/** How a send-snapshot left the session. */
export type SendSnapshotEnd = 'idle' | 'eof';

/** The argv of the stream: the snapshot in full (-L -e -c keep large, embedded and compressed blocks as they are), or the resumed one. */
export function sendSnapshotArgs(request: SendSnapshotRequest): string[] {
  return request.resumeToken !== null ? ['send', '-t', request.resumeToken] : ['send', '-L', '-e', '-c', request.snapshot];
}

/** The `size` line of `zfs send -n -v -P` output, or null. */
export function estimateOf(stdout: string): string | null {
  const m = /^size\t([0-9]{1,20})$/m.exec(stdout);
  return m ? m[1]! : null;
}

/** The `toname` of `zfs send -n -v -P -t` output, or null. */
export function tokenToname(stdout: string): string | null {
  const m = /^\ttoname = (.+)$/m.exec(stdout);
  return m ? m[1]! : null;
}

/** Answers send-snapshot: send-ready, the stream, END, snapshot-sent; or an error reply. */
export async function handleSendSnapshot(ctx: AgentContext, root: string, request: SendSnapshotRequest): Promise<SendSnapshotEnd> {
  const parts = splitPointName(request.snapshot, '@');
  if (!parts || !isBelowRoot(parts.dataset, root)) {
    await ctx.send(errorReply('REQUEST_REFUSED', `${request.snapshot} is not a snapshot below the receive root ${root}`));
    return 'idle';
  }
  if (!ctx.zfs.send) {
    await ctx.send(errorReply('AGENT_INTERNAL', 'this agent cannot run zfs send'));
    return 'idle';
  }
  const described = await describeSnapshot(ctx, request.snapshot, parts.dataset);
  if (typeof described === 'string') {
    await ctx.send(errorReply('REQUEST_REFUSED', `cannot send ${request.snapshot}: ${described}`));
    return 'idle';
  }
  const enc = await ctx.zfs.zfs(['get', '-H', '-o', 'value', 'encryption', request.snapshot]);
  if (enc.exitCode !== 0 || enc.stdout.trim() !== 'off') {
    await ctx.send(errorReply('REQUEST_REFUSED', `cannot send ${request.snapshot}: it is encrypted on the receiver (${enc.stdout.trim() || 'unknown'}); restore it through the import path instead`));
    return 'idle';
  }
  const args = sendSnapshotArgs(request);
  // A dry run of the same send: for a token, ZFS's own decoding of it (only a stream of the
  // requested snapshot is resumed); for both, the stream's size for dom0's progress line (a hint
  // only, never a limit).
  const dry = await ctx.zfs.zfs(['send', '-n', '-v', '-P', ...args.slice(1)]);
  if (request.resumeToken !== null) {
    const toname = tokenToname(dry.stdout);
    if (dry.exitCode !== 0 || toname !== request.snapshot) {
      await ctx.send(errorReply('REQUEST_REFUSED', `the resume token does not resume ${request.snapshot} here (${toname !== null ? `it names ${toname}` : (dry.stderr.trim().split('\n')[0] ?? 'zfs cannot decode it')})`));
      return 'idle';
    }
  }
  const estimate = dry.exitCode === 0 ? estimateOf(dry.stdout) : null;
  ctx.log(`send-snapshot: zfs ${args.map((a) => (a === request.resumeToken ? '<token>' : a)).join(' ')}`);
  const proc = ctx.zfs.send(args);
  await ctx.send({ kind: 'send-ready', snapshot: request.snapshot, guid: described.guid, volsize: String(described.volsize), estimate });
  let bytes = 0n;
  let onClose = (): void => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let chain = Promise.resolve();
      onClose = (): void => reject(new ProtocolError(ProtocolErrorCode.PEER_CLOSED, 'dom0 went away during a send-snapshot'));
      ctx.inputClosed.addEventListener('abort', onClose, { once: true });
      if (ctx.inputClosed.aborted) onClose();
      proc.stdout.on('data', (chunk: Buffer) => {
        bytes += BigInt(chunk.length);
        proc.stdout.pause();
        chain = chain.then(() => sendData(ctx, chunk)).then(() => {
          proc.stdout.resume();
        }, reject);
      });
      proc.stdout.once('end', () => {
        void chain.then(resolve, reject);
      });
      proc.stdout.once('error', reject);
    });
  } catch (error) {
    proc.kill();
    const out = await proc.done;
    ctx.log(`send-snapshot: stopped after ${bytes} bytes (${error instanceof Error ? error.message : String(error)}); zfs send ${out.exitCode === null ? `killed by ${out.signal ?? '?'}` : `exit ${out.exitCode}`}`);
    if (ctx.writer.isClosed || ctx.inputClosed.aborted) return 'eof';
    throw error;
  } finally {
    ctx.inputClosed.removeEventListener('abort', onClose);
  }
  const out = await proc.done;
  if (out.exitCode === 0) {
    await ctx.writer.writeEnd();
    ctx.log(`send-snapshot: ${request.snapshot} sent, ${bytes} bytes`);
    await ctx.send({ kind: 'snapshot-sent', snapshot: request.snapshot, bytes: String(bytes) });
  } else {
    await ctx.writer.writeAbort();
    ctx.log(`send-snapshot: ${request.snapshot} failed after ${bytes} bytes`);
    await ctx.send(zfsFailure(`zfs send of ${request.snapshot}`, out));
  }
  return 'idle';
}
