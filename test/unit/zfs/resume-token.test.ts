// Token validation and the `zfs send -nvP -t` dump parser vs real tokens and dumps (OpenZFS 2.3.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  decodeResumeToken, ImplausibleTokenError, isPlausibleToken, MAX_TOKEN_LENGTH, parseTokenDump, tokenDecodeArgs, tokenProblem, TokenDumpError,
} from '../../../dom0/zfs/resume-token.ts';
import { ZfsCommandError } from '../../../dom0/zfs/runner.ts';
import { fixtureDir, recordedGuids, recordedToken, sendCase } from './send-fixtures.ts';

const TOKENS = ['cut-full', 'cut-plain', 'cut-incr', 'cut-raw', 'cut-raw-bookmark', 'cut-vol-bookmark', 'cut-incr-snapfrom', 'cut-clone', 'cut-incr-plain'];

test('every real token is plausible', () => {
  for (const n of TOKENS) assert.equal(tokenProblem(recordedToken(n)), null, n);
});

test('corrupt, truncated, forged or oversized tokens are not', () => {
  const t = recordedToken('cut-full');
  const mid = t.length >> 1;
  const flipped = t.slice(0, mid) + (t[mid] === '0' ? '1' : '0') + t.slice(mid + 1);
  const bad: [string, RegExp][] = [
    ['', /form/], ['1-abc-def-0123', /checksum/], [flipped, /checksum/], [t.slice(0, -10), /checksum/], [`2${t.slice(1)}`, /form/],
    [t.toUpperCase(), /form/], [` ${t}`, /form/], [`${t}\n`, /form/], [`${t} -R`, /form/], [`-${t}`, /form/], [`${t}0`, /form/],
    ['1-0-f0-', /form/], [`1-${'f'.repeat(17)}-f0-00`, /form/], ['x'.repeat(MAX_TOKEN_LENGTH + 1), /longer/],
  ];
  for (const [s, why] of bad) {
    assert.match(tokenProblem(s) ?? 'plausible', why, JSON.stringify(s.slice(0, 40)));
    assert.equal(isPlausibleToken(s), false);
    assert.throws(() => tokenDecodeArgs(s), ImplausibleTokenError);
  }
  // A correct checksum over a payload that is not zlib, or of the wrong length, is still refused.
  const junk = Buffer.from('00000000', 'hex');
  assert.match(tokenProblem(`1-0-10-${junk.toString('hex')}`) ?? '', /decompress/);
  const [, ck, , hex] = t.split('-');
  assert.match(tokenProblem(`1-${ck}-f1-${hex}`) ?? '', /length mismatch/);
});

test('decode argv', () => {
  const t = recordedToken('cut-raw');
  assert.deepEqual(tokenDecodeArgs(t), ['send', '-n', '-v', '-P', '-t', t]);
});

const hex = (s: string): bigint => BigInt(s);

test('dumps of cut full, plain, incremental, raw, raw-from-bookmark, volume-from-bookmark and clone streams', () => {
  const g = recordedGuids();
  const full = parseTokenDump(sendCase('dump-full').stdout);
  assert.deepEqual(full, {
    toname: 'src/fs@a', toguid: hex('0x9a02b02ea25e67b4'), fromguid: null, object: 2n, offset: 0x140000n, bytes: 0x161768n,
    flags: { largeblockok: false, embedok: true, compressok: true, rawok: false }, fromname: null, size: 2767880n,
  });
  // Hex in the dump, decimal in `zfs list -p`: the same GUID.
  assert.equal(full.toguid, g.get('src/fs@a'));
  assert.deepEqual(parseTokenDump(sendCase('dump-plain').stdout).flags, { largeblockok: false, embedok: false, compressok: false, rawok: false });

  const incr = parseTokenDump(sendCase('dump-incr').stdout);
  assert.equal(incr.toname, 'src/gone@b');
  assert.equal(incr.toguid, g.get('src/gone@b'));
  assert.equal(incr.fromguid, g.get('src/gone@a'));
  assert.equal(incr.fromname, 'src/gone@a');
  assert.equal(incr.size, 2237248n);

  const raw = parseTokenDump(sendCase('dump-raw').stdout);
  assert.deepEqual([raw.toname, raw.toguid, raw.fromguid], ['src/enc@a', g.get('src/enc@a'), null]);
  assert.deepEqual(raw.flags, { largeblockok: false, embedok: false, compressok: true, rawok: true });
  const rawBm = parseTokenDump(sendCase('dump-raw-bookmark').stdout);
  assert.deepEqual([rawBm.toguid, rawBm.fromguid, rawBm.flags.rawok], [g.get('src/enc@b'), g.get('src/enc#a'), true]);

  const vol = parseTokenDump(sendCase('dump-vol-bookmark').stdout);
  assert.deepEqual([vol.toname, vol.toguid, vol.fromguid, vol.fromname], ['src/vol@b', g.get('src/vol@b'), g.get('src/vol#a'), 'src/vol@a']);
  // Its `from` snapshot destroyed, the bookmark left: ZFS resolves the bookmark and can resume.
  const volGone = parseTokenDump(sendCase('dump-vol-bookmark-fromgone').stdout);
  assert.deepEqual([volGone.fromguid, volGone.fromname, volGone.size], [vol.fromguid, 'src/vol#a', 4914112n]);
  assert.equal(parseTokenDump(sendCase('dump-incr-snapfrom-bookmarked').stdout).fromname, 'src/gone2#a');

  const clone = parseTokenDump(sendCase('dump-clone').stdout);
  assert.deepEqual([clone.toname, clone.toguid, clone.fromguid, clone.fromname], ['src/clone@c1', g.get('src/clone@c1'), g.get('src/fs@a'), 'src/fs@a']);
});

test('dumps printed before ZFS refused to resume have contents but no size', () => {
  for (const name of ['resume-to-destroyed', 'resume-to-replaced', 'resume-from-destroyed']) {
    const c = sendCase(name);
    assert.equal(c.exitCode, 255, name);
    const d = parseTokenDump(c.stdout);
    assert.equal(d.size, null, name);
    assert.equal(d.fromname, null, name);
  }
  assert.equal(parseTokenDump(sendCase('resume-from-destroyed').stdout).fromguid, recordedGuids().get('src/plain@a'));
});

test('unknown shapes are errors, never guesses', () => {
  const good = sendCase('dump-incr').stdout;
  const variants = [
    '', 'nvlist version: 0\n', good.replace('resume token contents:', 'resume token:'), good.replace('nvlist version: 0', 'nvlist version: 1'),
    good.replace('\tembedok = 1', '\tembedok = 0'), good.replace('\tembedok = 1', '\tembedok = 1\n\tembedok = 1'),
    good.replace('\tcompressok = 1', '\tcompressok = 1\n\tsavedok = 1'), good.replace('\tcompressok = 1', '\tcompressok = 1\n\tredact_snaps = 0x1'),
    good.replace('toguid = 0x3d124c1d7f184fda', 'toguid = 3d124c1d7f184fda'), good.replace('toguid = 0x3d124c1d7f184fda', 'toguid = 0x13d124c1d7f184fda'),
    good.replace('\ttoguid = 0x3d124c1d7f184fda\n', ''), good.replace('\ttoname = src/gone@b\n', ''),
    good.replace('toname = src/gone@b', 'toname = src/gone'), good.replace('toname = src/gone@b', 'toname = -R src/gone@b'),
    good.replace('\tfromguid = 0x7ba46aaccbf40b68\n', ''), // incremental estimate without fromguid
    good.replace('incremental\tsrc/gone@a\tsrc/gone@b', 'incremental\tsrc/gone@a\tsrc/other@b'), good.replace('size\t2237248', 'size\tlots'),
    `${good}extra\n`, good.replace('\tobject', 'object'), good.replace('\tobject = 0x3', '\tobject = 0x3 trailing'),
  ];
  for (const v of variants) assert.throws(() => parseTokenDump(v), TokenDumpError, JSON.stringify(v.slice(0, 80)));
  // A full-stream estimate line for a token with a fromguid is a contradiction too.
  const fullDump = sendCase('dump-full').stdout.replace('\tobject', '\tfromguid = 0x1\n\tobject');
  assert.throws(() => parseTokenDump(fullDump), TokenDumpError);
});

// decodeResumeToken's glue (exit codes, which stream holds what), with a stand-in that replays a
// recorded case: no ZFS semantics, only the recorded bytes.
test('decodeResumeToken classifies recorded outcomes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-decode-'));
  const replay = (name: string): string => {
    const bin = path.join(dir, name);
    const base = path.join(fixtureDir, name);
    writeFileSync(bin, `#!/bin/sh\ncat '${base}.out' 2>/dev/null; cat '${base}.err' >&2 2>/dev/null; exit $(cat '${base}.exit')\n`);
    chmodSync(bin, 0o755);
    return bin;
  };
  const saved = process.env.QZB_ZFS;
  try {
    const t = recordedToken('cut-full');
    process.env.QZB_ZFS = replay('dump-full');
    const ok = await decodeResumeToken(t);
    assert.equal(ok.status, 'resumable');
    process.env.QZB_ZFS = replay('resume-to-destroyed');
    const gone = await decodeResumeToken(t);
    assert.equal(gone.status, 'not-resumable');
    assert.equal(gone.status === 'not-resumable' && gone.failure.kind, 'resume-to-missing');
    process.env.QZB_ZFS = replay('resume-from-destroyed');
    const from = await decodeResumeToken(t);
    assert.equal(from.status === 'not-resumable' && from.failure.kind, 'resume-from-missing');
    process.env.QZB_ZFS = replay('token-corrupt-payload');
    const corrupt = await decodeResumeToken(t);
    assert.equal(corrupt.status, 'corrupt');
    process.env.QZB_ZFS = replay('t-with-i'); // exit 2: not one of ours
    await assert.rejects(decodeResumeToken(t), ZfsCommandError);
    let commands = 0;
    await assert.rejects(decodeResumeToken('1-0-0-zz', { onCommand: () => commands++ }), ImplausibleTokenError);
    assert.equal(commands, 0, 'nothing runs for an implausible token');
  } finally {
    if (saved === undefined) delete process.env.QZB_ZFS;
    else process.env.QZB_ZFS = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('token flags against the lineage flags (recorded tokens)', async () => {
  const { tokenFlagsProblem } = await import('../../../dom0/zfs/resume-token.ts');
  const lce = { raw: false, largeBlocks: true, compressed: true, embedded: true };
  const lc = { ...lce, embedded: false };
  const raw = { raw: true, largeBlocks: true, compressed: true, embedded: false };
  const none = { raw: false, largeBlocks: false, compressed: false, embedded: false };
  const flags = (n: string) => parseTokenDump(sendCase(n).stdout).flags;
  // -L -c -e sends of datasets without large blocks: no largeblockok, still a fit.
  for (const n of ['dump-full', 'dump-incr', 'dump-vol-bookmark', 'dump-clone']) assert.equal(tokenFlagsProblem(flags(n), lce), null, n);
  assert.match(tokenFlagsProblem(flags('dump-full'), lc) ?? '', /embedded/);
  assert.match(tokenFlagsProblem(flags('dump-full'), raw) ?? '', /not of a raw/);
  assert.match(tokenFlagsProblem(flags('dump-full'), none) ?? '', /compressed/);
  for (const n of ['dump-raw', 'dump-raw-bookmark']) {
    assert.equal(tokenFlagsProblem(flags(n), raw), null, n);
    assert.match(tokenFlagsProblem(flags(n), lce) ?? '', /is of a raw/, n);
  }
  assert.equal(tokenFlagsProblem(flags('dump-plain'), none), null);
  assert.match(tokenFlagsProblem(flags('dump-plain'), lce) ?? '', /not of a compressed/);
  assert.match(tokenFlagsProblem({ largeblockok: true, embedok: false, compressok: true, rawok: false }, { ...lce, largeBlocks: false }) ?? '', /large-block/);
});
