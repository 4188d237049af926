// One qrexec call = one session: hello first, then any number of inventory / receive / abort
// requests, one at a time, until dom0 closes its end. Anything out of order or malformed is a
// protocol error: the agent replies with its code (when it still can) and ends the session.
import type { Readable, Writable } from 'node:stream';
import type { AgentContext } from './context.ts';
import type { AgentZfs } from './zfs-runner.ts';
import { readFrames, FrameWriter } from '../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../shared/protocol/codec.ts';
import { FrameType } from '../shared/protocol/frame.ts';
import { requestSchemas } from '../shared/protocol/schemas/requests.ts';
import { replySchemas, type AgentErrorCode } from '../shared/protocol/schemas/replies.ts';
import { isProtocolError, ProtocolError, ProtocolErrorCode } from '../shared/protocol/errors.ts';
import { errorReply } from './replies.ts';
import { handleHello } from './handlers/hello.ts';
import { handleInventory } from './handlers/inventory.ts';
import { handleReceive } from './handlers/receive.ts';
import { handleAbort } from './handlers/abort.ts';
import { handleReadSettings, handleStoreSettings } from './handlers/settings.ts';
import { handleExport } from './handlers/export.ts';
import { handleSendSnapshot } from './handlers/send-snapshot.ts';
import { FdInput } from './fd-input.ts';

/** How a session ended: dom0 closed cleanly, dom0 went away mid-operation, or a protocol error. */
export type SessionEnd = 'closed' | 'disconnected' | 'protocol-error';

/** What a session needs besides its two streams. */
export interface SessionOptions {
  zfs: AgentZfs;
  version: string;
  log?: (line: string) => void;
}

/**
 * Serves one session over `input` (from dom0) and `output` (to dom0) until it ends. An FdInput
 * (the agent's own stdin) also allows unframed receives; a Readable (tests) only framed ones.
 */
export async function serveSession(input: Readable | FdInput, output: Writable, options: SessionOptions): Promise<SessionEnd> {
  const writer = new FrameWriter(output);
  const log = options.log ?? (() => {});
  let closedSignal: AbortSignal;
  if (input instanceof FdInput) {
    closedSignal = input.closed;
  } else {
    const inputClosed = new AbortController();
    input.once('close', () => inputClosed.abort());
    input.once('error', () => inputClosed.abort());
    closedSignal = inputClosed.signal;
  }
  const ctx: AgentContext = {
    inputClosed: closedSignal,
    unframedFd: input instanceof FdInput && input.blocking && options.zfs.receiveFrom !== undefined ? input.fd : null,
    zfs: options.zfs,
    root: null,
    prefetch: null,
    known: new Set(),
    version: options.version,
    send: (reply) => writer.writeFrame(encodeMessage(replySchemas, reply)),
    writer,
    log,
  };
  const frames = readFrames(input);
  try {
    for (;;) {
      const step = await frames.next();
      if (step.done) {
        log('session: dom0 closed the connection');
        return 'closed';
      }
      const frame = step.value;
      if (frame.type !== FrameType.CONTROL) {
        throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, 'a data, END or ABORT frame arrived outside a receive');
      }
      const request = decodeMessage(requestSchemas, frame.payload);
      const root = ctx.root;
      if (request.kind === 'hello') {
        if (root !== null) throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, 'hello was already received');
        await handleHello(ctx, request);
        continue;
      }
      if (root === null) throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, `${request.kind} before a successful hello`);
      // A prefetch serves only the request right after hello.
      const prefetched = ctx.prefetch?.root === root ? ctx.prefetch.listing : undefined;
      ctx.prefetch = null;
      switch (request.kind) {
        case 'inventory':
          await handleInventory(ctx, root, prefetched);
          break;
        case 'abort':
          await handleAbort(ctx, root, request);
          break;
        case 'store-settings':
          await handleStoreSettings(ctx, root, request);
          break;
        case 'read-settings':
          await handleReadSettings(ctx, root, request);
          break;
        case 'export':
          if ((await handleExport(ctx, root, request)) === 'eof') return 'disconnected';
          break;
        case 'send-snapshot':
          if ((await handleSendSnapshot(ctx, root, request)) === 'eof') return 'disconnected';
          break;
        case 'receive': {
          const end = await handleReceive(ctx, root, request, frames);
          if (end === 'eof') return 'disconnected';
          // After an unframed stream that failed, the rest of it may still be on the input.
          if (end === 'unframed-failed') return 'closed';
          break;
        }
      }
    }
  } catch (error) {
    if (isProtocolError(error) && error.code === ProtocolErrorCode.PEER_CLOSED) {
      log(`session: dom0 went away (${error.message})`);
      return 'disconnected';
    }
    if (isProtocolError(error)) {
      log(`session: protocol error ${error.code}: ${error.message}`);
      if (error.code !== ProtocolErrorCode.VERSION_MISMATCH) await trySend(ctx, error.code as AgentErrorCode, error.message);
      return 'protocol-error';
    }
    if (isStreamClosed(error)) {
      log(`session: the input stream broke (${String(error)})`);
      return 'disconnected';
    }
    log(`session: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await trySend(ctx, 'AGENT_INTERNAL', `internal error in the receiver agent: ${error instanceof Error ? error.message : String(error)}`);
    return 'protocol-error';
  } finally {
    await frames.return(undefined).catch(() => {});
    writer.end();
  }
}

async function trySend(ctx: AgentContext, code: AgentErrorCode, message: string): Promise<void> {
  try {
    await ctx.send(errorReply(code, message));
  } catch {
    // dom0 is gone; the log line above is all that remains.
  }
}

function isStreamClosed(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE';
}
