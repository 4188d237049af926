// The dom0 client against an agent that stalls, floods or lies about a stream (issue 9 items 2–5):
// a silent agent, a dripping or endless inventory, an agent that stops reading mid-stream or never
// answers after END, one that answers receive-failed and stops reading, one that claims `received`
// before the stream was complete, and a schema-valid inventory beyond the memory budget. Every one
// must end in a typed error within the configured timeouts; none may hang or succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { ReceiverClient, type ReceiverClientOptions } from '../../../dom0/receiver-link/client.ts';
import { readFrames } from '../../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { FrameType, type FrameTypeValue } from '../../../shared/protocol/frame.ts';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply, type DatasetInfo } from '../../../shared/protocol/schemas/replies.ts';
import { MAX_INVENTORY_BATCH, MAX_INVENTORY_BYTES, MAX_INVENTORY_MESSAGES, MAX_RESUME_TOKEN_LENGTH } from '../../../shared/protocol/limits.ts';
import { isQzbError } from '../../../shared/errors.ts';
import { ReceiveFailedError } from '../../../dom0/receiver-link/errors.ts';
import type { ReceiveHeader } from '../../../dom0/receiver-link/types.ts';

const ROOT = 'backup/qzb';
const HELLO_REPLY: Reply = {
  kind: 'hello', protocol: 2, agent: 'evil 6.6.6', zfsVersion: ['zfs-2.3.2-1'],
  receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' },
  pool: { name: 'backup', exists: true, features: [] }, unframed: false,
};
const HEADER: ReceiveHeader = { dataset: 'backup/qzb/a', snapshot: 's', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
const READY: Reply = { kind: 'receive-ready', dataset: HEADER.dataset, snapshot: HEADER.snapshot };
const FAST: ReceiverClientOptions = { replyTimeoutMs: 300, inventoryTimeoutMs: 5_000, stallTimeoutMs: 400 };

/** Every frame the fake agent saw, and what it does with them. */
interface AgentScript {
  /** Called for each control request; may write replies, may never resolve (stops reading). */
  onRequest: (request: Request, out: PassThrough) => void | Promise<void>;
  /** Called for data/END/ABORT frames (default: keep reading). */
  onFrame?: (type: FrameTypeValue, out: PassThrough) => void | Promise<void>;
}

function fakeAgent(script: AgentScript, options: ReceiverClientOptions = FAST) {
  // Small buffers, so an agent that stops reading blocks dom0's writes quickly.
  const toAgent = new PassThrough({ highWaterMark: 16 * 1024 });
  const toClient = new PassThrough();
  const client = new ReceiverClient(toClient, toAgent, { ...options, stopTransport: async () => { toClient.end(); toAgent.destroy(); } });
  const frames: FrameTypeValue[] = [];
  void (async () => {
    try {
      for await (const frame of readFrames(toAgent)) {
        frames.push(frame.type);
        if (frame.type === FrameType.CONTROL) await script.onRequest(decodeMessage(requestSchemas, frame.payload), toClient);
        else await script.onFrame?.(frame.type, toClient);
      }
    } catch (error) {
      // The client went away; anything else is a bug in the test's script.
      if (!toAgent.destroyed && !toClient.writableEnded) console.error('fake agent failed:', error);
    }
  })();
  return { client, frames };
}

const reply = (out: PassThrough, message: Reply): boolean => out.write(encodeMessage(replySchemas, message));
const never = (): Promise<void> => new Promise(() => {});
const endless = (): Readable => new Readable({ read() { this.push(Buffer.alloc(65536, 7)); } });

/** Settles with the error code (or RESOLVED), or 'HUNG' when `promise` is still pending after `ms`. */
async function outcome(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('HUNG'), ms); });
  const settled = promise.then(() => 'RESOLVED', (error: unknown) => (isQzbError(error) ? error.code : `not a QzbError: ${String(error)}`));
  try {
    return await Promise.race([settled, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function afterHello(script: AgentScript, options?: ReceiverClientOptions) {
  const agent = fakeAgent({ ...script, onRequest: (r, out) => (r.kind === 'hello' ? void reply(out, HELLO_REPLY) : script.onRequest(r, out)) }, options);
  await agent.client.hello(ROOT);
  return agent;
}

const ds = (name: string, extra: Partial<DatasetInfo> = {}): DatasetInfo => ({
  name, type: 'filesystem', guid: '1', createtxg: '1', origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: '0', ...extra,
});

// ---- stalls ----

test('stall: a silent agent fails hello, inventory and abort with RECEIVER_TIMEOUT, not a hang', async () => {
  const silent = fakeAgent({ onRequest: () => {} });
  assert.equal(await outcome(silent.client.hello(ROOT), 3_000), 'RECEIVER_TIMEOUT');
  assert.equal(await outcome(silent.client.inventory(), 1_000), 'RECEIVER_TIMEOUT', 'the link stays failed');
  await silent.client.close();

  const mute = await afterHello({ onRequest: () => {} });
  assert.equal(await outcome(mute.client.abort('backup/qzb/a'), 3_000), 'RECEIVER_TIMEOUT');
  await mute.client.close();

  const noReady = await afterHello({ onRequest: () => {} });
  assert.equal(await outcome(noReady.client.receive(HEADER, Readable.from([Buffer.from('x')])), 3_000), 'RECEIVER_TIMEOUT');
  await noReady.client.close();
});

test('stall: an inventory that stops after one batch fails with RECEIVER_TIMEOUT (idle), one that drips past its deadline too', async () => {
  const { client } = await afterHello({ onRequest: (r, out) => { if (r.kind === 'inventory') reply(out, { kind: 'inventory-batch', datasets: [ds(ROOT)], snapshots: [] }); } });
  assert.equal(await outcome(client.inventory(), 3_000), 'RECEIVER_TIMEOUT');
  await client.close();

  // A batch every 200 ms (under the idle timeout) never ends: the whole-inventory deadline stops it.
  const drip = await afterHello({
    onRequest: async (r, out) => {
      if (r.kind !== 'inventory') return;
      for (let i = 0; i < 100; i++) {
        reply(out, { kind: 'inventory-batch', datasets: [ds(i === 0 ? ROOT : `${ROOT}/d${i}`)], snapshots: [] });
        await new Promise((res) => setTimeout(res, 200));
      }
    },
  }, { ...FAST, inventoryTimeoutMs: 1_000 });
  assert.equal(await outcome(drip.client.inventory(), 4_000), 'RECEIVER_TIMEOUT');
  await drip.client.close();
});

test('stall: an agent that stops reading the stream fails the receive with RECEIVER_STALLED and destroys the source', async () => {
  const { client } = await afterHello({ onRequest: async (r, out) => { if (r.kind === 'receive') { reply(out, READY); await never(); } } });
  const source = endless();
  assert.equal(await outcome(client.receive(HEADER, source), 4_000), 'RECEIVER_STALLED');
  assert.ok(source.destroyed, 'the source was destroyed');
  assert.equal(client.failed && (client.failed as { code?: string }).code, 'RECEIVER_STALLED', 'the link is failed; the caller closes it');
  await client.close();
});

test('stall: an agent that reads the whole stream but never answers fails with RECEIVER_STALLED', async () => {
  const { client, frames } = await afterHello({ onRequest: (r, out) => { if (r.kind === 'receive') reply(out, READY); } });
  assert.equal(await outcome(client.receive(HEADER, Readable.from([Buffer.from('stream')])), 4_000), 'RECEIVER_STALLED');
  assert.equal(frames.at(-1), FrameType.END);
  await client.close();
});

test('stall: a slow but progressing agent is not a stall', async () => {
  // Reads one frame every 50 ms with a 1.5 s stall limit: slow, never stalled.
  const { client } = await afterHello({
    onRequest: (r, out) => { if (r.kind === 'receive') reply(out, READY); },
    onFrame: async (type, out) => {
      await new Promise((res) => setTimeout(res, 50));
      if (type === FrameType.END) reply(out, { kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '42' });
    },
  }, { ...FAST, stallTimeoutMs: 1_500 });
  const chunks = Array.from({ length: 12 }, () => Buffer.alloc(32 * 1024, 1));
  const result = await client.receive(HEADER, Readable.from(chunks));
  assert.equal(result.bytes, 12n * 32n * 1024n);
  await client.close();
});

// ---- floods ----

test('flood: endless empty inventory batches fail fast', async () => {
  let sent = 0;
  const { client } = await afterHello({
    onRequest: async (r, out) => {
      if (r.kind !== 'inventory') return;
      for (;;) {
        sent++;
        if (!reply(out, { kind: 'inventory-batch', datasets: [], snapshots: [] })) await new Promise((res) => out.once('drain', res));
      }
    },
  }, { ...FAST, replyTimeoutMs: 60_000, inventoryTimeoutMs: 60_000 });
  const started = Date.now();
  assert.equal(await outcome(client.inventory(), 5_000), 'PROTOCOL_BAD_MESSAGE');
  assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
  assert.ok(sent < 10_000, `dom0 stopped reading after ${sent} batches`);
  await client.close();
});

test(`flood: more than MAX_INVENTORY_MESSAGES (${MAX_INVENTORY_MESSAGES}) one-entry batches fail with PROTOCOL_LIMIT_EXCEEDED`, async () => {
  const { client } = await afterHello({
    onRequest: async (r, out) => {
      if (r.kind !== 'inventory') return;
      reply(out, { kind: 'inventory-batch', datasets: [ds(ROOT)], snapshots: [] });
      for (let i = 0; i <= MAX_INVENTORY_MESSAGES; i++) {
        if (!reply(out, { kind: 'inventory-batch', datasets: [], snapshots: [{ name: `${ROOT}@s${i}`, type: 'snapshot', guid: '1', createtxg: '1' }] })) {
          await new Promise((res) => out.once('drain', res));
        }
      }
      reply(out, { kind: 'inventory-end', datasets: 1, snapshots: MAX_INVENTORY_MESSAGES + 1 });
    },
  }, { ...FAST, replyTimeoutMs: 60_000, inventoryTimeoutMs: 60_000 });
  assert.equal(await outcome(client.inventory(), 30_000), 'PROTOCOL_LIMIT_EXCEEDED');
  await client.close();
});

test('flood: a schema-valid inventory beyond MAX_INVENTORY_BYTES fails with PROTOCOL_LIMIT_EXCEEDED', async () => {
  // Datasets with the longest resume tokens, until well past the budget (old code: accepted).
  const token = `1-abc-10-${'a'.repeat(MAX_RESUME_TOKEN_LENGTH - 9)}`;
  const perBatch = Math.min(MAX_INVENTORY_BATCH, 100);
  const batches = Math.ceil((MAX_INVENTORY_BYTES * 1.2) / (perBatch * MAX_RESUME_TOKEN_LENGTH));
  const { client } = await afterHello({
    onRequest: async (r, out) => {
      if (r.kind !== 'inventory') return;
      for (let b = 0; b < batches; b++) {
        const datasets = Array.from({ length: perBatch }, (_, i) => (b === 0 && i === 0 ? ds(ROOT) : ds(`${ROOT}/d${b}-${i}`, { resumeToken: token })));
        if (!reply(out, { kind: 'inventory-batch', datasets, snapshots: [] })) await new Promise((res) => out.once('drain', res));
      }
      reply(out, { kind: 'inventory-end', datasets: batches * perBatch, snapshots: 0 });
    },
  }, { ...FAST, replyTimeoutMs: 60_000, inventoryTimeoutMs: 120_000 });
  assert.equal(await outcome(client.inventory(), 120_000), 'PROTOCOL_LIMIT_EXCEEDED');
  await client.close();
});

// ---- lies ----

test('lie: receive-failed at once, then the agent stops reading: receive() rejects with the failure, no hang', async () => {
  const { client } = await afterHello({
    onRequest: async (r, out) => {
      if (r.kind !== 'receive') return;
      reply(out, READY);
      reply(out, { kind: 'receive-failed', dataset: HEADER.dataset, snapshot: HEADER.snapshot, exitCode: 1, signal: null, stderr: ['cannot receive: out of space'], resumeToken: null });
      await never();
    },
  }, { ...FAST, stallTimeoutMs: 60_000 });
  const source = endless();
  const failure = await Promise.race([client.receive(HEADER, source).catch((e: unknown) => e), new Promise((res) => setTimeout(() => res('HUNG'), 3_000))]);
  assert.ok(failure instanceof ReceiveFailedError, String(failure));
  assert.equal(failure.reason, 'out-of-space');
  assert.ok(source.destroyed);
  await client.close();
});

test('lie: `received` before dom0 sent END is a protocol violation, never a success', async () => {
  // The agent answers ready and at once received; the source is slow, so END is not yet sent.
  const { client, frames } = await afterHello({
    onRequest: (r, out) => {
      if (r.kind !== 'receive') return;
      reply(out, READY);
      reply(out, { kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '12345' });
    },
  });
  const slow = new Readable({ read() { setTimeout(() => this.push(Buffer.from('stream')), 100); } });
  assert.equal(await outcome(client.receive(HEADER, slow), 3_000), 'PROTOCOL_UNEXPECTED_MESSAGE');
  assert.ok(!frames.includes(FrameType.END), 'dom0 never claimed the stream complete');
  await client.close();

  // The same with the source's first chunk already there (the review's case: 0 bytes, ABORT, success).
  const quick = await afterHello({
    onRequest: (r, out) => {
      if (r.kind !== 'receive') return;
      reply(out, READY);
      reply(out, { kind: 'received', dataset: HEADER.dataset, snapshot: HEADER.snapshot, guid: '12345' });
    },
  });
  assert.equal(await outcome(quick.client.receive(HEADER, endless()), 3_000), 'PROTOCOL_UNEXPECTED_MESSAGE');
  await quick.client.close();
});

test('lie: a legitimate early receive-failed (zfs exited) is still a ReceiveFailedError and the link stays usable', async () => {
  const { client } = await afterHello({
    onRequest: (r, out) => {
      if (r.kind === 'abort') reply(out, { kind: 'aborted', dataset: r.dataset, hadState: false });
      if (r.kind !== 'receive') return;
      reply(out, READY);
      reply(out, { kind: 'receive-failed', dataset: HEADER.dataset, snapshot: HEADER.snapshot, exitCode: 1, signal: null, stderr: ['cannot receive new filesystem stream: checksum mismatch or incomplete stream.'], resumeToken: null });
    },
  });
  const failure = await client.receive(HEADER, endless()).catch((e: unknown) => e);
  assert.ok(failure instanceof ReceiveFailedError, String(failure));
  assert.equal(client.failed, null);
  assert.deepEqual(await client.abort(HEADER.dataset), { hadState: false });
  await client.close();
});
