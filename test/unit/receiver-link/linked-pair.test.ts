// Client and agent together over in-memory streams (fake ZFS): the data path end to end,
// progress, early failure with an endless source, backpressure with a stalled zfs, abort, close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createLinkedPair } from '../../../dom0/receiver-link/linked-pair.ts';
import { ReceiveFailedError } from '../../../dom0/receiver-link/errors.ts';
import type { ReceiveHeader } from '../../../dom0/receiver-link/types.ts';
import { FakeZfs } from '../receiver/fake-zfs.ts';

const ROOT = 'backup/qzb';
const HEADER: ReceiveHeader = { dataset: 'backup/qzb/tank/qubes/work/private', snapshot: 'qzb-1', type: 'volume', stream: 'full', origin: null, raw: false, resume: false };

test('hello, inventory, a 5 MiB receive with progress, inventory again, close', async () => {
  const zfs = new FakeZfs(ROOT);
  const { client, agent } = createLinkedPair(zfs);
  const hello = await client.hello(ROOT);
  assert.equal(hello.receiveRoot.exists, true);
  assert.equal((await client.inventory()).datasets.size, 1);
  const data = randomBytes(5 * 1024 * 1024 + 17);
  const chunks = Array.from({ length: Math.ceil(data.length / 100_000) }, (_, i) => data.subarray(i * 100_000, (i + 1) * 100_000));
  const progress: bigint[] = [];
  const result = await client.receive(HEADER, Readable.from(chunks), { onProgress: (b) => progress.push(b) });
  assert.equal(result.bytes, BigInt(data.length));
  assert.equal(progress.at(-1), BigInt(data.length));
  assert.ok(progress.every((b, i) => i === 0 || b > progress[i - 1]!));
  assert.ok(zfs.receivedBytes().equals(data), 'the agent fed zfs exactly the stream');
  assert.equal(result.guid, BigInt(zfs.snapshots.get(`${HEADER.dataset}@qzb-1`)!.guid));
  const inv = await client.inventory();
  assert.equal(inv.datasets.get(HEADER.dataset)!.snapshots[0]!.guid, result.guid);
  assert.equal(inv.datasets.get('backup/qzb/tank')!.placeholder, true);
  await client.close();
  assert.equal(await agent, 'closed');
});

test('an early zfs failure stops forwarding an endless source and destroys it', async () => {
  const zfs = new FakeZfs(ROOT);
  zfs.receiveBehaviour = { exitCode: 1, exitAfterBytes: 200_000, stderr: 'cannot receive new filesystem stream: out of space\n' };
  const { client, agent } = createLinkedPair(zfs);
  await client.hello(ROOT);
  let produced = 0;
  const endless = new Readable({
    read() {
      produced += 65536;
      this.push(Buffer.alloc(65536));
    },
  });
  const failure = await client.receive(HEADER, endless).catch((e: unknown) => e);
  assert.ok(failure instanceof ReceiveFailedError, String(failure));
  assert.equal(failure.reason, 'out-of-space');
  assert.ok(endless.destroyed, 'the source was destroyed (pipe read end closed)');
  assert.ok(produced < 20 * 1024 * 1024, `stopped early (${produced} bytes produced)`);
  assert.equal((await client.abort(HEADER.dataset)).hadState, false);
  await client.close();
  assert.equal(await agent, 'closed');
});

test('backpressure: a stalled zfs receive stops dom0 from reading its source', async () => {
  const zfs = new FakeZfs(ROOT);
  zfs.receiveBehaviour = { stall: true, exitCode: 1 };
  const { client, agent } = createLinkedPair(zfs, { graceMs: 100 });
  await client.hello(ROOT);
  let produced = 0;
  const source = new Readable({
    highWaterMark: 65536,
    read() {
      produced += 65536;
      this.push(Buffer.alloc(65536));
    },
  });
  const cancel = new AbortController();
  const pending = client.receive(HEADER, source, { signal: cancel.signal }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 300));
  const first = produced;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(produced, first, 'no more reads while zfs does not drain');
  assert.ok(produced < 2 * 1024 * 1024, `bounded buffering: ${produced} bytes`);
  cancel.abort();
  const outcome = await pending;
  assert.equal((outcome as { code?: string }).code, 'RECEIVER_CANCELLED');
  assert.ok(source.destroyed);
  await client.close();
  assert.equal(await agent, 'disconnected');
});

test('a failing source sends ABORT; the agent reports the truncated receive', async () => {
  const zfs = new FakeZfs(ROOT);
  zfs.receiveBehaviour = { exitCode: 1, token: '1-abc-10-789c', stderr: 'cannot receive new filesystem stream: checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\n' };
  const { client, agent } = createLinkedPair(zfs);
  await client.hello(ROOT);
  const source = new Readable({ read() {} });
  source.push(Buffer.from('partial stream'));
  setTimeout(() => source.destroy(new Error('zfs send exited 1')), 20);
  const outcome = await client.receive(HEADER, source).catch((e: unknown) => e);
  assert.equal((outcome as { code?: string }).code, 'SEND_STREAM_FAILED');
  assert.equal(zfs.receivedBytes().toString(), 'partial stream');
  assert.equal((await client.inventory()).datasets.get(HEADER.dataset)!.resumeToken, '1-abc-10-789c');
  assert.deepEqual(await client.abort(HEADER.dataset), { hadState: true });
  await client.close();
  assert.equal(await agent, 'closed');
});

test('one request at a time; hello first', async () => {
  const { client } = createLinkedPair(new FakeZfs(ROOT));
  await assert.rejects(client.inventory(), { code: 'RECEIVER_USAGE' });
  const a = client.hello(ROOT);
  await assert.rejects(client.hello(ROOT), { code: 'RECEIVER_BUSY' });
  await a;
  await client.close();
  await assert.rejects(client.inventory(), { code: 'RECEIVER_CLOSED' });
});

test('a small zfs send that exits before the agent is ready is not lost (Node drops unread child stdout)', async () => {
  const zfs = new FakeZfs(ROOT);
  zfs.delayMs = 150; // placeholder checks make the agent slow to answer receive-ready
  const { client, agent } = createLinkedPair(zfs);
  await client.hello(ROOT);
  const child = spawn('sh', ['-c', 'head -c 40000 /dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const pending = client.receive(HEADER, child.stdout);
  await exited;
  const result = await pending;
  assert.equal(result.bytes, 40000n);
  assert.equal(zfs.receivedBytes().length, 40000);
  // The factory form starts the source only once the agent is ready.
  let opened = 0;
  const second = await client.receive({ ...HEADER, dataset: `${HEADER.dataset}2` }, () => {
    opened++;
    return Readable.from([Buffer.from('abc')]);
  });
  assert.equal(opened, 1);
  assert.equal(second.bytes, 3n);
  await client.close();
  assert.equal(await agent, 'closed');
});
