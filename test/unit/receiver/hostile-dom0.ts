// Test helper: drives an agent session with raw frames, as a (possibly hostile) dom0 would.
import { PassThrough } from 'node:stream';
import { serveSession, type SessionEnd } from '../../../receiver/session.ts';
import { readFrames } from '../../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply } from '../../../shared/protocol/schemas/replies.ts';
import type { AgentZfs } from '../../../receiver/zfs-runner.ts';

/** A raw connection to an in-process agent. */
export interface RawAgent {
  /** Writes raw bytes to the agent. */
  write(bytes: Buffer): void;
  request(message: Request): void;
  data(bytes: Buffer): void;
  end(): void;
  abortStream(): void;
  /** The next reply frame, decoded; null at EOF. */
  next(): Promise<Reply | null>;
  /** Closes dom0's side (EOF to the agent). */
  close(): void;
  session: Promise<SessionEnd>;
  log: string[];
}

/** Starts an agent session on `zfs` and returns the raw dom0 side. */
export function startAgent(zfs: AgentZfs): RawAgent {
  const toAgent = new PassThrough();
  const toDom0 = new PassThrough();
  const log: string[] = [];
  const session = serveSession(toAgent, toDom0, { zfs, version: 'test', log: (l) => log.push(l) });
  const frames = readFrames(toDom0)[Symbol.asyncIterator]();
  return {
    write: (bytes) => toAgent.write(bytes),
    request: (message) => toAgent.write(encodeMessage(requestSchemas, message)),
    data: (bytes) => toAgent.write(encodeFrame(FrameType.DATA, bytes)),
    end: () => toAgent.write(encodeFrame(FrameType.END)),
    abortStream: () => toAgent.write(encodeFrame(FrameType.ABORT)),
    async next() {
      const step = await frames.next();
      return step.done ? null : decodeMessage(replySchemas, step.value.payload);
    },
    close: () => toAgent.end(),
    session,
    log,
  };
}

/** A hello request for the default test root. */
export const HELLO: Request = { kind: 'hello', protocol: 2, receiveRoot: 'backup/qzb', client: 'test' };
