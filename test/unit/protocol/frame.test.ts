// Frame layer: exact bytes, arbitrary splits, every limit at and over, fail-closed decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, encodeFrameHeader, FrameType, type Frame } from '../../../shared/protocol/frame.ts';
import { FrameDecoder } from '../../../shared/protocol/frame-decoder.ts';
import { MAX_CONTROL_FRAME, MAX_DATA_CHUNK } from '../../../shared/protocol/limits.ts';
import { isProtocolError } from '../../../shared/protocol/errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function decodeAll(chunks: Buffer[]): Frame[] {
  const d = new FrameDecoder();
  const out: Frame[] = [];
  for (const c of chunks) out.push(...d.push(c));
  d.end();
  return out.map((f) => ({ type: f.type, payload: Buffer.from(f.payload) }));
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isProtocolError(error), `expected a ProtocolError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a ProtocolError');
}

test('exact bytes of each frame type', () => {
  assert.equal(hex(encodeFrame(FrameType.CONTROL, Buffer.from([0x80]))), '000000010180');
  assert.equal(hex(encodeFrame(FrameType.DATA, Buffer.from('abc'))), '0000000302616263');
  assert.equal(hex(encodeFrame(FrameType.END)), '0000000003');
  assert.equal(hex(encodeFrame(FrameType.ABORT)), '0000000004');
  assert.equal(hex(encodeFrameHeader(FrameType.DATA, 0x010203)), '0001020302');
});

test('decodes frames split at every byte and at random points', () => {
  const frames = [
    encodeFrame(FrameType.CONTROL, Buffer.from([0x81, 0xa1, 0x61, 0x01])),
    encodeFrame(FrameType.DATA, Buffer.alloc(1000, 7)),
    encodeFrame(FrameType.END),
    encodeFrame(FrameType.DATA, Buffer.from([1])),
    encodeFrame(FrameType.ABORT),
  ];
  const all = Buffer.concat(frames);
  const expected = decodeAll([all]);
  assert.equal(expected.length, 5);
  assert.deepEqual(expected.map((f) => f.type), [1, 2, 3, 2, 4]);
  assert.deepEqual(decodeAll([...all].map((b) => Buffer.from([b]))), expected);
  for (let round = 0; round < 500; round++) {
    const chunks: Buffer[] = [];
    let at = 0;
    while (at < all.length) {
      const n = 1 + Math.floor(Math.random() * Math.min(64, all.length - at));
      chunks.push(all.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(decodeAll(chunks), expected);
  }
});

test('a whole payload inside one chunk is handed out without copying', () => {
  const chunk = encodeFrame(FrameType.DATA, Buffer.alloc(100, 1));
  const [frame] = new FrameDecoder().push(chunk);
  assert.equal(frame!.payload.buffer, chunk.buffer);
});

test('control and data frames at the limit are accepted', () => {
  const control = decodeAll([encodeFrame(FrameType.CONTROL, Buffer.alloc(MAX_CONTROL_FRAME, 0xc0))]);
  assert.equal(control[0]!.payload.length, MAX_CONTROL_FRAME);
  const data = decodeAll([encodeFrame(FrameType.DATA, Buffer.alloc(MAX_DATA_CHUNK, 1))]);
  assert.equal(data[0]!.payload.length, MAX_DATA_CHUNK);
});

test('an oversized length is rejected from the header alone, before any payload arrives', () => {
  for (const [type, limit] of [[FrameType.CONTROL, MAX_CONTROL_FRAME], [FrameType.DATA, MAX_DATA_CHUNK]] as const) {
    for (const length of [limit + 1, 0x7fffffff, 0xffffffff]) {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(length, 0);
      header[4] = type;
      assert.equal(code(() => new FrameDecoder().push(header)), 'PROTOCOL_FRAME_TOO_LARGE');
      // Split header: still rejected as soon as the fifth byte arrives.
      const d = new FrameDecoder();
      d.push(header.subarray(0, 3));
      assert.equal(code(() => d.push(header.subarray(3))), 'PROTOCOL_FRAME_TOO_LARGE');
    }
  }
  assert.throws(() => encodeFrame(FrameType.CONTROL, Buffer.alloc(MAX_CONTROL_FRAME + 1)), /exceeds the limit/);
  assert.throws(() => encodeFrameHeader(FrameType.DATA, MAX_DATA_CHUNK + 1), /exceeds the limit/);
});

test('bad frames: unknown type, non-empty END/ABORT, empty control/data', () => {
  const frame = (len: number, type: number, payload = Buffer.alloc(len)): Buffer => {
    const h = Buffer.alloc(5);
    h.writeUInt32BE(len, 0);
    h[4] = type;
    return Buffer.concat([h, payload]);
  };
  for (const t of [0x00, 0x05, 0x7f, 0xff]) assert.equal(code(() => new FrameDecoder().push(frame(1, t))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => new FrameDecoder().push(frame(1, FrameType.END))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => new FrameDecoder().push(frame(4, FrameType.ABORT))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => new FrameDecoder().push(frame(0, FrameType.CONTROL))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => new FrameDecoder().push(frame(0, FrameType.DATA))), 'PROTOCOL_BAD_FRAME');
});

test('end of input inside a header or payload is PROTOCOL_TRUNCATED', () => {
  const whole = encodeFrame(FrameType.DATA, Buffer.alloc(10));
  for (const cut of [1, 4, 5, 14]) {
    const d = new FrameDecoder();
    d.push(whole.subarray(0, cut));
    assert.equal(code(() => d.end()), 'PROTOCOL_TRUNCATED');
  }
  const d = new FrameDecoder();
  d.push(whole);
  d.end();
  assert.ok(d.idle);
});

test('after an error the decoder stays failed', () => {
  const d = new FrameDecoder();
  assert.equal(code(() => d.push(Buffer.from([0, 0, 0, 1, 9, 0]))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => d.push(encodeFrame(FrameType.END))), 'PROTOCOL_BAD_FRAME');
  assert.equal(code(() => d.end()), 'PROTOCOL_BAD_FRAME');
});

test('splitData hands out a spanning data frame as uncopied pieces; control frames stay whole', () => {
  const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
  const control = encodeFrame(FrameType.CONTROL, Buffer.alloc(700, 0xc0));
  const all = Buffer.concat([encodeFrame(FrameType.DATA, data), control, encodeFrame(FrameType.END)]);
  for (let round = 0; round < 200; round++) {
    const d = new FrameDecoder({ splitData: true });
    const pieces: Buffer[] = [];
    const kinds: number[] = [];
    let at = 0;
    while (at < all.length) {
      const n = 1 + Math.floor(Math.random() * 500);
      const chunk = all.subarray(at, at + n);
      for (const f of d.push(chunk)) {
        if (f.type === FrameType.DATA) {
          assert.equal(f.payload.buffer, chunk.buffer, 'a view, not a copy');
          pieces.push(f.payload);
        } else kinds.push(f.type);
        if (f.type === FrameType.CONTROL) assert.equal(f.payload.length, 700);
      }
      at += n;
    }
    d.end();
    assert.ok(Buffer.concat(pieces).equals(data));
    assert.deepEqual(kinds, [FrameType.CONTROL, FrameType.END]);
  }
  const cut = new FrameDecoder({ splitData: true });
  cut.push(encodeFrame(FrameType.DATA, data).subarray(0, 100));
  assert.equal(code(() => cut.end()), 'PROTOCOL_TRUNCATED');
});
