// Message layer: round trips, exact bytes, the plain msgpack subset, strict schemas, names, 64-bit values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../../../shared/protocol/codec.ts';
import { checkPlainMsgpack } from '../../../shared/protocol/msgpack-subset.ts';
import { requestSchemas, type Request } from '../../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply } from '../../../shared/protocol/schemas/replies.ts';
import { isProtocolError } from '../../../shared/protocol/errors.ts';
import { MAX_LIST_LENGTH, MAX_MAP_KEYS, MAX_MESSAGE_DEPTH, MAX_STDERR_LINES, MAX_TEXT_LENGTH } from '../../../shared/protocol/limits.ts';

const packr = new Packr({ useRecords: false });
const payloadOf = (frame: Buffer): Buffer => frame.subarray(5);

function badCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isProtocolError(error), `expected a ProtocolError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a ProtocolError');
}
const rejectsRequest = (value: unknown): void => {
  assert.equal(badCode(() => decodeMessage(requestSchemas, packr.pack(value))), 'PROTOCOL_BAD_MESSAGE');
};
const rejectsReply = (value: unknown): void => {
  assert.equal(badCode(() => decodeMessage(replySchemas, packr.pack(value))), 'PROTOCOL_BAD_MESSAGE');
};

const receive: Request = {
  kind: 'receive', dataset: 'backup/qzb/tank/qubes/work/private', snapshot: 'qzb-1', type: 'volume', stream: 'incremental', origin: null, raw: false, resume: false, intoPlaceholder: false, unframed: false,
};
const requests: Request[] = [
  { kind: 'hello', protocol: 2, receiveRoot: 'backup/qzb', client: 'qubes-zfs-backup 0.1.0' },
  { kind: 'inventory' },
  receive,
  { ...receive, stream: 'clone', origin: 'backup/qzb/tank/qubes/base/private@qzb-0' },
  { kind: 'abort', dataset: 'backup/qzb/tank/with space:colon' },
];
const replies: Reply[] = [
  {
    kind: 'hello', protocol: 2, agent: 'qubes-zfs-backup-receiver 0.1.0', zfsVersion: ['zfs-2.3.2-1', 'zfs-kmod-2.3.2-1'],
    receiveRoot: { name: 'backup/qzb', exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' },
    pool: { name: 'backup', exists: true, features: [{ name: 'extensible_dataset', state: 'active' }] }, unframed: false,
  },
  {
    kind: 'inventory-batch',
    datasets: [{ name: 'backup/qzb/a', type: 'filesystem', guid: '17108560918391892958', createtxg: '5', origin: null, encryption: 'off', inconsistent: true, placeholder: false, resumeToken: '1-e604ea4bf-e0-789c63', written: '18446744073709551615' }],
    snapshots: [{ name: 'backup/qzb/a@s', type: 'snapshot', guid: '18446744073709551615', createtxg: '6' }, { name: 'backup/qzb/a#s', type: 'bookmark', guid: '1', createtxg: '6' }],
  },
  { kind: 'inventory-end', datasets: 1, snapshots: 2 },
  { kind: 'receive-ready', dataset: 'backup/qzb/a', snapshot: 's' },
  { kind: 'received', dataset: 'backup/qzb/a', snapshot: 's', guid: '123' },
  { kind: 'receive-failed', dataset: 'backup/qzb/a', snapshot: 's', exitCode: 1, signal: null, stderr: ['checksum mismatch or incomplete stream.'], resumeToken: null },
  { kind: 'aborted', dataset: 'backup/qzb/a', hadState: false },
  { kind: 'error', code: 'REQUEST_REFUSED', message: 'no', stderr: [] },
];

test('every request and reply survives encode → decode unchanged', () => {
  for (const r of requests) assert.deepEqual(decodeMessage(requestSchemas, payloadOf(encodeMessage(requestSchemas, r))), r);
  for (const r of replies) assert.deepEqual(decodeMessage(replySchemas, payloadOf(encodeMessage(replySchemas, r))), r);
});

test('exact bytes of an inventory request frame', () => {
  const frame = encodeMessage(requestSchemas, { kind: 'inventory' });
  assert.equal(frame.toString('hex'), '00000010' + '01' + '81' + 'a4' + Buffer.from('kind').toString('hex') + 'a9' + Buffer.from('inventory').toString('hex'));
});

test('the msgpack subset: extensions, bin, 0xc1, records, bad lengths, trailing bytes are refused', () => {
  const cases: Array<[string, number[]]> = [
    ['fixext1 (undefined / records)', [0xd4, 0x00, 0x00]],
    ['fixext record definition', [0xd4, 0x72, 0x00]],
    ['ext8', [0xc7, 0x01, 0x65, 0x00]],
    ['ext32 huge', [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['timestamp', [0xd6, 0xff, 0, 0, 0, 0]],
    ['bin8', [0xc4, 0x01, 0x00]],
    ['never used', [0xc1]],
    ['truncated str', [0xa5, 0x61]],
    ['str32 claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff]],
    ['array32 claiming 4G elements', [0xdd, 0xff, 0xff, 0xff, 0xff]],
    ['map32 claiming 4G keys', [0xdf, 0xff, 0xff, 0xff, 0xff]],
    ['trailing byte', [0xc0, 0xc0]],
    ['empty', []],
    ['non-string key', [0x81, 0x01, 0x02]],
    ['duplicate key', [0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]],
    ['duplicate key in two encodings', [0x82, 0xa1, 0x61, 0x01, 0xd9, 0x01, 0x61, 0x02]],
    ['record reference without definition is just an int, but a map holding an ext is not', [0x81, 0xa1, 0x61, 0xd4, 0x73, 0x00]],
  ];
  for (const [what, bytes] of cases) {
    assert.equal(badCode(() => checkPlainMsgpack(Uint8Array.from(bytes))), 'PROTOCOL_BAD_MESSAGE', what);
  }
  let deep: unknown = 1;
  for (let i = 0; i < MAX_MESSAGE_DEPTH + 1; i++) deep = [deep];
  assert.equal(badCode(() => checkPlainMsgpack(packr.pack(deep))), 'PROTOCOL_BAD_MESSAGE');
  assert.equal(badCode(() => checkPlainMsgpack(packr.pack(new Array(MAX_LIST_LENGTH + 1).fill(0)))), 'PROTOCOL_BAD_MESSAGE');
  checkPlainMsgpack(packr.pack(new Array(MAX_LIST_LENGTH).fill(0)));
  const keys = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  checkPlainMsgpack(packr.pack(keys(MAX_MAP_KEYS)));
  assert.equal(badCode(() => checkPlainMsgpack(packr.pack(keys(MAX_MAP_KEYS + 1)))), 'PROTOCOL_BAD_MESSAGE');
  let nested: unknown = 1;
  for (let i = 0; i < MAX_MESSAGE_DEPTH; i++) nested = [nested];
  checkPlainMsgpack(packr.pack(nested)); // exactly MAX_MESSAGE_DEPTH containers deep
  assert.equal(badCode(() => checkPlainMsgpack(packr.pack([nested]))), 'PROTOCOL_BAD_MESSAGE');
  checkPlainMsgpack(packr.pack({ a: [1, -1, 1.5, 2 ** 40, -(2 ** 40), 'x'.repeat(70000), null, true, false, {}] }));
});

test('the subset check runs before msgpackr, so no class instance can be built', () => {
  // msgpackr alone would turn these into an Error, a Set and a RegExp.
  for (const bytes of [[0xd4, 0x65, 0x00], [0xc7, 0x01, 0x73, 0x90], [0xd5, 0x78, 0x92, 0xa0]]) {
    assert.equal(badCode(() => decodeMessage(requestSchemas, Uint8Array.from(bytes))), 'PROTOCOL_BAD_MESSAGE');
  }
});

test('unknown kinds, unknown keys, wrong types and missing fields are bad messages', () => {
  rejectsRequest({ kind: 'destroy', dataset: 'backup/qzb/a' });
  rejectsRequest({ kind: 'hello ' });
  rejectsRequest({ nokind: 1 });
  rejectsRequest([{ kind: 'inventory' }]);
  rejectsRequest('inventory');
  rejectsRequest(null);
  rejectsRequest({ kind: 'inventory', extra: 1 });
  rejectsRequest({ kind: 'inventory', __proto__x: 1 });
  rejectsRequest(JSON.parse('{"kind":"inventory","__proto__":{"polluted":1}}'));
  rejectsRequest({ ...receive, raw: 'yes' });
  rejectsRequest({ ...receive, type: 'snapshot' });
  rejectsRequest({ ...receive, stream: 'clone' }); // clone without origin
  rejectsRequest({ ...receive, origin: 'backup/qzb/x@o' }); // origin without clone
  const { resume: _omitted, ...missing } = receive as Extract<Request, { kind: 'receive' }>;
  rejectsRequest(missing);
  const { intoPlaceholder: _absent, ...noPlaceholderFlag } = receive as Extract<Request, { kind: 'receive' }>;
  rejectsRequest(noPlaceholderFlag); // intoPlaceholder is required: the agent never guesses -F
  rejectsRequest({ ...receive, intoPlaceholder: 'yes' });
  rejectsRequest({ kind: 'hello', protocol: 1.5, receiveRoot: 'backup/qzb', client: 'x' });
  rejectsRequest({ kind: 'hello', protocol: -1, receiveRoot: 'backup/qzb', client: 'x' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('ZFS names: .., control characters, %, @, empty components, overlong names are refused', () => {
  const bad = [
    'backup/qzb/../etc', 'backup/qzb/a/..', 'backup/qzb/./a', 'backup/qzb/a\nb', 'backup/qzb/a\tb', 'backup/qzb/a\u0000',
    'backup/qzb/a%recv', 'backup/qzb/a@s', 'backup/qzb/a#b', 'backup//qzb', '/backup/qzb', 'backup/qzb/', '', 'backup/qzb/é',
    'backup/qzb/' + 'a'.repeat(250), 'backup/qzb/a\u001b[2J',
  ];
  for (const name of bad) {
    rejectsRequest({ kind: 'abort', dataset: name });
    rejectsRequest({ ...receive, dataset: name });
  }
  for (const label of ['a/b', 'a@b', '..', '', 'x\ny', 'a%b']) rejectsRequest({ ...receive, snapshot: label });
  rejectsReply({ kind: 'inventory-batch', datasets: [], snapshots: [{ name: 'backup/qzb/a@s@t', type: 'snapshot', guid: '1', createtxg: '1' }] });
});

test('64-bit values travel as decimal strings of at most 2^64-1', () => {
  const r = (guid: unknown): unknown => ({ kind: 'received', dataset: 'backup/qzb/a', snapshot: 's', guid });
  decodeMessage(replySchemas, packr.pack(r('18446744073709551615')));
  for (const guid of ['18446744073709551616', '99999999999999999999', '123456789012345678901', '-1', '0x10', '1e3', ' 1', '', 17, 2 ** 64]) {
    rejectsReply(r(guid));
  }
  const batch = replies[1] as Extract<Reply, { kind: 'inventory-batch' }>;
  const { written: _w, ...noWritten } = batch.datasets[0]!;
  rejectsReply({ ...batch, datasets: [noWritten] });
  for (const written of ['-1', '1.5', 0, '-']) rejectsReply({ ...batch, datasets: [{ ...batch.datasets[0]!, written }] });
});

test('reply text is bounded and free of control characters', () => {
  const err = (message: string, stderr: string[] = []): unknown => ({ kind: 'error', code: 'ZFS_COMMAND_FAILED', message, stderr });
  decodeMessage(replySchemas, packr.pack(err('tab\tis fine')));
  decodeMessage(replySchemas, packr.pack(err('x'.repeat(MAX_TEXT_LENGTH))));
  rejectsReply(err('x'.repeat(MAX_TEXT_LENGTH + 1)));
  decodeMessage(replySchemas, packr.pack(err('ok', new Array(MAX_STDERR_LINES).fill('line'))));
  rejectsReply(err('escape \u001b[31m'));
  rejectsReply(err('newline\n'));
  rejectsReply(err('bidi \u202e'));
  rejectsReply(err('c1 \u009b'));
  rejectsReply(err('ok', new Array(MAX_STDERR_LINES + 1).fill('line')));
  rejectsReply({ kind: 'error', code: 'SOMETHING_NEW', message: 'x', stderr: [] });
  rejectsReply({ kind: 'receive-failed', dataset: 'backup/qzb/a', snapshot: 's', exitCode: 1, signal: null, stderr: [], resumeToken: 'rm -rf /' });
});

test('encoding refuses what decoding would refuse', () => {
  assert.throws(() => encodeMessage(requestSchemas, { kind: 'abort', dataset: 'backup/../x' } as Request), /invalid abort message/);
  assert.throws(() => encodeMessage(requestSchemas, { kind: 'inventory', extra: undefined } as unknown as Request), /invalid inventory message/);
});
