// Unframed receives from dom0's side: after receive-ready the stream goes as it is (no frame
// headers), the session goes on after a complete one, a stream whose process failed is cut (dom0
// ends its output, takes the failure, and the link is closed), an early `received` does not stop
// forwarding, and the framed path is kept where unframed is not offered or cannot be judged.
// The agent's half (its zfs receive reading the channel) is checked on real ZFS in real-zfs.vm.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ReceiverClient } from '../../../dom0/receiver-link/client.ts';
import { ReceiveFailedError } from '../../../dom0/receiver-link/errors.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { FRAME_HEADER_BYTES } from '../../../shared/protocol/limits.ts';
import { FrameType } from '../../../shared/protocol/frame.ts';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply } from '../../../shared/protocol/schemas/replies.ts';
import type { ReceiveHeader } from '../../../dom0/receiver-link/types.ts';

const ROOT = 'backup/qzb';
const HEADER: ReceiveHeader = { dataset: `${ROOT}/a`, snapshot: 's', type: 'volume', stream: 'full', origin: null, raw: false, resume: false };
const TOKEN = '1-abc-10-789c';

interface Seen {
  requests: Request[];
  /** Per receive: the bytes that followed receive-ready (raw), or the data frames' payloads (framed). */
  streams: Buffer[];
  dataFrames: number;
}

/**
 * A fake agent that parses frames by hand, so that after an unframed receive-ready it can read the
 * raw stream: `streamBytes` bytes make a complete stream (then `received`); EOF before that, a
 * `receive-failed` with a token. `earlyReceived`: answer `received` after the first chunk.
 */
function fakeAgent(opts: { unframed: boolean; streamBytes: number; earlyReceived?: boolean }) {
  const toAgent = new PassThrough();
  const toClient = new PassThrough();
  const client = new ReceiverClient(toClient, toAgent, { stopTransport: async () => { toClient.end(); } });
  const seen: Seen = { requests: [], streams: [], dataFrames: 0 };
  const send = (r: Reply): void => void toClient.write(encodeMessage(replySchemas, r));
  let buf = Buffer.alloc(0);
  let raw: { got: Buffer[]; n: number; answered: boolean } | null = null;
  const finishRaw = (complete: boolean): void => {
    const r = raw!;
    raw = null;
    seen.streams.push(Buffer.concat(r.got));
    if (complete && !r.answered) send({ kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '42' });
    if (!complete) send({ kind: 'receive-failed', dataset: HEADER.dataset, snapshot: HEADER.snapshot, exitCode: 1, signal: null, stderr: ['cannot receive: incomplete stream'], resumeToken: TOKEN });
  };
  toAgent.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (raw) {
        const take = Math.min(buf.length, opts.streamBytes - raw.n);
        raw.got.push(buf.subarray(0, take));
        raw.n += take;
        buf = buf.subarray(take);
        if (opts.earlyReceived && !raw.answered && raw.n > 0) {
          raw.answered = true;
          send({ kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '42' });
        }
        if (raw.n < opts.streamBytes) return;
        finishRaw(true);
        continue;
      }
      if (buf.length < FRAME_HEADER_BYTES) return;
      const length = buf.readUInt32BE(0);
      if (buf.length < FRAME_HEADER_BYTES + length) return;
      const type = buf[4];
      const payload = buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
      buf = buf.subarray(FRAME_HEADER_BYTES + length);
      if (type === FrameType.DATA) {
        seen.dataFrames++;
        continue;
      }
      if (type === FrameType.END) {
        seen.streams.push(Buffer.alloc(0));
        send({ kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '42' });
        continue;
      }
      if (type !== FrameType.CONTROL) continue;
      const request = decodeMessage(requestSchemas, payload);
      seen.requests.push(request);
      if (request.kind === 'hello') {
        send({
          kind: 'hello', protocol: 2, agent: 'fake', zfsVersion: [], unframed: opts.unframed,
          receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' },
          pool: { name: 'backup', exists: true, features: [] },
        });
      } else if (request.kind === 'receive') {
        send({ kind: 'receive-ready', dataset: request.dataset, snapshot: request.snapshot });
        if (request.unframed) raw = { got: [], n: 0, answered: false };
      } else if (request.kind === 'abort') {
        send({ kind: 'aborted', dataset: request.dataset, hadState: false });
      }
    }
  });
  toAgent.on('end', () => {
    if (raw) finishRaw(false);
  });
  return { client, seen };
}

/** A source of `n` pseudo-random bytes in chunks of 64 KiB, and its SHA-256. */
function source(n: number): { stream: PassThrough; sha: string } {
  const bytes = createHash('sha512').update('seed').digest();
  const all = Buffer.alloc(n);
  for (let i = 0; i < n; i++) all[i] = bytes[i % bytes.length]! ^ (i >> 8);
  const stream = new PassThrough();
  void (async () => {
    for (let o = 0; o < n; o += 65536) {
      if (!stream.write(all.subarray(o, o + 65536))) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
  })();
  return { stream, sha: createHash('sha256').update(all).digest('hex') };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('unframed: the stream follows receive-ready as it is, and the session goes on after it', async () => {
  const n = 3 * 1024 * 1024 + 17;
  const { client, seen } = fakeAgent({ unframed: true, streamBytes: n });
  assert.equal((await client.hello(ROOT)).unframed, true);
  const src = source(n);
  const r = await client.receive(HEADER, src.stream, { unframed: true, sourceOk: Promise.resolve(true) });
  assert.equal(r.guid, 42n);
  assert.equal(r.bytes, BigInt(n));
  const request = seen.requests.find((q) => q.kind === 'receive');
  assert.equal(request?.kind === 'receive' && request.unframed, true);
  assert.equal(seen.dataFrames, 0, 'no data frames');
  assert.equal(sha(seen.streams[0]!), src.sha, 'the agent got exactly the stream');
  assert.deepEqual(await client.abort(HEADER.dataset), { hadState: false });
  assert.equal(client.failed, null);
});

test('unframed: a stream whose process failed is cut; dom0 ends its output, takes the failure, and the link is closed', async () => {
  const n = 1024 * 1024;
  const { client, seen } = fakeAgent({ unframed: true, streamBytes: 2 * n });
  await client.hello(ROOT);
  const e = await client.receive(HEADER, source(n).stream, { unframed: true, sourceOk: Promise.resolve(false) }).catch((x: unknown) => x);
  assert.ok(e instanceof ReceiveFailedError, String(e));
  assert.equal(e.resumeToken, TOKEN);
  assert.equal(e.bytes, BigInt(n));
  assert.equal(seen.streams[0]!.length, n);
  assert.equal((client.failed as { code?: string } | null)?.code, 'RECEIVER_CLOSED');
  assert.equal(await client.abort(HEADER.dataset).then(() => 'ok', (x: { code?: string }) => x.code), 'RECEIVER_CLOSED');
});

test('unframed: a `received` before the source has ended does not stop forwarding (there is no END)', async () => {
  const n = 2 * 1024 * 1024;
  const { client, seen } = fakeAgent({ unframed: true, streamBytes: n, earlyReceived: true });
  await client.hello(ROOT);
  const src = source(n);
  const r = await client.receive(HEADER, src.stream, { unframed: true, sourceOk: Promise.resolve(true) });
  assert.equal(r.bytes, BigInt(n));
  assert.equal(sha(seen.streams[0]!), src.sha);
  assert.equal(client.failed, null);
});

test('framed whenever unframed is not offered by the agent or the source cannot be judged', async () => {
  for (const [offered, sourceOk] of [[false, Promise.resolve(true)], [true, undefined]] as const) {
    const { client, seen } = fakeAgent({ unframed: offered, streamBytes: 1 });
    await client.hello(ROOT);
    const r = await client.receive(HEADER, source(300_000).stream, { unframed: true, ...(sourceOk ? { sourceOk } : {}) });
    assert.equal(r.guid, 42n);
    const request = seen.requests.find((q) => q.kind === 'receive');
    assert.equal(request?.kind === 'receive' && request.unframed, false, `offered ${offered}`);
    assert.ok(seen.dataFrames > 0);
  }
});
