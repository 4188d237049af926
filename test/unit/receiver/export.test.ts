// export: the agent's handler over a scripted ZFS runner whose "block device" is a sparse file
// (the real clone + /dev/zvol path is covered on real ZFS in test/unit/receiver/real-zfs.vm.ts),
// and the dom0 client's checks against a hostile agent (sizes, GUID, byte counts, order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createHash } from 'node:crypto';
import { createLinkedPair } from '../../../dom0/receiver-link/linked-pair.ts';
import { type ExportPiece } from '../../../dom0/receiver-link/client.ts';
import type { AgentZfs } from '../../../receiver/zfs-runner.ts';
import { exportClonePid, staleExportClones } from '../../../receiver/export-clones.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { isQzbError } from '../../../shared/errors.ts';
import { codeOf, data, fail, hostile, msg, ok, volumeSnapshotAnswer } from './scripted-agent.ts';

const ROOT = 'backup/qzb';
const SNAP = `${ROOT}/pool/qubes/work/private@qzb-1`;
const MiB = 1024 * 1024;

/** A runner that knows one volume snapshot and records clones; its device is `file`. */
function scriptedZfs(file: string, volsize: number, extra: string[] = []) {
  const calls: string[][] = [];
  const clones = new Set<string>(extra);
  const zfs: AgentZfs = {
    async zfs(args) {
      calls.push(args);
      const last = args[args.length - 1]!;
      const known = volumeSnapshotAnswer(args, SNAP, volsize, '1234567890123456789');
      if (known) return known;
      if (args[0] === 'list') return ok([...clones].map((c) => `${c}\t${SNAP}\n`).join(''));
      if (args[0] === 'get' && args.includes('org.qubes-zfs-backup:export')) {
        return ok(args.slice(6).map((c) => `${c}\t${exportClonePid(c, ROOT)}\tlocal\n`).join(''));
      }
      if (args[0] === 'clone') {
        clones.add(last);
        return ok();
      }
      if (args[0] === 'destroy') {
        clones.delete(last);
        return ok();
      }
      return fail(`unsupported ${args.join(' ')}`);
    },
    async zpool() {
      return ok('');
    },
    receive() {
      throw new Error('no receive here');
    },
    zvolPath: () => file,
  };
  return { zfs, calls, clones };
}

async function sparseFile(dir: string, size: number, writes: Array<[number, Buffer]>): Promise<string> {
  const file = path.join(dir, 'dev');
  const fh = await open(file, 'w');
  await fh.truncate(size);
  for (const [at, bytes] of writes) await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
  return file;
}

test('export: the bytes arrive in order, zero runs as holes, the clone is read-only, marked and destroyed', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'qzb-export-'));
  try {
    const size = 5 * MiB + 4096;
    const a = Buffer.alloc(100_000, 7);
    const b = Buffer.alloc(3 * 65536, 9);
    const file = await sparseFile(dir, size, [[10, a], [3 * MiB + 5, b], [size - 10, Buffer.from('end!')]]);
    const expected = Buffer.alloc(size);
    a.copy(expected, 10);
    b.copy(expected, 3 * MiB + 5);
    Buffer.from('end!').copy(expected, size - 10);
    const { zfs, calls, clones } = scriptedZfs(file, size);
    const pair = createLinkedPair(zfs);
    await pair.client.hello(ROOT);
    const got: Buffer[] = [];
    let holes = 0n;
    const result = await pair.client.exportVolume(SNAP, {
      volsize: BigInt(size),
      guid: 1234567890123456789n,
      write: async (p: ExportPiece) => {
        if (p.kind === 'data') got.push(Buffer.from(p.bytes));
        else {
          holes += p.length;
          got.push(Buffer.alloc(Number(p.length)));
        }
      },
    });
    const all = Buffer.concat(got);
    assert.equal(all.length, size);
    assert.ok(all.equals(expected), 'the exported bytes equal the device');
    assert.equal(result.bytes, BigInt(size));
    assert.equal(result.holeBytes, holes);
    assert.ok(holes > BigInt(4 * MiB), `most of the volume travels as holes (${holes})`);
    assert.equal(result.cloneLeft, null);
    const clone = calls.find((c) => c[0] === 'clone')!;
    assert.deepEqual(clone.slice(0, 7), ['clone', '-o', 'volmode=dev', '-o', 'readonly=on', '-o', `org.qubes-zfs-backup:export=${process.pid}`]);
    assert.equal(clone[7], SNAP);
    assert.ok(calls.some((c) => c[0] === 'destroy' && c.length === 2 && c[1] === clone[8]), 'the clone is destroyed (never -r)');
    assert.equal(clones.size, 0);
    assert.ok(!calls.some((c) => c[0] === 'destroy' && c[1] !== clone[8]), 'nothing else is destroyed');
    // The link stays usable.
    assert.equal(createHash('sha256').update(all).digest('hex'), createHash('sha256').update(expected).digest('hex'));
    await pair.client.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('export: refused outside the root and for a dataset that is not a volume; nothing cloned', async () => {
  const { zfs, calls } = scriptedZfs('/nonexistent', 4096);
  const pair = createLinkedPair(zfs);
  await pair.client.hello(ROOT);
  const outside = await pair.client.exportVolume('other/x@s', { volsize: 4096n, write: async () => {} }).catch((e: unknown) => e);
  assert.ok(isQzbError(outside) && outside.code === 'RECEIVER_USAGE');
  const missing = await pair.client.exportVolume(`${ROOT}/pool/x@s`, { volsize: 4096n, write: async () => {} }).catch((e: unknown) => e);
  assert.ok(isQzbError(missing) && missing.code === 'RECEIVER_REQUEST_REFUSED', String(missing));
  assert.ok(!calls.some((c) => c[0] === 'clone'));
  await pair.client.close();
});

test('export: stale clones of dead agents are destroyed first; a live agent\'s clone and other datasets stay', async () => {
  const dead = `${ROOT}/.qzb-export-999999-0badc0de`;
  const live = `${ROOT}/.qzb-export-${process.pid}-00c0ffee`;
  const { zfs } = scriptedZfs('/nonexistent', 4096, [dead, live]);
  const stale = await staleExportClones(zfs, ROOT, (pid) => pid === process.pid);
  assert.deepEqual(stale, [dead]);
  assert.equal(exportClonePid(`${ROOT}/pool/qubes/x`, ROOT), null);
  assert.equal(exportClonePid(`${ROOT}/.qzb-export-12-zz`, ROOT), null);
  assert.equal(exportClonePid(`${ROOT}/sub/.qzb-export-12-0badc0de`, ROOT), null);
});

const ready = (out: PassThrough, volsize: number, guid = '5'): boolean => msg(out, { kind: 'export-ready', snapshot: SNAP, volsize: String(volsize), guid });

test('export, hostile agent: wrong volsize, wrong GUID, too many bytes, short END, a hole past the end, data before ready', async () => {
  const opts = (write: (p: ExportPiece) => Promise<void> = async () => {}) => ({ volsize: 8192n, guid: 5n, write });
  let c = await hostile(ROOT, (out) => ready(out, 9000));
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'EXPORT_SIZE_MISMATCH');
  c = await hostile(ROOT, (out) => ready(out, 8192, '6'));
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'EXPORT_GUID_MISMATCH');
  c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    data(out, 8192);
    data(out, 1);
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'PROTOCOL_LIMIT_EXCEEDED');
  c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    msg(out, { kind: 'export-hole', bytes: '8193' });
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'PROTOCOL_LIMIT_EXCEEDED');
  c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    data(out, 100);
    out.write(encodeFrame(FrameType.END));
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'PROTOCOL_BAD_MESSAGE');
  c = await hostile(ROOT, (out) => {
    data(out, 100);
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'PROTOCOL_UNEXPECTED_MESSAGE');
  // A summary that disagrees with what was sent.
  c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    data(out, 4096);
    msg(out, { kind: 'export-hole', bytes: '4096' });
    out.write(encodeFrame(FrameType.END));
    msg(out, { kind: 'exported', snapshot: SNAP, bytes: '8192', holeBytes: '0', cloneLeft: null });
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, opts())), 'PROTOCOL_BAD_MESSAGE');
  // Data frames outside an export stay a violation.
  c = await hostile(ROOT, (out) => data(out, 10));
  assert.equal(await codeOf(c.inventory()), 'PROTOCOL_UNEXPECTED_MESSAGE');
  // A failing sink ends the link with its own error.
  c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    data(out, 4096);
  });
  const sinkError = await c.exportVolume(SNAP, opts(async () => { throw new Error('ImportWithSize died'); })).catch((e: unknown) => e);
  assert.equal((sinkError as Error).message, 'ImportWithSize died');
  assert.ok(c.failed !== null);
});

test('export, well-behaved scripted agent: ABORT then an error reply is a request failure', async () => {
  const c = await hostile(ROOT, (out) => {
    ready(out, 8192);
    data(out, 4096);
    out.write(encodeFrame(FrameType.ABORT));
    msg(out, { kind: 'error', code: 'ZFS_COMMAND_FAILED', message: 'read error', stderr: [] });
  });
  assert.equal(await codeOf(c.exportVolume(SNAP, { volsize: 8192n, write: async () => {} })), 'RECEIVER_ZFS_COMMAND_FAILED');
  assert.equal(c.failed, null, 'the link stays usable');
});
