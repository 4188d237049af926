// abort: `zfs receive -A DATASET`, discarding partial receive state. "No state to abort" is not an
// error: the reply says hadState=false.
import type { AgentContext } from '../context.ts';
import type { AbortRequest } from '../../shared/protocol/schemas/requests.ts';
import { isBelowRoot } from '../../shared/protocol/confine.ts';
import { errorReply, zfsFailure } from '../replies.ts';

/** Answers abort with `aborted` or an error reply. */
export async function handleAbort(ctx: AgentContext, root: string, request: AbortRequest): Promise<void> {
  if (!isBelowRoot(request.dataset, root)) {
    await ctx.send(errorReply('REQUEST_REFUSED', `${request.dataset} is not below the receive root ${root}`));
    return;
  }
  const r = await ctx.zfs.zfs(['receive', '-A', request.dataset]);
  if (r.exitCode === 0) {
    ctx.log(`abort: discarded the partial receive state of ${request.dataset}`);
    await ctx.send({ kind: 'aborted', dataset: request.dataset, hadState: true });
  } else if (/does not have any resumable receive state/.test(r.stderr)) {
    await ctx.send({ kind: 'aborted', dataset: request.dataset, hadState: false });
  } else {
    await ctx.send(zfsFailure(`zfs receive -A ${request.dataset}`, r));
  }
}
