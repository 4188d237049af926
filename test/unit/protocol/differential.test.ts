// Differential fuzzing of the msgpack subset check against msgpackr: for every input the checker
// accepts, msgpackr (with the codec's options) must read exactly one value ending exactly where
// the checker ended, equal to what an independent strict decoder (below) reads; and the checker
// must accept exactly what that strict decoder accepts. Inputs: random bytes, random encodings of
// random trees (every string header width, multibyte, overlong, surrogate, cut-off and BOM
// strings, lying lengths, extension and bin types), and mutations of both. The seed is printed;
// rerun a failure with FUZZ_SEED=<seed>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Unpackr, isNativeAccelerationEnabled } from 'msgpackr';
import { checkPlainMsgpack } from '../../../shared/protocol/msgpack-subset.ts';
import { decodeMessage, UNPACK_OPTIONS } from '../../../shared/protocol/codec.ts';
import { isProtocolError } from '../../../shared/protocol/errors.ts';
import { replySchemas } from '../../../shared/protocol/schemas/replies.ts';
import { MAX_LIST_LENGTH, MAX_MAP_KEYS, MAX_MESSAGE_DEPTH } from '../../../shared/protocol/limits.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 0x7fffffff;
console.log(`# differential fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`);

// Both of msgpackr's string readers: the native extractor (msgpackr-extract, loaded here under
// Node) and the pure-JS one the dom0 bundle uses (scripts/build.mjs). A fresh instance of
// unpack.js (the query makes it a separate module) never gets the extractor.
const unpackLoaded = path.join(path.dirname(createRequire(import.meta.url).resolve('msgpackr')), '..', 'unpack.js');
const pureJs = (await import(`${pathToFileURL(unpackLoaded).href}?pure-js`)) as { Unpackr: typeof Unpackr; isNativeAccelerationEnabled: boolean };
const decoders: Array<[string, Unpackr]> = [['msgpackr (native strings)', new Unpackr({ ...UNPACK_OPTIONS })], ['msgpackr (pure JS, as bundled)', new pureJs.Unpackr({ ...UNPACK_OPTIONS })]];

class Refused extends Error {}

/** An independent strict decoder of the plain subset, written from the msgpack spec and RFC 3629. */
function referenceDecode(bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const take = (n: number): number => {
    if (pos + n > bytes.length) throw new Refused('short');
    const at = pos;
    pos += n;
    return at;
  };
  const str = (n: number): string => {
    const at = take(n);
    return utf8(bytes.subarray(at, at + n));
  };
  const read = (depth: number): unknown => {
    const t = bytes[take(1)]!;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return str(t - 0xa0);
    if (t >= 0x80 && t <= 0x8f) return map(t - 0x80, depth);
    if (t >= 0x90 && t <= 0x9f) return list(t - 0x90, depth);
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return view.getUint8(take(1));
      case 0xcd: return view.getUint16(take(2));
      case 0xce: return view.getUint32(take(4));
      case 0xcf: { const at = take(8); return view.getUint32(at) * 0x100000000 + view.getUint32(at + 4); }
      case 0xd0: return view.getInt8(take(1));
      case 0xd1: return view.getInt16(take(2));
      case 0xd2: return view.getInt32(take(4));
      case 0xd3: { const at = take(8); return view.getInt32(at) * 0x100000000 + view.getUint32(at + 4); }
      case 0xca: return view.getFloat32(take(4));
      case 0xcb: return view.getFloat64(take(8));
      case 0xd9: return str(view.getUint8(take(1)));
      case 0xda: return str(view.getUint16(take(2)));
      case 0xdb: return str(view.getUint32(take(4)));
      case 0xdc: return list(view.getUint16(take(2)), depth);
      case 0xdd: return list(view.getUint32(take(4)), depth);
      case 0xde: return map(view.getUint16(take(2)), depth);
      case 0xdf: return map(view.getUint32(take(4)), depth);
      default: throw new Refused(`type ${t}`);
    }
  };
  const list = (n: number, depth: number): unknown[] => {
    if (depth >= MAX_MESSAGE_DEPTH || n > MAX_LIST_LENGTH || n > bytes.length - pos) throw new Refused('list');
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(read(depth + 1));
    return out;
  };
  const map = (n: number, depth: number): Record<string, unknown> => {
    if (depth >= MAX_MESSAGE_DEPTH || n > MAX_MAP_KEYS || 2 * n > bytes.length - pos) throw new Refused('map');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = read(depth + 1);
      if (typeof key !== 'string' || key === '__proto__' || Object.hasOwn(out, key)) throw new Refused('key');
      Object.defineProperty(out, key, { value: read(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  const value = read(0);
  if (pos !== bytes.length) throw new Refused('trailing');
  return value;
}

/** RFC 3629 by hand (not TextDecoder, which the checker uses): shortest forms, no surrogates, ≤ U+10FFFF. */
function utf8(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    let n: number;
    let cp: number;
    let min: number;
    if (c < 0x80) { out += String.fromCharCode(c); i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else throw new Refused('utf8 lead');
    if (i + n >= b.length) throw new Refused('utf8 cut');
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) throw new Refused('utf8 continuation');
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Refused('utf8 form');
    out += String.fromCodePoint(cp);
    i += n + 1;
  }
  return out;
}

type Verdict = { ok: true; value: unknown } | { ok: false };

function checker(bytes: Uint8Array): boolean {
  try {
    checkPlainMsgpack(bytes);
    return true;
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return false;
  }
}

function reference(bytes: Uint8Array): Verdict {
  try {
    return { ok: true, value: referenceDecode(bytes) };
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return { ok: false };
  }
}

let agreedAccept = 0;
let agreedRefuse = 0;

/** The differential property for one input. */
function compare(bytes: Uint8Array): void {
  const accepted = checker(bytes);
  const ref = reference(bytes);
  assert.equal(accepted, ref.ok, `checker ${accepted ? 'accepts' : 'refuses'}, reference ${ref.ok ? 'accepts' : 'refuses'}: ${Buffer.from(bytes).toString('hex')}`);
  if (!accepted || !ref.ok) {
    agreedRefuse++;
    return;
  }
  // Exactly one value, ending where the checker's ended (unpackMultiple would yield a second one,
  // or throw on an over-read), equal to the reference's reading.
  for (const [name, unpackr] of decoders) {
    const values = unpackr.unpackMultiple(Buffer.from(bytes)) as unknown[];
    assert.equal(values.length, 1, `${name} read ${values.length} values: ${Buffer.from(bytes).toString('hex')}`);
    assert.deepStrictEqual(values[0], ref.value, `${name} and the reference differ: ${Buffer.from(bytes).toString('hex')}`);
  }
  agreedAccept++;
}

// ---- generators: random trees encoded with random (legal and lying) headers ----

const INVALID_UTF8: number[][] = [
  [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xe0, 0x9f, 0xbf], [0xf0, 0x80, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf],
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xbf],
  [0xe2, 0x82], [0xf0], [0xf0, 0x9f], [0xf0, 0x9f, 0x98], [0xc3], [0xff], [0xfe],
  // An overlong "kind" (each letter as C1 xx) and the review's Date case.
  [0xc1, 0xab, 0xc1, 0xa9, 0xc1, 0xae, 0xc1, 0xa4],
];
const VALID_PIECES: number[][] = [
  [0xef, 0xbb, 0xbf], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xf4, 0x8f, 0xbf, 0xbf], [0xed, 0x9f, 0xbf], [0xee, 0x80, 0x80],
  [...Buffer.from('kind')], [...Buffer.from('__proto__')], [...Buffer.from('__proto_')], [0x00], [0x7f],
];

const stringBytes: fc.Arbitrary<number[]> = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => [...Buffer.from(s)]),
  fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => [...Buffer.from(s)]),
  fc.array(fc.oneof(fc.constantFrom(...VALID_PIECES), fc.constantFrom(...INVALID_UTF8), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 })), { maxLength: 4 }).map((p) => p.flat()),
);

type Tree = { t: 'str'; b: number[] } | { t: 'raw'; b: number[] } | { t: 'list'; items: Tree[] } | { t: 'map'; entries: Array<[Tree, Tree]> };

const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringBytes.map((b) => ({ t: 'str' as const, b })),
    // Scalars in every width, plus types the subset refuses (bin, ext, fixext, 0xc1).
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }).map((v) => [v]),
      fc.integer({ min: 0xe0, max: 0xff }).map((v) => [v]),
      fc.constantFrom([0xc0], [0xc2], [0xc3], [0xc1], [0xcc, 0xff], [0xcd, 0x12, 0x34], [0xce, 1, 2, 3, 4], [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        [0xd0, 0x80], [0xd1, 0x80, 0], [0xd2, 0x80, 0, 0, 0], [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], [0xca, 0x7f, 0xc0, 0, 0], [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0],
        [0xc4, 1, 0x41], [0xc7, 1, 0x01, 0], [0xd4, 0x72, 0x40], [0xd6, 0xff, 0, 0, 0, 0], [0xd5, 0x01, 0, 0], [0xd8, 0x69, ...Array(16).fill(0)]),
    ).map((b) => ({ t: 'raw' as const, b: [...b] })),
    fc.array(tie('node'), { maxLength: 4 }).map((items) => ({ t: 'list' as const, items })),
    fc.array(fc.tuple(fc.oneof(stringBytes.map((b) => ({ t: 'str' as const, b })), tie('node')), tie('node')), { maxLength: 4 }).map((entries) => ({ t: 'map' as const, entries })),
  ),
})).node;

/** Encodes a tree; `lie` shifts some declared lengths, `width` picks the header form. */
function encode(node: Tree, choice: () => number): number[] {
  const lie = (n: number): number => {
    const c = choice() % 16;
    return c === 0 ? n + 1 : c === 1 ? Math.max(0, n - 1) : c === 2 ? n + 0x10000 : n;
  };
  const header = (n: number, fix: number, fixMax: number, w8: number | null, w16: number, w32: number): number[] => {
    const c = choice() % 4;
    if (c === 0 && n <= fixMax) return [fix + n];
    if (c === 1 && w8 !== null && n <= 0xff) return [w8, n];
    if (c === 2 && n <= 0xffff) return [w16, n >> 8, n & 0xff];
    if (n <= fixMax && c !== 3) return [fix + n];
    return [w32, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  };
  switch (node.t) {
    case 'raw': return node.b;
    case 'str': return [...header(lie(node.b.length), 0xa0, 31, 0xd9, 0xda, 0xdb), ...node.b];
    case 'list': return [...header(lie(node.items.length), 0x90, 15, null, 0xdc, 0xdd), ...node.items.flatMap((i) => encode(i, choice))];
    case 'map': return [...header(lie(node.entries.length), 0x80, 15, null, 0xde, 0xdf), ...node.entries.flatMap(([k, v]) => [...encode(k, choice), ...encode(v, choice)])];
  }
}

const encoded = fc.tuple(tree, fc.array(fc.nat(), { minLength: 1, maxLength: 32 })).map(([t, choices]) => {
  let i = 0;
  return Uint8Array.from(encode(t, () => choices[i++ % choices.length]!));
});

const mutate = (input: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> => fc.tuple(input, fc.array(fc.tuple(fc.nat(3), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })).map(([b, ms]) => {
  const bytes = [...b];
  for (const [op, where, v] of ms) {
    const at = bytes.length === 0 ? 0 : where % bytes.length;
    if (op === 0) bytes[at] = v;
    else if (op === 1) bytes.splice(at, 0, v);
    else if (op === 2) bytes.splice(at, 1);
    else bytes.length = at;
  }
  return Uint8Array.from(bytes);
});

const runs = (n: number, seedOffset: number) => ({ numRuns: n, seed: SEED + seedOffset });

test('differential: random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), compare), runs(10_000, 0));
});

test('differential: random encodings of random trees (multibyte, overlong, cut-off strings; lying lengths)', () => {
  fc.assert(fc.property(encoded, compare), runs(20_000, 1));
});

test('differential: mutated encodings', () => {
  fc.assert(fc.property(mutate(encoded), compare), runs(15_000, 2));
});

test('both msgpackr string readers are under test', () => {
  assert.equal(isNativeAccelerationEnabled, true, 'the native extractor is loaded in this process');
  assert.equal(pureJs.isNativeAccelerationEnabled, false, 'the second instance is pure JS');
  // The pure-JS reader is the one that turns the review's bytes into a Date.
  assert.ok((new pureJs.Unpackr({ ...UNPACK_OPTIONS }).unpack(Buffer.from('81a1f0d90741d6ff00000000', 'hex')) as Record<string, unknown>)['\u{191c1}'] instanceof Date);
});

test('the review\'s inputs: a Date through a cut-off string, an overlong "kind", a hidden list of a million nils', () => {
  const date = Buffer.from('81a1f0d90741d6ff00000000', 'hex');
  assert.equal(checker(date), false);
  const overlongKind = Buffer.concat([Buffer.from([0x82, 0xa4]), Buffer.from('kind'), Buffer.from([0xa5]), Buffer.from('hello'), Buffer.from([0xa8, 0xc1, 0xab, 0xc1, 0xa9, 0xc1, 0xae, 0xc1, 0xa4, 0xa1, 0x78])]);
  assert.equal(checker(overlongKind), false);
  // A string whose last byte is a 4-byte lead swallows the next 3 bytes in msgpackr's eyes.
  const nils = Buffer.concat([Buffer.from([0x82, 0xa1, 0xf0, 0xdb, 0x00, 0x0f, 0x42, 0x45, 0xdd, 0x00, 0x0f, 0x42, 0x40]), Buffer.alloc(1_000_000, 0xc0), Buffer.from([0xa1, 0x78, 0xc0])]);
  const started = Date.now();
  assert.throws(() => decodeMessage(replySchemas, nils), (e: unknown) => isProtocolError(e) && e.code === 'PROTOCOL_BAD_MESSAGE');
  assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
  // "__proto__" would collide with "__proto_" once msgpackr renames it.
  assert.equal(checker(Buffer.from([0x82, 0xa9, ...Buffer.from('__proto__'), 0xc0, 0xa8, ...Buffer.from('__proto_'), 0xc0])), false);
  // A leading BOM is kept, so it is a different key.
  assert.equal(checker(Buffer.from([0x82, 0xa4, ...Buffer.from('kind'), 0xc0, 0xa7, 0xef, 0xbb, 0xbf, ...Buffer.from('kind'), 0xc0])), true);
});

test('differential summary', () => {
  assert.ok(agreedAccept > 2000, `accepted ${agreedAccept}`);
  assert.ok(agreedRefuse > 5000, `refused ${agreedRefuse}`);
  console.log(`# differential: ${agreedAccept} inputs accepted by both (msgpackr identical), ${agreedRefuse} refused by both`);
});
