// A scripted (hostile) agent for the dom0 client's checks: it answers hello for `root`, then runs
// `script` for every other request, writing whatever frames the test wants.
import { PassThrough } from 'node:stream';
import { ReceiverClient } from '../../../dom0/receiver-link/client.ts';
import { readFrames } from '../../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { encodeFrameHeader, FrameType } from '../../../shared/protocol/frame.ts';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply } from '../../../shared/protocol/schemas/replies.ts';
import { isQzbError } from '../../../shared/errors.ts';
import type { ZfsOutput } from '../../../receiver/zfs-runner.ts';

/** A client whose hello has succeeded against an agent that answers the rest with `script`. */
export async function hostile(root: string, script: (out: PassThrough) => void): Promise<ReceiverClient> {
  const toAgent = new PassThrough();
  const toClient = new PassThrough();
  const client = new ReceiverClient(toClient, toAgent, { stopTransport: async () => { toClient.end(); } });
  void (async () => {
    for await (const frame of readFrames(toAgent)) {
      if (frame.type !== FrameType.CONTROL) continue;
      const request: Request = decodeMessage(requestSchemas, frame.payload);
      if (request.kind === 'hello') {
        toClient.write(encodeMessage(replySchemas, {
          kind: 'hello', protocol: 2, agent: 'evil', zfsVersion: [],
          receiveRoot: { name: root, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' },
          pool: { name: root.split('/')[0]!, exists: true, features: [] }, unframed: false,
        }));
      } else script(toClient);
    }
  })().catch(() => {});
  await client.hello(root);
  return client;
}

/** One control message. */
export const msg = (out: PassThrough, m: Reply): boolean => out.write(encodeMessage(replySchemas, m));

/** One data frame of `n` bytes. */
export const data = (out: PassThrough, n: number): void => {
  out.write(encodeFrameHeader(FrameType.DATA, n));
  out.write(Buffer.alloc(n, 1));
};

/** The QzbError code a promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (x: unknown) => x);
  return isQzbError(e) ? e.code : `not a QzbError: ${String(e)}`;
}

/** A zfs result. */
export const ok = (stdout = ''): ZfsOutput => ({ exitCode: 0, signal: null, stdout, stderr: '' });
/** A failed zfs result. */
export const fail = (stderr: string): ZfsOutput => ({ exitCode: 1, signal: null, stdout: '', stderr });

/**
 * What a scripted agent runner answers about one volume snapshot `snap` (the hello's version and
 * receive-root queries, the dataset's type, the snapshot's volsize and GUID), or null for any other
 * zfs call (the test's own runner answers those).
 */
export function volumeSnapshotAnswer(args: string[], snap: string, volsize: number | string, guid: string): ZfsOutput | null {
  const last = args[args.length - 1]!;
  if (args[0] === 'version') return ok('zfs-2.3.2-1\n');
  if (args[0] === 'get' && args.includes('type,encryption,keystatus')) return ok('type\tfilesystem\nencryption\toff\nkeystatus\t-\n');
  if (args[0] === 'get' && args.includes('type')) return last === snap.split('@')[0] ? ok('volume\n') : fail(`cannot open '${last}': dataset does not exist\n`);
  if (args[0] === 'get' && args.includes('volsize,guid')) return last === snap ? ok(`volsize\t${volsize}\nguid\t${guid}\n`) : fail('no\n');
  return null;
}
