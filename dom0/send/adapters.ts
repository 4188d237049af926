// The real adapters of `send` and `verify`: the qrexec link to the agent and dom0's `zfs send`,
// `zfs send -nvP` (estimates, token decoding) and `zfs bookmark`. Thin wiring of dom0/zfs/ and
// dom0/receiver-link/; every decision is the planner's.
import { QzbError } from '../../shared/errors.ts';
import type { Writable } from 'node:stream';
import type { SendAdapters, SendSource } from '../commands/context.ts';
import { connectReceiver } from '../receiver-link/spawn.ts';
import { PreparedPipe } from '../receiver-link/stdin-fifo.ts';
import { createBookmark } from '../zfs/bookmark.ts';
import { decodeResumeToken } from '../zfs/resume-token.ts';
import { estimateArgs, estimateRangeArgs, parseEstimate, parseRangeEstimate, resumeArgs, sendArgs } from '../zfs/send-args.ts';
import { findSetpriv, startZfsSend, startZfsSendInto } from '../zfs/send-process.ts';
import { runZfs, type ZfsRunOptions } from '../zfs/runner.ts';
import type { DecodedToken } from './types.ts';

function argsOf(source: SendSource): string[] {
  return 'token' in source ? resumeArgs(source.token) : sendArgs(source);
}

// The adapters the CLI gives `send` and `verify`.
export function realSendAdapters(options: ZfsRunOptions = {}): SendAdapters {
  // zfs send writes into the link itself only where it can be tied to this process's life.
  const setpriv = findSetpriv();
  let prepared: PreparedPipe | null = null;
  return {
    connectReceiver: (qube) => {
      const pipe = prepared;
      prepared = null;
      const link = connectReceiver(qube, { ...(options.onCommand ? { onCommand: options.onCommand } : {}), ...(pipe ? { prepared: pipe } : {}) });
      return { client: link.client, stderrTail: () => link.stderrTail() };
    },
    prepareConnection: () => {
      prepared?.release();
      const pipe = new PreparedPipe();
      prepared = pipe;
      return () => pipe.release();
    },
    decodeToken: async (token): Promise<DecodedToken> => {
      const r = await decodeResumeToken(token, options);
      if (r.status === 'corrupt') throw new QzbError('RESUME_TOKEN_CORRUPT', `zfs cannot decode the resume token: ${r.failure.message}`);
      const d = r.dump;
      if (r.status === 'not-resumable') throw new QzbError('RESUME_TOKEN_NOT_RESUMABLE', `the partial receive cannot be resumed from this source (${r.failure.message})`);
      return { toname: d.toname, toguid: d.toguid, fromguid: d.fromguid, bytes: d.bytes, flags: d.flags };
    },
    estimate: async (source) => {
      // A resume's estimate is what remains: the size line of the token dump.
      if ('token' in source) {
        const r = await decodeResumeToken(source.token, options);
        return r.status === 'corrupt' ? null : r.dump.size;
      }
      return parseEstimate((await runZfs(estimateArgs(source), options)).stdout);
    },
    estimateRange: async (from, last, flags) =>
      parseRangeEstimate((await runZfs(estimateRangeArgs(from, last, flags), options)).stdout, last.slice(0, last.indexOf('@'))),
    // Its own process group: a terminal's Ctrl-C reaches only the CLI, which stops it in order.
    startSend: (source) => startZfsSend(argsOf(source), { ...(options.onCommand ? { onCommand: options.onCommand } : {}), detached: true }),
    ...(setpriv !== null ? {
      startSendInto: (source: SendSource, output: Writable | number) =>
        startZfsSendInto(argsOf(source), output, setpriv, { ...(options.onCommand ? { onCommand: options.onCommand } : {}), detached: true }),
    } : {}),
    createBookmark: async (snapshot, bookmark) => {
      // 'exists' is a race with another writer; send compared the GUID from its inventory first.
      // In the background: send makes it while the next step streams (runner.ts, `background`).
      await createBookmark(snapshot, bookmark, { ...options, background: true });
    },
  };
}
