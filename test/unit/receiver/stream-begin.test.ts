// StreamBegin reads drr_toguid from a stream's first record, in either byte order, across pieces;
// anything that is not a DRR_BEGIN gives null (the agent then asks zfs). The real-stream case is
// a recorded head of a real `zfs send` (fixtures/stream-head.txt, with its zfs get guid).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { StreamBegin } from '../../../shared/stream-begin.ts';

function begin(le: boolean, guid: bigint, type = 0, magic = 0x2f5bacbacn): Buffer {
  const b = Buffer.alloc(312);
  const u32 = (v: number, at: number): number => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u64 = (v: bigint, at: number): number => (le ? b.writeBigUInt64LE(v, at) : b.writeBigUInt64BE(v, at));
  u32(type, 0);
  u32(0, 4);
  u64(magic, 8);
  u64(0x11n, 16);
  u64(1764700000n, 24);
  u32(2, 32);
  u32(4, 36);
  u64(guid, 40);
  u64(0n, 48);
  return b;
}

const read = (pieces: Buffer[]): string | null => {
  const s = new StreamBegin();
  for (const p of pieces) s.push(p);
  return s.toguid();
};

test('drr_toguid of a little- and a big-endian DRR_BEGIN, whole or in pieces of any size', () => {
  const guid = 0xfedcba9876543210n;
  assert.equal(read([begin(true, guid)]), guid.toString());
  assert.equal(read([begin(false, guid)]), guid.toString());
  const b = begin(true, 12345678901234567890n);
  assert.equal(read([b.subarray(0, 1), b.subarray(1, 7), b.subarray(7, 47), b.subarray(47)]), '12345678901234567890');
  assert.equal(read([...b.subarray(0, 48)].map((x) => Buffer.from([x]))), '12345678901234567890');
});

test('not a DRR_BEGIN, a wrong magic, a zero GUID or fewer than 48 bytes: null', () => {
  assert.equal(read([begin(true, 5n, 1)]), null);
  assert.equal(read([begin(true, 5n, 0, 0x2f5bacbadn)]), null);
  assert.equal(read([begin(true, 0n)]), null);
  assert.equal(read([begin(true, 5n).subarray(0, 47)]), null);
  assert.equal(read([]), null);
  assert.equal(read([Buffer.alloc(4096, 7)]), null);
});

test('a recorded real stream head (OpenZFS 2.3.2) gives the GUID zfs reports for the snapshot', () => {
  const lines = readFileSync(new URL('fixtures/stream-head.txt', import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.length >= 2, 'fixture has cases');
  for (const line of lines) {
    const [what, guid, hex] = line.split('\t');
    assert.equal(read([Buffer.from(hex!, 'hex')]), guid, what);
  }
});

test('record(): hdrtype substream for a plain send, compound for -R/-p (versioninfo bits 0-1), and drr_fromguid', () => {
  const s = new StreamBegin();
  const b = begin(true, 77n);
  b.writeBigUInt64LE(0x11n, 16);
  b.writeBigUInt64LE(99n, 48);
  s.push(b);
  assert.deepEqual(s.record(), { toguid: 77n, fromguid: 99n, hdrtype: 1 });
  const c = new StreamBegin();
  const cb = begin(false, 77n);
  cb.writeBigUInt64BE(0x12n, 16);
  c.push(cb);
  assert.equal(c.record()?.hdrtype, 2);
  const short = new StreamBegin();
  short.push(begin(true, 77n).subarray(0, 50));
  assert.equal(short.record(), null);
  assert.equal(short.toguid(), '77');
});

test('the recorded real stream heads are substreams; full ones have no fromguid', () => {
  const lines = readFileSync(new URL('fixtures/stream-head.txt', import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [what, , hex] = line.split('\t');
    const s = new StreamBegin();
    s.push(Buffer.from(hex!, 'hex'));
    const r = s.record();
    assert.equal(r?.hdrtype, 1, what);
    if (/^full/.test(what!)) assert.equal(r?.fromguid, 0n, what);
  }
});
