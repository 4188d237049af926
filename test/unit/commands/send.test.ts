// send and verify orchestration over a fake system and a scripted receiver (no processes): what is
// recorded, when it stops, what it reports. ZFS behaviour itself is tested on real ZFS in the VM
// scenarios (test/scenarios/cmd-send-*.yaml, send-*.yaml).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importJob } from '../../../dom0/commands/import.ts';
import { snapshot } from '../../../dom0/commands/snapshot.ts';
import { send } from '../../../dom0/commands/send.ts';
import { verify } from '../../../dom0/commands/verify.ts';
import type { ReceiverConnection, SendAdapters } from '../../../dom0/commands/context.ts';
import { MetadataStore } from '../../../dom0/metadata/store.ts';
import { ReceiveFailedError } from '../../../dom0/receiver-link/errors.ts';
import type { ReceiveHeader, ReceiverDataset } from '../../../dom0/receiver-link/types.ts';
import type { SendEvent } from '../../../dom0/send/events.ts';
import type { DecodedToken } from '../../../dom0/send/types.ts';
import { QzbError } from '../../../shared/errors.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';
import { fakeContext, type FakeSystem } from './helpers.ts';

const ROOT = 'backup/x';

/** A scripted receiver: keeps what it "received" (by GUID), can fail or hang a chosen step. */
interface FakeReceiver {
  datasets: Map<string, ReceiverDataset>;
  received: ReceiveHeader[];
  failAt?: { snapshot: string; kind: 'pool-full' | 'wrong-guid' | 'hang' };
  aborted: string[];
  settings: Map<string, { bytes: Buffer; sha256: string }>;
  /** What dom0's `zfs send -nvP -t` would decode a token into (a hostile agent's forgery). */
  decoded?: DecodedToken;
}

function fakeAdapters(sys: FakeSystem, rx: FakeReceiver): SendAdapters & { bookmarks: string[]; sends: string[]; connections: string[] } {
  const guidOf = (snapshot: string): bigint => sys.zfs.datasets.flatMap((d) => d.snapshots).find((s) => s.name === snapshot)!.guid;
  const bookmarks: string[] = [];
  const sends: string[] = [];
  const connections: string[] = [];
  const link: ReceiverConnection = {
    stderrTail: () => [],
    client: {
      hello: async (root: string) => ({ protocol: 2, agent: 'fake', zfsVersion: ['zfs-2.3.2'], receiveRoot: { name: root, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' }, pool: { name: 'backup', exists: true, features: [] }, features: new Map([['extensible_dataset', 'active'], ['large_blocks', 'enabled'], ['lz4_compress', 'active'], ['embedded_data', 'active']]), unframed: false }),
      inventory: async () => ({ root: ROOT, datasets: new Map([...rx.datasets].map(([k, v]) => [k, structuredClone(v)])) }),
      abort: async (dataset: string) => {
        rx.aborted.push(dataset);
        return { hadState: true };
      },
      close: async () => void connections.push('close'),
      storeSettings: async (snapshot: string, bytes: Uint8Array, sha256: string) => {
        const had = rx.settings.has(snapshot);
        rx.settings.set(snapshot, { bytes: Buffer.from(bytes), sha256 });
        return { alreadyStored: had };
      },
      readSettings: async (snapshot: string) => {
        const got = rx.settings.get(snapshot);
        return got ? { bytes: got.bytes, sha256: got.sha256, storedSha256: got.sha256 } : null;
      },
      receive: async (header: ReceiveHeader, source: Readable | (() => Readable), options: { onProgress?: (b: bigint) => void; signal?: AbortSignal } = {}) => {
        rx.received.push(header);
        const stream = typeof source === 'function' ? source() : source;
        let bytes = 0n;
        const snapshot = `${header.dataset.slice(ROOT.length + 1)}@${header.snapshot}`;
        if (rx.failAt?.snapshot === snapshot && rx.failAt.kind === 'hang') {
          const cancelled = new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve()));
          options.onProgress?.(4096n);
          await cancelled;
          stream.destroy();
          throw new QzbError('RECEIVER_CANCELLED', `the receive of ${header.dataset}@${header.snapshot} was cancelled`);
        }
        for await (const chunk of stream) {
          bytes += BigInt((chunk as Buffer).length);
          options.onProgress?.(bytes);
        }
        if (rx.failAt?.snapshot === snapshot && rx.failAt.kind === 'pool-full') {
          throw new ReceiveFailedError(header.dataset, header.snapshot, 1, ['cannot receive new filesystem stream: out of space'], '1-aa-bb-cc', bytes);
        }
        const guid = rx.failAt?.snapshot === snapshot && rx.failAt.kind === 'wrong-guid' ? 1n : guidOf(snapshot);
        const d = rx.datasets.get(header.dataset) ?? { name: header.dataset, type: header.type, guid: 5n, createtxg: 1n, origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n, snapshots: [] as ReceiverDataset['snapshots'], bookmarks: [] };
        d.snapshots.push({ name: `${header.dataset}@${header.snapshot}`, label: header.snapshot, guid, createtxg: BigInt(d.snapshots.length + 2) });
        rx.datasets.set(header.dataset, d);
        return { dataset: header.dataset, snapshot: header.snapshot, guid, bytes };
      },
    },
  };
  return {
    bookmarks,
    sends,
    connections,
    connectReceiver: (qube: string) => (connections.push(`connect ${qube}`), link),
    prepareConnection: () => (connections.push('prepare'), () => void connections.push('release')),
    decodeToken: async () => {
      if (rx.decoded) return rx.decoded;
      throw new QzbError('RESUME_TOKEN_CORRUPT', 'corrupt');
    },
    estimate: async () => 3000n,
    startSend: (source) => {
      sends.push('token' in source ? `-t ${source.token}` : `${source.from ? `-i ${source.from} ` : ''}${source.snapshot}`);
      const stdout = Readable.from([Buffer.alloc(1000), Buffer.alloc(2000)]);
      return { stdout, stop: async () => { stdout.destroy(); }, done: Promise.resolve({ exitCode: 0, signal: null, stderrTail: [] }) };
    },
    createBookmark: async (_snapshot, bookmark) => {
      bookmarks.push(bookmark);
    },
  };
}

async function setup(failAt?: FakeReceiver['failAt']) {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf(), created: [] };
  const ctx = fakeContext(sys);
  const rx: FakeReceiver = { datasets: new Map(), received: [], aborted: [], settings: new Map(), ...(failAt ? { failAt } : {}) };
  const adapters = fakeAdapters(sys, rx);
  const full = Object.assign(ctx, { send: adapters });
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n');
  await importJob({ file: 'backup1.yaml', replace: false }, full);
  await snapshot({ name: 'j1', dryRun: false }, full);
  return { sys, ctx: full, rx, adapters, store: new MetadataStore(ctx.metadataDir) };
}

test('send: every target sent in order, recorded, bookmarked, confirmed by GUID; a re-run has nothing to do', async () => {
  const { ctx, rx, adapters, store } = await setup();
  const events: SendEvent[] = [];
  const r = await send({ name: 'j1', dryRun: false, onEvent: (e) => events.push(e) }, ctx);
  assert.equal(r.exitCode, 0);
  assert.equal(rx.received.length, 8);
  assert.equal(r.verified, 8);
  assert.equal(r.bytes, 8n * 3000n);
  assert.deepEqual(adapters.bookmarks.slice(0, 2), ['tank/qubes/work#l', 'tank/qubes/work/private#l']);
  assert.equal(events[0]!.event, 'preflight');
  assert.equal(events.at(-1)!.event, 'summary');
  const state = (await store.read('j1')).state;
  assert.ok(Object.values(state.targets).every((t) => t.status === 'verified' && t.bytes === '3000'));
  assert.equal(state.lineages?.['tank/dom0']?.raw, false);
  assert.equal(state.inProgress, null);
  const again = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(again.exitCode, 0);
  assert.ok(again.steps.every((s) => s.action === 'skipped'));
  assert.equal(rx.received.length, 8);
});

test('send and verify prepare the connection before reading the job, and release what they did not use', async () => {
  const { ctx, adapters } = await setup();
  await send({ name: 'j1', dryRun: false }, ctx);
  assert.deepEqual(adapters.connections, ['prepare', 'connect backups', 'release', 'close']);
  adapters.connections.length = 0;
  await verify({ name: 'j1' }, ctx);
  assert.deepEqual(adapters.connections, ['prepare', 'connect backups', 'release', 'close']);
});

test('a locked job: send contacts no receiver and changes nothing; a missing job leaves no lock', async () => {
  const { ctx, adapters, store, rx } = await setup();
  const held = await store.lock('j1', 'another send');
  try {
    await assert.rejects(send({ name: 'j1', dryRun: false }, ctx), (e: unknown) => e instanceof QzbError && e.code === 'JOB_LOCKED');
  } finally {
    await held.release();
  }
  assert.deepEqual(adapters.connections, ['prepare', 'release']);
  assert.equal(rx.received.length, 0);
  assert.ok(Object.values((await store.read('j1')).state.targets).every((t) => t.status === 'snapshotted'));
  adapters.connections.length = 0;
  await assert.rejects(send({ name: 'nope', dryRun: false }, ctx), (e: unknown) => e instanceof QzbError && e.code === 'JOB_NOT_FOUND');
  assert.deepEqual(adapters.connections, ['prepare', 'release']);
  await (await store.lock('nope', 'test')).release();
});

test('each step is on disk as sent before the next step\'s zfs send starts, the last one before send returns', async () => {
  const { ctx, adapters, store } = await setup();
  const seen: { starting: string; sentOnDisk: string[]; inProgress: string | null }[] = [];
  const startSend = adapters.startSend;
  adapters.startSend = (source) => {
    // The file as it is at the moment the process would start.
    const st = JSON.parse(readFileSync(path.join(ctx.metadataDir, 'j1', 'state.json'), 'utf8')) as { targets: Record<string, { status: string; snapshot: string }>; inProgress: { snapshot: string } | null };
    seen.push({ starting: 'snapshot' in source ? source.snapshot : '?', sentOnDisk: Object.values(st.targets).filter((t) => t.status === 'sent').map((t) => t.snapshot), inProgress: st.inProgress?.snapshot ?? null });
    return startSend(source);
  };
  const r = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 0);
  assert.equal(seen.length, 8);
  for (const [i, s] of seen.entries()) {
    assert.equal(s.inProgress, s.starting, `step ${i + 1} is in progress on disk when its stream starts`);
    assert.equal(s.sentOnDisk.length, i, `the ${i} steps before step ${i + 1} are recorded as sent on disk`);
  }
  const final = (await store.read('j1')).state;
  assert.equal(final.inProgress, null);
  assert.ok(Object.values(final.targets).every((t) => t.status === 'verified'));
});

test('send --dry-run lists the steps and sends nothing', async () => {
  const { ctx, rx } = await setup();
  const events: SendEvent[] = [];
  const r = await send({ name: 'j1', dryRun: true, onEvent: (e) => events.push(e) }, ctx);
  assert.equal(r.exitCode, 0);
  assert.equal(rx.received.length, 0);
  const pre = events[0] as Extract<SendEvent, { event: 'preflight' }>;
  assert.equal(pre.steps.length, 8);
  assert.equal(pre.steps[0]!.estimate, 3000n);
});

test('send interrupted mid-step: exit 130, earlier steps recorded, the step in progress kept for status', async () => {
  const { ctx, store } = await setup({ snapshot: 'aux/qubes/work@l', kind: 'hang' });
  const ac = new AbortController();
  const events: SendEvent[] = [];
  const p = send({ name: 'j1', dryRun: false, signal: ac.signal, onEvent: (e) => {
    events.push(e);
    if (e.event === 'progress' && e.snapshot === 'aux/qubes/work@l') ac.abort();
  } }, ctx);
  const r = await p;
  assert.equal(r.exitCode, 130);
  assert.equal(r.interrupted, true);
  const state = (await store.read('j1')).state;
  assert.equal(state.targets['tank/qubes/work@l']!.status, 'sent');
  assert.equal(state.targets['aux/qubes/work@l']!.status, 'snapshotted');
  assert.equal(state.inProgress?.snapshot, 'aux/qubes/work@l');
  const summary = events.at(-1) as Extract<SendEvent, { event: 'summary' }>;
  assert.equal(summary.interrupted, true);
  assert.deepEqual(summary.steps.map((s) => s.action).slice(0, 4), ['sent', 'sent', 'failed', 'pending']);
});

test('a signal while a step finishes: that step completes and is recorded, the run stops before the next (exit 130, the rest pending, nothing called unconfirmed)', async () => {
  const { ctx, store, rx } = await setup();
  const ac = new AbortController();
  const events: SendEvent[] = [];
  const r = await send({ name: 'j1', dryRun: false, signal: ac.signal, onEvent: (e) => {
    events.push(e);
    // As when the signal lands on the step's last bytes: the receive completes regardless.
    if (e.event === 'step-done' && e.snapshot === 'tank/qubes/work@l') ac.abort();
  } }, ctx);
  assert.equal(r.exitCode, 130);
  assert.equal(r.interrupted, true);
  assert.equal(rx.received.length, 1);
  assert.deepEqual(r.findings.filter((f) => f.code === 'NOT_CONFIRMED'), []);
  assert.deepEqual(r.steps.map((s) => s.action).slice(0, 2), ['sent', 'pending']);
  const state = (await store.read('j1')).state;
  assert.equal(state.targets['tank/qubes/work@l']!.status, 'sent');
  assert.equal(state.inProgress, null);
  const again = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(again.exitCode, 0);
  assert.equal(again.verified, 8);
});

test('a full receiver pool stops the run with the size the step needs; the rest stays pending', async () => {
  const { ctx } = await setup({ snapshot: 'tank/qubes/work/private@l', kind: 'pool-full' });
  const r = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  const f = r.findings.find((x) => x.code === 'RECEIVER_POOL_FULL')!;
  assert.match(f.message, /receiver pool is full/);
  assert.match(f.message, /about 2\.9 KiB/);
  assert.match(f.message, /resume/);
  assert.deepEqual(r.steps.map((s) => s.action).slice(0, 3), ['sent', 'failed', 'pending']);
});

test('a GUID the receiver reports that is not the source GUID is never recorded as sent', async () => {
  const { ctx, store } = await setup({ snapshot: 'tank/qubes/work@l', kind: 'wrong-guid' });
  const r = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  assert.ok(r.findings.some((f) => f.code === 'GUID_MISMATCH'));
  assert.equal((await store.read('j1')).state.targets['tank/qubes/work@l']!.status, 'snapshotted');
});

test('preflight errors: nothing is sent', async () => {
  const { ctx, rx } = await setup();
  // A target already on the receiver that this job did not send, with patching: no.
  rx.datasets.set(`${ROOT}/tank/dom0`, { name: `${ROOT}/tank/dom0`, type: 'filesystem', guid: 1n, createtxg: 1n, origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n, snapshots: [{ name: `${ROOT}/tank/dom0@other`, label: 'other', guid: 77n, createtxg: 2n }], bookmarks: [] });
  const r = await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal(r.exitCode, 1);
  assert.ok(r.findings.some((f) => f.code === 'DESTINATION_EXISTS'));
  assert.equal(rx.received.length, 0);
});

test('verify: ok after send; a missing target is listed and the exit is not ok', async () => {
  const { ctx, rx } = await setup();
  await send({ name: 'j1', dryRun: false }, ctx);
  assert.equal((await verify({ name: 'j1' }, ctx)).ok, true);
  rx.datasets.delete(`${ROOT}/tank/dom0`);
  const r = await verify({ name: 'j1' }, ctx);
  assert.equal(r.ok, false);
  assert.deepEqual(r.targets.filter((t) => t.result !== 'ok').map((t) => `${t.snapshot} ${t.result}`), ['tank/dom0@l missing']);
});

test('the NDJSON example in COMMANDS.md has the keys send really prints, event by event', async () => {
  const { readFileSync } = await import('node:fs');
  const { eventJson } = await import('../../../dom0/output/send.ts');
  const doc = readFileSync('dom0/COMMANDS.md', 'utf8');
  const block = /^## `send[\s\S]*?^```ndjson\n([\s\S]*?)^```$/m.exec(doc)?.[1];
  assert.ok(block, 'no ndjson block in the send section');
  const documented = block.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const { ctx } = await setup();
  const events: SendEvent[] = [];
  await send({ name: 'j1', dryRun: false, onEvent: (e) => events.push(e) }, ctx);
  const real = events.map((e) => JSON.parse(eventJson(e)) as Record<string, unknown>);
  for (const d of documented) {
    const r = real.find((x) => x['event'] === d['event']);
    if (d['event'] === 'progress' && !r) continue; // a fake step is too quick for a progress event
    assert.ok(r, `no ${String(d['event'])} event printed`);
    assert.deepEqual(Object.keys(d).sort(), Object.keys(r).sort(), `keys of ${String(d['event'])}`);
    for (const k of ['steps']) {
      const ds = d[k] as Record<string, unknown>[] | undefined;
      const rs = r[k] as Record<string, unknown>[] | undefined;
      if (ds?.[0] && rs?.[0]) assert.deepEqual(Object.keys(ds[0]).sort(), Object.keys(rs[0]).sort(), `${String(d['event'])}.${k}[]`);
    }
  }
});

test('a hostile agent\'s forged tokens never make dom0 send anything but the planned step', async () => {
  const forgeries: { name: string; token: (guid: (s: string) => bigint) => DecodedToken }[] = [
    { name: 'a dataset outside the plan (void/forgo)', token: () => ({ toname: 'tank/qubes/work/volatile@l', toguid: 12345n, fromguid: null, bytes: 10n, flags: { largeblockok: false, embedok: true, compressok: true, rawok: false } }) },
    { name: 'the right dataset with another toguid', token: (g) => ({ toname: 'tank/dom0@l', toguid: g('tank/dom0@l') + 1n, fromguid: null, bytes: 10n, flags: { largeblockok: false, embedok: true, compressok: true, rawok: false } }) },
    { name: 'the right step with raw flipped', token: (g) => ({ toname: 'tank/dom0@l', toguid: g('tank/dom0@l'), fromguid: null, bytes: 10n, flags: { largeblockok: false, embedok: false, compressok: true, rawok: true } }) },
  ];
  for (const f of forgeries) {
    const { ctx, rx, adapters, sys } = await setup();
    const g = (s: string): bigint => sys.zfs.datasets.flatMap((d) => d.snapshots).find((x) => x.name === s)!.guid;
    const receiving = `${ROOT}/tank/dom0`;
    rx.datasets.set(receiving, { name: receiving, type: 'filesystem', guid: 1n, createtxg: 1n, origin: null, encryption: 'off', inconsistent: true, placeholder: false, resumeToken: '1-aa-bb-cc', written: 0n, snapshots: [], bookmarks: [] });
    rx.decoded = f.token(g);
    const r = await send({ name: 'j1', dryRun: false }, ctx);
    assert.equal(r.exitCode, 0, f.name);
    assert.deepEqual(rx.aborted, [receiving], `${f.name}: the partial state is discarded`);
    assert.ok(adapters.sends.every((s) => !s.startsWith('-t ')), `${f.name}: no zfs send -t`);
    assert.ok(adapters.sends.includes('tank/dom0@l'), `${f.name}: the planned full send of tank/dom0@l`);
    assert.ok(r.findings.some((x) => x.code === 'STALE_RESUME_TOKEN'), f.name);
  }
});
