// send-snapshot (restore --zfs-receive): the agent's handler over a scripted ZFS runner whose
// `zfs send` is a byte source (the real zfs send | zfs receive path runs in the VM scenario
// restore-zfs-receive.yaml), and the dom0 client's checks against a hostile agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLinkedPair } from '../../../dom0/receiver-link/linked-pair.ts';
import type { AgentZfs, ZfsOutput } from '../../../receiver/zfs-runner.ts';
import { estimateOf, sendSnapshotArgs, tokenToname } from '../../../receiver/handlers/send-snapshot.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { codeOf, data, fail, hostile, msg, ok, volumeSnapshotAnswer } from './scripted-agent.ts';

const ROOT = 'backup/qzb';
const SNAP = `${ROOT}/pool/qubes/work/private@b1`;
const GUID = '1234567890123456789';
const TOKEN = '1-abc-de-789c0b';

/** A runner that knows one volume snapshot; its `zfs send` writes `stream` then exits with `exit`. */
function scriptedZfs(stream: Buffer, opts: { exit?: number; encryption?: string; toname?: string } = {}) {
  const calls: string[][] = [];
  let killed = false;
  const state = { get killed(): boolean { return killed; } };
  const zfs: AgentZfs = {
    async zfs(args) {
      calls.push(args);
      const known = volumeSnapshotAnswer(args, SNAP, 8388608, GUID);
      if (known) return known;
      if (args[0] === 'get' && args.includes('encryption')) return ok(`${opts.encryption ?? 'off'}\n`);
      if (args[0] === 'send' && args[1] === '-n') return ok(`resume token contents:\nnvlist version: 0\n\tobject = 0x1\n\ttoguid = 0x112210f47de98115\n\ttoname = ${opts.toname ?? SNAP}\nfull\t${opts.toname ?? SNAP}\t100\nsize\t2500000\n`);
      return fail(`unsupported ${args.join(' ')}`);
    },
    async zpool() {
      return ok('');
    },
    receive() {
      throw new Error('no receive here');
    },
    send(args) {
      calls.push(args);
      const stdout = new PassThrough();
      let resolve: (o: ZfsOutput) => void = () => {};
      const done = new Promise<ZfsOutput>((r) => (resolve = r));
      void (async () => {
        for (let off = 0; off < stream.length && !killed; off += 300_000) {
          if (!stdout.write(stream.subarray(off, off + 300_000))) await new Promise((r) => stdout.once('drain', r));
        }
        stdout.end();
        resolve(killed ? { exitCode: null, signal: 'SIGTERM', stdout: '', stderr: '' } : { exitCode: opts.exit ?? 0, signal: null, stdout: '', stderr: opts.exit ? 'warning: cannot send: I/O error\n' : '' });
      })();
      return { stdout, done, kill: () => { killed = true; } };
    },
  };
  return { zfs, calls, state };
}

test('send-snapshot: the stream arrives in order, then END and the byte count; the link stays usable', async () => {
  const stream = Buffer.alloc(2_500_000);
  for (let i = 0; i < stream.length; i++) stream[i] = (i * 7) & 255;
  const { zfs, calls } = scriptedZfs(stream);
  const pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  const got: Buffer[] = [];
  const progress: bigint[] = [];
  const estimates = new Set<bigint | null>();
  const r = await pair.client.sendSnapshot(SNAP, {
    volsize: 8388608n, guid: BigInt(GUID), resumeToken: null, maxBytes: 10_000_000n,
    write: async (c) => { got.push(Buffer.from(c)); }, onProgress: (b, e) => { progress.push(b); estimates.add(e); },
  });
  assert.ok(Buffer.concat(got).equals(stream));
  assert.equal(r.bytes, BigInt(stream.length));
  assert.equal(r.guid, BigInt(GUID));
  assert.equal(progress[progress.length - 1], BigInt(stream.length));
  assert.deepEqual([...estimates], [2500000n], "the agent's zfs send -nvP estimate comes along for the progress line");
  assert.deepEqual(calls.find((c) => c[0] === 'send' && c[1] !== '-n'), ['send', '-L', '-e', '-c', SNAP]);
  assert.deepEqual(calls.find((c) => c[0] === 'send' && c[1] === '-n'), ['send', '-n', '-v', '-P', '-L', '-e', '-c', SNAP], 'the estimate is a dry run of the same send');
  assert.equal(pair.client.failed, null, 'the link stays usable');
  await pair.client.close();
});

test('send-snapshot: refused outside the root, for an encrypted volume and for a token naming another snapshot; nothing sent', async () => {
  let { zfs, calls } = scriptedZfs(Buffer.alloc(10));
  let pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  const base = { volsize: 8388608n, guid: null, maxBytes: 1000n, write: async () => {} };
  assert.equal(await codeOf(pair.client.sendSnapshot('other/x@s', { ...base, resumeToken: null })), 'RECEIVER_USAGE');
  assert.equal(await codeOf(pair.client.sendSnapshot(`${ROOT}/pool/x@s`, { ...base, resumeToken: null })), 'RECEIVER_REQUEST_REFUSED');
  await pair.client.close();
  ({ zfs, calls } = scriptedZfs(Buffer.alloc(10), { encryption: 'aes-256-gcm' }));
  pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  assert.equal(await codeOf(pair.client.sendSnapshot(SNAP, { ...base, resumeToken: null })), 'RECEIVER_REQUEST_REFUSED');
  await pair.client.close();
  assert.ok(!calls.some((c) => c[0] === 'send' && c[1] !== '-n'));
  ({ zfs, calls } = scriptedZfs(Buffer.alloc(10), { toname: `${ROOT}/pool/qubes/other/private@b1` }));
  pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  assert.equal(await codeOf(pair.client.sendSnapshot(SNAP, { ...base, resumeToken: TOKEN })), 'RECEIVER_REQUEST_REFUSED');
  assert.ok(!calls.some((c) => c[0] === 'send' && c[1] === '-t'), 'the token is never sent when it names another snapshot');
  await pair.client.close();
});

test('send-snapshot: a resume token naming the snapshot resumes with zfs send -t; a failing zfs send is ABORT and an error', async () => {
  let { zfs, calls } = scriptedZfs(Buffer.alloc(1000, 3));
  let pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  const base = { volsize: 8388608n, guid: BigInt(GUID), maxBytes: 10_000n, write: async () => {} };
  const r = await pair.client.sendSnapshot(SNAP, { ...base, resumeToken: TOKEN });
  assert.equal(r.bytes, 1000n);
  assert.deepEqual(calls.find((c) => c[0] === 'send' && c[1] === '-t'), ['send', '-t', TOKEN]);
  await pair.client.close();
  ({ zfs, calls } = scriptedZfs(Buffer.alloc(1000, 3), { exit: 1 }));
  pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  assert.equal(await codeOf(pair.client.sendSnapshot(SNAP, { ...base, resumeToken: null })), 'RECEIVER_ZFS_COMMAND_FAILED');
  assert.equal(pair.client.failed, null, 'the link stays usable');
  await pair.client.close();
  assert.deepEqual(sendSnapshotArgs({ kind: 'send-snapshot', snapshot: SNAP, resumeToken: null }), ['send', '-L', '-e', '-c', SNAP]);
  assert.equal(tokenToname('resume token contents:\nnvlist version: 0\n\ttoname = a/b@c\n'), 'a/b@c');
  assert.equal(tokenToname('nothing'), null);
  assert.equal(estimateOf('full\tp/v@b\t3215032\nsize\t3215032\n'), '3215032');
  assert.equal(estimateOf('nothing'), null);
});

test('send-snapshot, hostile agent: wrong volsize, wrong GUID, more than maxBytes, a summary that disagrees, a hole inside the stream', async () => {
  const opts = { volsize: 8192n, guid: 5n, resumeToken: null, maxBytes: 4096n, write: async () => {} };
  const ready = (out: PassThrough, volsize = 8192, guid = '5'): boolean => msg(out, { kind: 'send-ready', snapshot: SNAP, volsize: String(volsize), guid, estimate: null });
  let c = await hostile(ROOT, (out) => ready(out, 9000));
  assert.equal(await codeOf(c.sendSnapshot(SNAP, opts)), 'EXPORT_SIZE_MISMATCH');
  c = await hostile(ROOT, (out) => ready(out, 8192, '6'));
  assert.equal(await codeOf(c.sendSnapshot(SNAP, opts)), 'EXPORT_GUID_MISMATCH');
  c = await hostile(ROOT, (out) => {
    ready(out);
    data(out, 4096);
    data(out, 1);
  });
  assert.equal(await codeOf(c.sendSnapshot(SNAP, opts)), 'PROTOCOL_LIMIT_EXCEEDED');
  c = await hostile(ROOT, (out) => {
    ready(out);
    data(out, 100);
    out.write(encodeFrame(FrameType.END));
    msg(out, { kind: 'snapshot-sent', snapshot: SNAP, bytes: '99' });
  });
  assert.equal(await codeOf(c.sendSnapshot(SNAP, opts)), 'PROTOCOL_BAD_MESSAGE');
  c = await hostile(ROOT, (out) => {
    ready(out);
    msg(out, { kind: 'export-hole', bytes: '10' });
  });
  assert.equal(await codeOf(c.sendSnapshot(SNAP, opts)), 'PROTOCOL_UNEXPECTED_MESSAGE');
});

test('send-snapshot: dom0 going away mid-stream stops zfs send and ends the session', async () => {
  const { zfs, state } = scriptedZfs(Buffer.alloc(20_000_000, 5));
  const pair = createLinkedPair(zfs, { highWaterMark: 64 * 1024 });
  await pair.client.hello(ROOT);
  let got = 0;
  const failed = await pair.client.sendSnapshot(SNAP, {
    volsize: 8388608n, guid: BigInt(GUID), resumeToken: null, maxBytes: 100_000_000n,
    write: async (c) => {
      got += c.length;
      if (got > 1_000_000) throw new Error('the receiving side gave up');
    },
  }).then(() => null, (e: unknown) => e);
  assert.equal((failed as Error).message, 'the receiving side gave up');
  await pair.client.close();
  assert.equal(await pair.agent, 'disconnected');
  assert.ok(state.killed, 'zfs send was stopped');
});
