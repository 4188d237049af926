// The agent against a hostile or buggy dom0: message order, refused names, bad frames, and the
// receive data path (argv, placeholders, backpressure-free happy path, early exit, dom0 vanishing).
// ZFS is faked here; real ZFS behaviour is verified in the VM (real-zfs.vm.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeZfs } from './fake-zfs.ts';
import { HELLO, startAgent } from './hostile-dom0.ts';
import type { Request } from '../../../shared/protocol/schemas/requests.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { MAX_INVENTORY_BATCH } from '../../../shared/protocol/limits.ts';

const RECV: Extract<Request, { kind: 'receive' }> = {
  kind: 'receive', dataset: 'backup/qzb/tank/qubes/work', snapshot: 'qzb-1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false, intoPlaceholder: false, unframed: false,
};

async function hello(zfs = new FakeZfs()) {
  const agent = startAgent(zfs);
  agent.request(HELLO);
  const reply = await agent.next();
  assert.equal(reply?.kind, 'hello');
  return { agent, zfs, reply: reply! };
}

const zfsArgs = (zfs: FakeZfs): string[] => zfs.calls.map((c) => c.join(' '));

test('hello reports versions, root state and only the relevant pool features', async () => {
  const { agent, reply } = await hello();
  assert.deepEqual(reply.kind === 'hello' && reply.zfsVersion, ['zfs-2.3.2-1', 'zfs-kmod-2.3.2-1']);
  assert.deepEqual(reply.kind === 'hello' && reply.receiveRoot, { name: 'backup/qzb', exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' });
  assert.deepEqual(reply.kind === 'hello' && reply.pool.features, [{ name: 'extensible_dataset', state: 'active' }, { name: 'large_blocks', state: 'enabled' }]);
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('hello with a missing root reports exists: false', async () => {
  const agent = startAgent(new FakeZfs('backup/other'));
  agent.request(HELLO);
  const reply = await agent.next();
  assert.equal(reply?.kind === 'hello' && reply.receiveRoot.exists, false);
  agent.request({ kind: 'inventory' });
  assert.equal((await agent.next())?.kind === 'error' ? 'RECEIVE_ROOT_MISSING' : 'x', 'RECEIVE_ROOT_MISSING');
  agent.close();
});

test('anything before hello, a second hello, or a wrong version ends the session', async () => {
  for (const first of [{ kind: 'inventory' }, { kind: 'abort', dataset: 'backup/qzb/a' }, RECV] as Request[]) {
    const agent = startAgent(new FakeZfs());
    agent.request(first);
    const reply = await agent.next();
    assert.equal(reply?.kind === 'error' && reply.code, 'PROTOCOL_UNEXPECTED_MESSAGE');
    assert.equal(await agent.session, 'protocol-error');
  }
  const { agent } = await hello();
  agent.request(HELLO);
  assert.equal((await agent.next())?.kind === 'error' ? 'error' : 'x', 'error');
  assert.equal(await agent.session, 'protocol-error');

  const old = startAgent(new FakeZfs());
  old.request({ ...HELLO, protocol: 1 } as Request);
  const reply = await old.next();
  assert.equal(reply?.kind === 'error' && reply.code, 'PROTOCOL_VERSION_MISMATCH');
  assert.equal(await old.session, 'protocol-error');
});

test('bad frames and bad messages end the session with their code', async () => {
  const cases: Array<[Buffer, string]> = [
    [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), 'PROTOCOL_FRAME_TOO_LARGE'],
    [Buffer.from([0, 0, 0, 1, 0x09, 0]), 'PROTOCOL_BAD_FRAME'],
    [encodeFrame(FrameType.CONTROL, Buffer.from([0xd4, 0x72, 0x00])), 'PROTOCOL_BAD_MESSAGE'],
    [encodeFrame(FrameType.CONTROL, Buffer.from([0x81, 0xa4, 0x6b, 0x69, 0x6e, 0x64, 0xa4, 0x6e, 0x6f, 0x70, 0x65])), 'PROTOCOL_BAD_MESSAGE'],
    [encodeFrame(FrameType.DATA, Buffer.from('x')), 'PROTOCOL_UNEXPECTED_MESSAGE'],
    [encodeFrame(FrameType.END), 'PROTOCOL_UNEXPECTED_MESSAGE'],
  ];
  for (const [bytes, code] of cases) {
    const { agent } = await hello();
    agent.write(bytes);
    const reply = await agent.next();
    assert.equal(reply?.kind === 'error' && reply.code, code);
    assert.equal(await agent.session, 'protocol-error');
  }
  const { agent } = await hello();
  agent.write(Buffer.from([0, 0, 0, 9, 1, 0x81]));
  agent.close();
  const reply = await agent.next();
  assert.equal(reply?.kind === 'error' && reply.code, 'PROTOCOL_TRUNCATED');
});

test('names outside the receive root are refused without running zfs on them; the session goes on', async () => {
  const { agent, zfs } = await hello();
  const before = zfs.calls.length;
  const refused: Request[] = [
    { ...RECV, dataset: 'backup/qzb' },
    { ...RECV, dataset: 'backup/qzbx/a' },
    { ...RECV, dataset: 'backup/other' },
    { ...RECV, dataset: 'tank/qubes/work' },
    { ...RECV, stream: 'clone', origin: 'tank/qubes/base@x' },
    { ...RECV, stream: 'clone', origin: 'backup/qzbz/base@x' },
    { kind: 'abort', dataset: 'backup/qzb' },
    { kind: 'abort', dataset: 'backup' },
    { kind: 'abort', dataset: 'other/qzb/a' },
  ];
  for (const r of refused) {
    agent.request(r);
    const reply = await agent.next();
    assert.equal(reply?.kind === 'error' && reply.code, 'REQUEST_REFUSED', JSON.stringify(r));
  }
  assert.equal(zfs.calls.length, before, `no zfs command may run for a refused request:\n${zfsArgs(zfs).slice(before).join('\n')}`);
  agent.request({ kind: 'inventory' });
  assert.equal((await agent.next())?.kind, 'inventory-batch');
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('a full receive looks up a parent it has not seen: once in a new session, not after an inventory listed it', async () => {
  const { agent, zfs } = await hello();
  zfs.datasets.set('backup/qzb/tank', { type: 'filesystem', guid: '21', createtxg: '3' });
  zfs.datasets.set('backup/qzb/tank/qubes', { type: 'filesystem', guid: '22', createtxg: '4' });
  const before = zfs.calls.length;
  agent.request({ ...RECV, dataset: 'backup/qzb/tank/qubes/a' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  assert.deepEqual(zfsArgs(zfs).slice(before, before + 2), ['zfs get -H -p -o value type backup/qzb/tank/qubes', 'zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off backup/qzb/tank/qubes/a@qzb-1']);
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');
  zfs.datasets.set('backup/qzb/other', { type: 'filesystem', guid: '23', createtxg: '5' });
  agent.request({ kind: 'inventory' });
  for (let r = await agent.next(); r?.kind !== 'inventory-end'; r = await agent.next()) assert.equal(r?.kind, 'inventory-batch');
  const before2 = zfs.calls.length;
  agent.request({ ...RECV, dataset: 'backup/qzb/other/b' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  assert.deepEqual(zfsArgs(zfs).slice(before2, before2 + 1), ['zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off backup/qzb/other/b@qzb-1']);
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('a receive creates placeholders one level at a time, runs receive -s -u, never -F, and returns the GUID', async () => {
  const { agent, zfs } = await hello();
  agent.request(RECV);
  assert.deepEqual(await agent.next(), { kind: 'receive-ready', dataset: RECV.dataset, snapshot: 'qzb-1' });
  agent.data(Buffer.from('hello '));
  agent.data(Buffer.from('world'));
  agent.end();
  const reply = await agent.next();
  assert.equal(reply?.kind, 'received');
  assert.equal(reply?.kind === 'received' && reply.guid, zfs.snapshots.get(`${RECV.dataset}@qzb-1`)!.guid);
  assert.equal(zfs.receivedBytes().toString(), 'hello world');
  const calls = zfsArgs(zfs);
  assert.ok(calls.includes('zfs create -o canmount=off -o org.qubes-zfs-backup:placeholder=on backup/qzb/tank'));
  assert.ok(calls.includes('zfs create -o canmount=off -o org.qubes-zfs-backup:placeholder=on backup/qzb/tank/qubes'));
  // Each missing level looked up once, the nearest first (the walk up stops at the root).
  assert.deepEqual(calls.filter((c) => c.startsWith('zfs get -H -p -o value type ')), [
    'zfs get -H -p -o value type backup/qzb/tank/qubes',
    'zfs get -H -p -o value type backup/qzb/tank',
  ]);
  assert.ok(calls.indexOf('zfs create -o canmount=off -o org.qubes-zfs-backup:placeholder=on backup/qzb/tank') < calls.indexOf('zfs create -o canmount=off -o org.qubes-zfs-backup:placeholder=on backup/qzb/tank/qubes'));
  assert.ok(calls.includes('zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off backup/qzb/tank/qubes/work@qzb-1'));
  assert.ok(!calls.some((c) => / -F| -d | -e /.test(c)));

  // An incremental: the dataset (and so its parents) exists; no look-up before the receive.
  const before = zfs.calls.length;
  agent.request({ ...RECV, dataset: 'backup/qzb/tank/qubes/work/private', type: 'volume', stream: 'incremental' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  assert.deepEqual(zfsArgs(zfs).slice(before), ['zfs receive -s -u -o volmode=none -o org.qubes-zfs-backup:placeholder=off backup/qzb/tank/qubes/work/private@qzb-1'], 'no canmount for volumes, no parent look-ups');
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');

  // A full stream whose parent this session made: no look-up.
  const before2 = zfs.calls.length;
  agent.request({ ...RECV, dataset: 'backup/qzb/tank/qubes/work2' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  assert.deepEqual(zfsArgs(zfs).slice(before2, before2 + 1), ['zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off backup/qzb/tank/qubes/work2@qzb-1']);
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');
  // Nor below a dataset it received into.
  const before3 = zfs.calls.length;
  agent.request({ ...RECV, dataset: 'backup/qzb/tank/qubes/work2/sub' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  assert.deepEqual(zfsArgs(zfs).slice(before3, before3 + 1), ['zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off backup/qzb/tank/qubes/work2/sub@qzb-1']);
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');

  agent.request({ ...RECV, dataset: 'backup/qzb/tank/qubes/clone', stream: 'clone', origin: 'backup/qzb/tank/qubes/work@qzb-1' });
  assert.equal((await agent.next())?.kind, 'receive-ready');
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');
  assert.ok(zfsArgs(zfs).includes('zfs receive -s -u -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off -o origin=backup/qzb/tank/qubes/work@qzb-1 backup/qzb/tank/qubes/clone@qzb-1'));
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('intoPlaceholder: the agent re-checks the live dataset, then (and only then) receives with -F', async () => {
  const { agent, zfs } = await hello();
  const dataset = 'backup/qzb/tank/qubes';
  zfs.datasets.set('backup/qzb/tank', { type: 'filesystem', guid: '21', createtxg: '3', placeholder: true });
  zfs.datasets.set(dataset, { type: 'filesystem', guid: '22', createtxg: '4', placeholder: true });
  zfs.datasets.set(`${dataset}/work`, { type: 'filesystem', guid: '23', createtxg: '5' });
  zfs.snapshots.set(`${dataset}/work@qzb-1`, { guid: '24', createtxg: '6' });
  const into = { ...RECV, dataset, intoPlaceholder: true };
  agent.request(into);
  assert.equal((await agent.next())?.kind, 'receive-ready');
  agent.end();
  assert.equal((await agent.next())?.kind, 'received');
  const calls = zfsArgs(zfs);
  const recv = calls.findIndex((c) => c.startsWith('zfs receive -s'));
  assert.equal(calls[recv], `zfs receive -s -u -F -o volmode=none -o canmount=noauto -o org.qubes-zfs-backup:placeholder=off ${dataset}@qzb-1`);
  for (const check of [
    `zfs get -H -p -o property,value,source type,origin,encryption,inconsistent,receive_resume_token,org.qubes-zfs-backup:placeholder ${dataset}`,
    `zfs list -H -p -d 1 -t snapshot -o name ${dataset}`,
    'zpool sync backup',
    `zfs userspace -H -p -o objused ${dataset}`,
  ]) assert.ok(calls.indexOf(check) >= 0 && calls.indexOf(check) < recv, `${check} runs before the receive`);
  assert.ok(!calls.some((c) => c.startsWith('zfs create')), 'no placeholders created for an existing dataset');

  // Now it has a snapshot: no longer a placeholder, refused without running zfs receive.
  const before = zfs.calls.length;
  agent.request({ ...into, snapshot: 'qzb-2' });
  const refused = await agent.next();
  assert.equal(refused?.kind === 'error' && refused.code, 'REQUEST_REFUSED');
  assert.match(refused?.kind === 'error' ? refused.message : '', /not receiving into backup\/qzb\/tank\/qubes as a placeholder/);
  assert.ok(!zfs.calls.slice(before).some((c) => c[1] === 'receive'));

  // An inherited marker, data written into it, a volume stream: refused; the session goes on.
  zfs.datasets.set('backup/qzb/tank/mine', { type: 'filesystem', guid: '31', createtxg: '7', placeholder: true, markerSource: 'inherited from backup/qzb/tank' });
  zfs.datasets.set('backup/qzb/tank/used', { type: 'filesystem', guid: '32', createtxg: '8', placeholder: true, objused: ['2'] });
  for (const [request, why] of [
    [{ ...into, dataset: 'backup/qzb/tank/mine' }, /source inherited from backup\/qzb\/tank/],
    [{ ...into, dataset: 'backup/qzb/tank/used' }, /data was written/],
    [{ ...into, dataset: 'backup/qzb/tank/absent' }, /does not exist/],
    [{ ...into, dataset: 'backup/qzb/tank/used', type: 'volume' as const }, /volume stream cannot be received/],
  ] as const) {
    agent.request(request);
    const reply = await agent.next();
    assert.ok(reply?.kind === 'error' && reply.code === 'REQUEST_REFUSED' && why.test(reply.message), JSON.stringify(reply));
  }
  assert.ok(!zfs.calls.slice(before).some((c) => c[1] === 'receive' || c[1] === 'create'));
  // Without intoPlaceholder, never -F.
  assert.ok(zfsArgs(zfs).filter((c) => c.includes(' -F ')).length === 1);
  agent.close();
  assert.equal(await agent.session, 'closed');
});

test('when zfs fails early the result comes at once, later data is discarded, and END returns to idle', async () => {
  const { agent, zfs } = await hello();
  zfs.receiveBehaviour = { exitCode: 1, exitAfterBytes: 3, stderr: "cannot receive new filesystem stream: destination 'backup/qzb/tank/qubes/work' exists\nmust specify -F to overwrite it\n" };
  agent.request(RECV);
  assert.equal((await agent.next())?.kind, 'receive-ready');
  agent.data(Buffer.from('abcdef'));
  const reply = await agent.next();
  assert.equal(reply?.kind, 'receive-failed');
  assert.deepEqual(reply?.kind === 'receive-failed' && reply.stderr, ["cannot receive new filesystem stream: destination 'backup/qzb/tank/qubes/work' exists", 'must specify -F to overwrite it']);
  for (let i = 0; i < 10; i++) agent.data(Buffer.alloc(1000));
  agent.abortStream();
  zfs.receiveBehaviour = {};
  agent.request({ kind: 'inventory' });
  assert.equal((await agent.next())?.kind, 'inventory-batch');
  agent.close();
});

test('a failed receive reports the resume token left behind', async () => {
  const { agent, zfs } = await hello();
  zfs.receiveBehaviour = { exitCode: 1, token: '1-1024a55b3b-e8-789c636064000310a500c4ec50360710e72765a52697303048e4', stderr: 'cannot receive new filesystem stream: checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\n' };
  agent.request(RECV);
  await agent.next();
  agent.data(Buffer.from('partial'));
  agent.abortStream();
  const reply = await agent.next();
  assert.equal(reply?.kind === 'receive-failed' && reply.resumeToken, zfs.receiveBehaviour.token);
  agent.request({ kind: 'abort', dataset: RECV.dataset });
  assert.deepEqual(await agent.next(), { kind: 'aborted', dataset: RECV.dataset, hadState: true });
  agent.request({ kind: 'abort', dataset: RECV.dataset });
  assert.deepEqual(await agent.next(), { kind: 'aborted', dataset: RECV.dataset, hadState: false });
  agent.close();
});

test('dom0 vanishing mid-stream closes zfs stdin (resumable state) and ends the session cleanly', async () => {
  const { agent, zfs } = await hello();
  zfs.receiveBehaviour = { exitCode: 1, token: '1-abc-10-789c', stderr: 'checksum mismatch or incomplete stream.\n' };
  agent.request(RECV);
  await agent.next();
  agent.data(Buffer.from('some bytes'));
  agent.close();
  assert.equal(await agent.session, 'disconnected');
  assert.equal(zfs.receivedBytes().toString(), 'some bytes');
  assert.ok(zfs.datasets.get(RECV.dataset)?.token, 'the fake saw EOF and kept partial state');
  assert.ok(agent.log.some((l) => l.includes('dom0 went away after 10 bytes')));
});

test('a control message or a bad frame inside a data stream is fatal, after zfs stdin is closed', async () => {
  for (const intruder of [encodeFrame(FrameType.CONTROL, Buffer.from([0x81, 0xa4, 0x6b, 0x69, 0x6e, 0x64, 0xa9, ...Buffer.from('inventory')])), Buffer.from([0, 0, 0, 0, 0x42])]) {
    const { agent, zfs } = await hello();
    zfs.receiveBehaviour = { exitCode: 1 };
    agent.request(RECV);
    await agent.next();
    agent.data(Buffer.from('x'));
    agent.write(intruder);
    const reply = await agent.next();
    assert.ok(reply?.kind === 'error' && reply.code.startsWith('PROTOCOL_'), JSON.stringify(reply));
    assert.equal(await agent.session, 'protocol-error');
  }
});

test('a big inventory is split into bounded batches with matching totals', async () => {
  const zfs = new FakeZfs();
  for (let i = 0; i < 3; i++) zfs.datasets.set(`backup/qzb/d${i}`, { type: 'volume', guid: String(1000 + i), createtxg: String(10 + i) });
  for (let i = 0; i < 5000; i++) zfs.snapshots.set(`backup/qzb/d${i % 3}@s${i}`, { guid: String(5000 + i), createtxg: String(20 + i) });
  const { agent } = await hello(zfs);
  agent.request({ kind: 'inventory' });
  let datasets = 0;
  let snapshots = 0;
  let batches = 0;
  for (;;) {
    const reply = await agent.next();
    if (reply?.kind === 'inventory-end') {
      assert.deepEqual(reply, { kind: 'inventory-end', datasets: 4, snapshots: 5000 });
      break;
    }
    assert.equal(reply?.kind, 'inventory-batch');
    if (reply?.kind !== 'inventory-batch') return;
    assert.ok(reply.snapshots.length <= MAX_INVENTORY_BATCH);
    datasets += reply.datasets.length;
    snapshots += reply.snapshots.length;
    batches++;
  }
  assert.equal(datasets, 4);
  assert.equal(snapshots, 5000);
  assert.ok(batches >= 3);
  agent.close();
});

test('inventory: written passes through; the marker counts as placeholder only without snapshots and when consistent', async () => {
  const zfs = new FakeZfs();
  zfs.datasets.set('backup/qzb/p', { type: 'filesystem', guid: '41', createtxg: '3', placeholder: true, written: '24576' });
  // Marker inherited from the placeholder (user properties inherit), but it has a snapshot.
  zfs.datasets.set('backup/qzb/p/child', { type: 'filesystem', guid: '42', createtxg: '4', placeholder: true, written: '279552' });
  zfs.snapshots.set('backup/qzb/p/child@s', { guid: '43', createtxg: '5' });
  // A placeholder with partial state of a full receive into it: still a placeholder, with the token.
  zfs.datasets.set('backup/qzb/q', { type: 'filesystem', guid: '44', createtxg: '6', placeholder: true, token: '1-abc-10-789c' });
  const { agent } = await hello(zfs);
  agent.request({ kind: 'inventory' });
  const batch = await agent.next();
  assert.equal(batch?.kind, 'inventory-batch');
  const got = new Map((batch?.kind === 'inventory-batch' ? batch.datasets : []).map((d) => [d.name, d]));
  assert.deepEqual([got.get('backup/qzb/p')?.placeholder, got.get('backup/qzb/p')?.written], [true, '24576']);
  assert.deepEqual([got.get('backup/qzb/p/child')?.placeholder, got.get('backup/qzb/p/child')?.written], [false, '279552']);
  assert.deepEqual([got.get('backup/qzb/q')?.placeholder, got.get('backup/qzb/q')?.inconsistent, got.get('backup/qzb/q')?.resumeToken], [true, false, '1-abc-10-789c']);
  assert.equal(got.get('backup/qzb')?.placeholder, false);
  agent.close();
});

test('an agent on a Node stream (not its own stdin) offers no unframed receives, and refuses one as a protocol error', async () => {
  const { agent, zfs, reply } = await hello();
  assert.equal(reply.kind === 'hello' && reply.unframed, false);
  agent.request({ ...RECV, unframed: true });
  const refused = await agent.next();
  assert.equal(refused?.kind === 'error' && refused.code, 'PROTOCOL_UNEXPECTED_MESSAGE');
  assert.equal(await agent.session, 'protocol-error');
  assert.ok(!zfsArgs(zfs).some((a) => a.startsWith('receive')), 'no zfs receive was started');
});

test('the inventory right after hello uses the listings hello started; after another request it lists again', async () => {
  const listings = (zfs: FakeZfs): number => zfsArgs(zfs).filter((c) => c.startsWith('zfs list -H -p -r -t filesystem,volume')).length;
  const inventory = async (agent: ReturnType<typeof startAgent>): Promise<number | undefined> => {
    agent.request({ kind: 'inventory' });
    for (;;) {
      const reply = await agent.next();
      if (reply?.kind === 'inventory-end') return reply.datasets;
      if (reply?.kind !== 'inventory-batch') return undefined;
    }
  };
  const first = await hello();
  assert.equal(listings(first.zfs), 1, 'hello starts the listings');
  assert.equal(await inventory(first.agent), 1);
  assert.equal(listings(first.zfs), 1, 'the inventory right after hello ran no listing of its own');
  assert.equal(await inventory(first.agent), 1);
  assert.equal(listings(first.zfs), 2, 'a later inventory lists afresh');
  first.agent.close();

  const second = await hello();
  second.agent.request({ kind: 'abort', dataset: 'backup/qzb/a' });
  await second.agent.next();
  // A dataset that appears after hello (the abort could have changed what is there) is listed.
  second.zfs.datasets.set('backup/qzb/new', { type: 'volume', guid: '77', createtxg: '99' });
  assert.equal(await inventory(second.agent), 2);
  assert.equal(listings(second.zfs), 2, 'the prefetch was dropped by the request in between');
  second.agent.close();
});
