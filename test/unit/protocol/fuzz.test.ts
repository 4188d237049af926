// Fuzzing the decoder stack (frames → msgpack subset → msgpackr → zod) with many thousands of
// random and mutated inputs: it must fail closed with a ProtocolError — never another exception,
// never a crash, never a hang — and whatever it accepts must be a valid message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder } from '../../../shared/protocol/frame-decoder.ts';
import { encodeFrame, FrameType } from '../../../shared/protocol/frame.ts';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { requestSchemas } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas } from '../../../shared/protocol/schemas/replies.ts';
import { isProtocolError } from '../../../shared/protocol/errors.ts';

const seeds: Buffer[] = [
  encodeMessage(requestSchemas, { kind: 'hello', protocol: 2, receiveRoot: 'backup/qzb', client: 'qubes-zfs-backup 0.1.0' }),
  encodeMessage(requestSchemas, { kind: 'receive', dataset: 'backup/qzb/a b', snapshot: 's:1', type: 'filesystem', stream: 'clone', origin: 'backup/qzb/o@x', raw: true, resume: false, intoPlaceholder: false, unframed: false }),
  encodeMessage(replySchemas, {
    kind: 'inventory-batch',
    datasets: [{ name: 'backup/qzb/a', type: 'volume', guid: '17108560918391892958', createtxg: '5', origin: null, encryption: 'aes-256-gcm', inconsistent: false, placeholder: true, resumeToken: null, written: '0' }],
    snapshots: [{ name: 'backup/qzb/a@s', type: 'snapshot', guid: '1', createtxg: '6' }],
  }),
  encodeMessage(replySchemas, { kind: 'receive-failed', dataset: 'backup/qzb/a', snapshot: 's', exitCode: 1, signal: null, stderr: ['cannot receive'], resumeToken: '1-abc-10-789c' }),
  encodeFrame(FrameType.DATA, Buffer.from('zfs stream bytes')),
  encodeFrame(FrameType.END),
  encodeFrame(FrameType.ABORT),
];

let accepted = 0;
let rejected = 0;

/** Feeds `bytes` in the given chunk sizes; returns normally or with a ProtocolError, nothing else. */
function feed(bytes: Uint8Array, cuts: number[]): void {
  // Both decoder modes: whole data frames, and data frames handed out in pieces (the agent's mode).
  const decoder = new FrameDecoder({ splitData: cuts.length % 2 === 1 });
  const input = Buffer.from(bytes);
  let at = 0;
  let i = 0;
  try {
    while (at < input.length) {
      const n = Math.max(1, cuts.length > 0 ? cuts[i++ % cuts.length]! : input.length);
      for (const frame of decoder.push(input.subarray(at, at + n))) {
        if (frame.type === FrameType.CONTROL) {
          const schemas = frame.payload.length % 2 === 0 ? requestSchemas : replySchemas;
          const message = decodeMessage(schemas, frame.payload);
          assert.equal(typeof message.kind, 'string');
          // Whatever was accepted re-encodes (so it is a valid message by our own rules).
          encodeMessage(schemas, message as never);
        }
      }
      at += n;
    }
    decoder.end();
    accepted++;
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    rejected++;
  }
}

const cuts = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 });

test('random bytes fail closed', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), cuts, (bytes, c) => feed(bytes, c)), { numRuns: 20_000 });
});

test('random headers with plausible lengths fail closed', () => {
  const frame = fc.record({ length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0xffffffff, 0x100001, 0x100000)), type: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 300 }) });
  fc.assert(fc.property(fc.array(frame, { maxLength: 6 }), cuts, (frames, c) => {
    const parts = frames.map((f) => {
      const h = Buffer.alloc(5);
      h.writeUInt32BE(f.length, 0);
      h[4] = f.type;
      return Buffer.concat([h, f.body]);
    });
    feed(Buffer.concat(parts), c);
  }), { numRuns: 20_000 });
});

test('mutated valid frames fail closed', () => {
  const mutation = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  );
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: seeds.length - 1 }), { minLength: 1, maxLength: 4 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, (picks, mutations, c) => {
    const bytes = [...Buffer.concat(picks.map((p) => seeds[p]!))];
    for (const m of mutations) {
      const at = bytes.length === 0 ? 0 : m.at % bytes.length;
      if (m.op === 'set') bytes[at] = m.value;
      else if (m.op === 'insert') bytes.splice(at, 0, m.value);
      else if (m.op === 'delete') bytes.splice(at, 1);
      else bytes.length = at;
    }
    feed(Uint8Array.from(bytes), c);
  }), { numRuns: 30_000 });
});

test('fuzz summary', () => {
  // Both outcomes must have happened, or the fuzzer is not exploring.
  assert.ok(accepted > 100, `accepted ${accepted}`);
  assert.ok(rejected > 1000, `rejected ${rejected}`);
  console.log(`# fuzz: ${accepted + rejected} inputs, ${accepted} accepted, ${rejected} rejected with a ProtocolError`);
});
