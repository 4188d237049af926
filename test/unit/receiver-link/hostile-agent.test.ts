// The dom0 client against a hostile or broken agent: garbage, oversized frames, data frames,
// unsolicited and mismatched replies, names outside the root, inventory floods, vanishing peers.
// Every violation must fail the link with a typed error, and every later call must fail too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { ReceiverClient } from '../../../dom0/receiver-link/client.ts';
import { readFrames } from '../../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { Packr } from 'msgpackr';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply, type DatasetInfo } from '../../../shared/protocol/schemas/replies.ts';
import { MAX_INVENTORY_BATCH, MAX_INVENTORY_DATASETS } from '../../../shared/protocol/limits.ts';
import { isQzbError } from '../../../shared/errors.ts';
import { ReceiveFailedError, ReceiverRequestError } from '../../../dom0/receiver-link/errors.ts';

const ROOT = 'backup/qzb';
const HELLO_REPLY: Reply = {
  kind: 'hello', protocol: 2, agent: 'evil 6.6.6', zfsVersion: ['zfs-2.3.2-1'],
  receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' },
  pool: { name: 'backup', exists: true, features: [{ name: 'extensible_dataset', state: 'active' }] }, unframed: false,
};

/** A fake agent: `script` gets each request and writes whatever it likes. */
function fakeAgent(script: (request: Request, out: PassThrough, count: number) => void | Promise<void>) {
  const toAgent = new PassThrough();
  const toClient = new PassThrough();
  const client = new ReceiverClient(toClient, toAgent, { stopTransport: async () => { toClient.end(); } });
  const requests: Request[] = [];
  void (async () => {
    try {
      for await (const frame of readFrames(toAgent)) {
        if (frame.type !== FrameType.CONTROL) continue;
        const request = decodeMessage(requestSchemas, frame.payload);
        requests.push(request);
        await script(request, toClient, requests.length);
      }
    } catch {
      // the client went away
    }
  })();
  return { client, toClient, requests };
}

const reply = (out: PassThrough, message: Reply): void => {
  out.write(encodeMessage(replySchemas, message));
};
const rawReply = (out: PassThrough, value: unknown): void => {
  out.write(encodeFrame(FrameType.CONTROL, new Packr({ useRecords: false }).pack(value)));
};

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isQzbError(error), `expected a QzbError, got ${String(error)}`);
    return error.code;
  }
  return 'RESOLVED';
}

/** A client that has passed hello, with `script` answering everything after it. */
async function afterHello(script: (request: Request, out: PassThrough) => void | Promise<void>) {
  const agent = fakeAgent((request, out) => (request.kind === 'hello' ? reply(out, HELLO_REPLY) : script(request, out)));
  const hello = await agent.client.hello(ROOT);
  assert.equal(hello.features.get('extensible_dataset'), 'active');
  return agent;
}

test('garbage, oversized frames and data frames from the agent are fatal, and stay fatal', async () => {
  const cases: Array<[(out: PassThrough) => void, string]> = [
    [(out) => out.write(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), 'PROTOCOL_BAD_FRAME'],
    [(out) => out.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])), 'PROTOCOL_FRAME_TOO_LARGE'],
    [(out) => out.write(Buffer.from([0, 0, 0, 1, 0x07, 0])), 'PROTOCOL_BAD_FRAME'],
    [(out) => out.write(encodeFrame(FrameType.DATA, Buffer.from('boo'))), 'PROTOCOL_UNEXPECTED_MESSAGE'],
    [(out) => out.write(encodeFrame(FrameType.CONTROL, Buffer.from([0xc7, 0x01, 0x65, 0x00]))), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => rawReply(out, { ...HELLO_REPLY, extra: true }), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => rawReply(out, { ...HELLO_REPLY, agent: 'evil\u001b]0;pwned\u0007' }), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => reply(out, { ...HELLO_REPLY, protocol: 1 }), 'PROTOCOL_VERSION_MISMATCH'],
    [(out) => reply(out, { ...HELLO_REPLY, receiveRoot: { ...(HELLO_REPLY as Extract<Reply, { kind: 'hello' }>).receiveRoot, name: 'backup' } }), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => reply(out, { kind: 'inventory-end', datasets: 0, snapshots: 0 }), 'PROTOCOL_UNEXPECTED_MESSAGE'],
    [(out) => reply(out, { kind: 'error', code: 'PROTOCOL_BAD_MESSAGE', message: 'you are bad', stderr: [] }), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => out.end(), 'PROTOCOL_PEER_CLOSED'],
    [(out) => out.end(Buffer.from([0, 0, 0, 9])), 'PROTOCOL_TRUNCATED'],
  ];
  for (const [misbehave, code] of cases) {
    const { client } = fakeAgent((_r, out) => misbehave(out));
    assert.equal(await codeOf(client.hello(ROOT)), code);
    assert.equal(client.failed && (client.failed as { code?: string }).code, code);
    assert.equal(await codeOf(client.inventory()), code, 'later calls fail with the same error');
    await client.close();
  }
});

test('an unsolicited message (before any request or after a reply) fails the link', async () => {
  const early = fakeAgent(() => {});
  reply(early.toClient, HELLO_REPLY);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await codeOf(early.client.hello(ROOT)), 'PROTOCOL_UNEXPECTED_MESSAGE');

  const extra = fakeAgent((_r, out) => {
    reply(out, HELLO_REPLY);
    reply(out, { kind: 'aborted', dataset: 'backup/qzb/a', hadState: true });
  });
  await extra.client.hello(ROOT).catch(() => {});
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await codeOf(extra.client.abort('backup/qzb/a')), 'PROTOCOL_UNEXPECTED_MESSAGE');
});

const ds = (name: string, extra: Partial<DatasetInfo> = {}): DatasetInfo => ({
  name, type: 'filesystem', guid: '1', createtxg: '1', origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: '0', ...extra,
});

test('inventory: names outside the root, orphans, duplicates, wrong totals, type mismatches are fatal', async () => {
  const cases: Array<[Reply[], string]> = [
    [[{ kind: 'inventory-batch', datasets: [ds('backup/other')], snapshots: [] }], 'PROTOCOL_NAME_REFUSED'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup')], snapshots: [] }], 'PROTOCOL_NAME_REFUSED'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzbx')], snapshots: [] }], 'PROTOCOL_NAME_REFUSED'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb/a', { origin: 'tank/x@y' })], snapshots: [] }], 'PROTOCOL_NAME_REFUSED'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb')], snapshots: [{ name: 'backup/qzb/a@s', type: 'snapshot', guid: '1', createtxg: '1' }] }], 'PROTOCOL_BAD_MESSAGE'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb')], snapshots: [{ name: 'backup/qzb#s', type: 'snapshot', guid: '1', createtxg: '1' }] }], 'PROTOCOL_NAME_REFUSED'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb'), ds('backup/qzb')], snapshots: [] }], 'PROTOCOL_BAD_MESSAGE'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb')], snapshots: [] }, { kind: 'inventory-end', datasets: 2, snapshots: 0 }], 'PROTOCOL_BAD_MESSAGE'],
    [[{ kind: 'inventory-batch', datasets: [ds('backup/qzb')], snapshots: [] }, { kind: 'received', dataset: 'backup/qzb/a', snapshot: 's', guid: '1' }], 'PROTOCOL_UNEXPECTED_MESSAGE'],
  ];
  for (const [messages, code] of cases) {
    const { client } = await afterHello((_r, out) => messages.forEach((m) => reply(out, m)));
    assert.equal(await codeOf(client.inventory()), code, JSON.stringify(messages).slice(0, 200));
    await client.close();
  }
  for (const name of ['backup/qzb/../x', 'backup/qzb/a\u0000', 'backup/qzb/a%recv']) {
    const { client } = await afterHello((_r, out) => rawReply(out, { kind: 'inventory-batch', datasets: [ds(name)], snapshots: [] }));
    assert.equal(await codeOf(client.inventory()), 'PROTOCOL_BAD_MESSAGE', name);
  }
});

test('inventory: a flood beyond MAX_INVENTORY_DATASETS stops with PROTOCOL_LIMIT_EXCEEDED', async () => {
  const { client } = await afterHello(async (_r, out) => {
    for (let b = 0; b * MAX_INVENTORY_BATCH <= MAX_INVENTORY_DATASETS + MAX_INVENTORY_BATCH; b++) {
      const datasets = Array.from({ length: MAX_INVENTORY_BATCH }, (_, i) => ds(`backup/qzb/d${b}-${i}`));
      if (!out.write(encodeMessage(replySchemas, { kind: 'inventory-batch', datasets, snapshots: [] }))) {
        await new Promise((r) => out.once('drain', r));
      }
    }
  });
  assert.equal(await codeOf(client.inventory()), 'PROTOCOL_LIMIT_EXCEEDED');
});

test('inventory: a valid one is converted to bigint and sorted by createtxg', async () => {
  const { client } = await afterHello((_r, out) => {
    reply(out, { kind: 'inventory-batch', datasets: [ds('backup/qzb'), ds('backup/qzb/a b', { guid: '18446744073709551615', resumeToken: '1-abc-10-789c' })], snapshots: [] });
    reply(out, { kind: 'inventory-batch', datasets: [], snapshots: [
      { name: 'backup/qzb/a b@new', type: 'snapshot', guid: '3', createtxg: '30' },
      { name: 'backup/qzb/a b@old', type: 'snapshot', guid: '2', createtxg: '20' },
      { name: 'backup/qzb/a b#old', type: 'bookmark', guid: '2', createtxg: '20' },
    ] });
    reply(out, { kind: 'inventory-end', datasets: 2, snapshots: 3 });
  });
  const inv = await client.inventory();
  const a = inv.datasets.get('backup/qzb/a b')!;
  assert.equal(a.guid, 18446744073709551615n);
  assert.deepEqual(a.snapshots.map((s) => s.label), ['old', 'new']);
  assert.deepEqual(a.bookmarks.map((s) => [s.label, s.guid]), [['old', 2n]]);
  assert.equal(a.resumeToken, '1-abc-10-789c');
});

test('receive: mismatched names and bad GUIDs are fatal; request errors are not', async () => {
  const header = { dataset: 'backup/qzb/a', snapshot: 's', type: 'filesystem' as const, stream: 'full' as const, origin: null, raw: false, resume: false };
  const cases: Array<[(out: PassThrough) => void, string]> = [
    [(out) => reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/b', snapshot: 's' }), 'PROTOCOL_BAD_MESSAGE'],
    [(out) => { reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' }); reply(out, { kind: 'received', dataset: 'backup/qzb/a', snapshot: 't', guid: '1' }); }, 'PROTOCOL_BAD_MESSAGE'],
    [(out) => { reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' }); rawReply(out, { kind: 'received', dataset: 'backup/qzb/a', snapshot: 's', guid: '0x12' }); }, 'PROTOCOL_BAD_MESSAGE'],
    [(out) => { reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' }); reply(out, { kind: 'aborted', dataset: 'backup/qzb/a', hadState: true }); }, 'PROTOCOL_UNEXPECTED_MESSAGE'],
    [(out) => { reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' }); out.end(); }, 'PROTOCOL_PEER_CLOSED'],
  ];
  for (const [misbehave, code] of cases) {
    const { client } = await afterHello((r, out) => { if (r.kind === 'receive') misbehave(out); });
    assert.equal(await codeOf(client.receive(header, Readable.from([Buffer.from('stream')]))), code);
  }
  // A request error leaves the link usable.
  let n = 0;
  const { client } = await afterHello((r, out) => {
    if (r.kind !== 'receive') return;
    if (n++ === 0) reply(out, { kind: 'error', code: 'REQUEST_REFUSED', message: 'no', stderr: [] });
    else {
      reply(out, { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' });
      reply(out, { kind: 'receive-failed', dataset: 'backup/qzb/a', snapshot: 's', exitCode: 1, signal: null, stderr: ['cannot receive new filesystem stream: checksum mismatch or incomplete stream.'], resumeToken: '1-abc-10-789c' });
    }
  });
  await assert.rejects(client.receive(header, Readable.from([])), ReceiverRequestError);
  const failed = await client.receive(header, Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
  assert.ok(failed instanceof ReceiveFailedError);
  assert.equal(failed.reason, 'incomplete-stream');
  assert.equal(failed.resumeToken, '1-abc-10-789c');
  assert.equal(client.failed, null);
});

test('dom0 refuses to send names outside the root before writing anything', async () => {
  const agent = await afterHello(() => {});
  const header = { dataset: 'backup/other', snapshot: 's', type: 'filesystem' as const, stream: 'full' as const, origin: null, raw: false, resume: false };
  assert.equal(await codeOf(agent.client.receive(header, Readable.from([]))), 'RECEIVER_USAGE');
  assert.equal(await codeOf(agent.client.receive({ ...header, dataset: 'backup/qzb/a', stream: 'clone', origin: 'tank/a@b' }, Readable.from([]))), 'RECEIVER_USAGE');
  assert.equal(await codeOf(agent.client.abort(ROOT)), 'RECEIVER_USAGE');
  assert.deepEqual(agent.requests.map((r) => r.kind), ['hello']);
});
