// send argv and the estimate parser vs real `zfs send -n -v -P` output (OpenZFS 2.3.2, fixtures/send/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateArgs, estimateRangeArgs, MAX_ESTIMATE_BYTES, parseEstimate, parseRangeEstimate, resumeArgs, sendArgs, type SendFlags } from '../../../dom0/zfs/send-args.ts';
import { ImplausibleTokenError } from '../../../dom0/zfs/resume-token.ts';
import { recordedToken, sendCase } from './send-fixtures.ts';

const plain: SendFlags = { raw: false, largeBlocks: true, compressed: true, embedded: true };
const raw: SendFlags = { raw: true, largeBlocks: true, compressed: true, embedded: false };

test('full, incremental, from-bookmark, clone and raw argv', () => {
  assert.deepEqual(sendArgs({ snapshot: 'tank/a@s', from: null, flags: plain }), ['send', '-L', '-c', '-e', 'tank/a@s']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/a@s2', from: 'tank/a@s1', flags: plain }), ['send', '-L', '-c', '-e', '-i', 'tank/a@s1', 'tank/a@s2']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/a@s2', from: 'tank/a#s1', flags: { ...plain, embedded: false } }), ['send', '-L', '-c', '-i', 'tank/a#s1', 'tank/a@s2']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/clone@c', from: 'tank/origin@o', flags: plain }), ['send', '-L', '-c', '-e', '-i', 'tank/origin@o', 'tank/clone@c']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/e@s', from: null, flags: raw }), ['send', '-w', 'tank/e@s']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/e@s2', from: 'tank/e#s1', flags: raw }), ['send', '-w', '-i', 'tank/e#s1', 'tank/e@s2']);
  assert.deepEqual(sendArgs({ snapshot: 'tank/with space@a b', from: null, flags: { raw: false, largeBlocks: false, compressed: false, embedded: false } }), ['send', 'tank/with space@a b']);
  assert.deepEqual(estimateArgs({ snapshot: 'tank/a@s2', from: 'tank/a@s1', flags: plain }), ['send', '-n', '-v', '-P', '-L', '-c', '-e', '-i', 'tank/a@s1', 'tank/a@s2']);
});

test('names that zfs could misread are refused', () => {
  for (const snapshot of ['tank/a', '-tank/a@s', '@s', 'tank/a@s@t', 'tank/a@s#t', 'tank/a#s', 'tank//a@s', 'tank/a@', 'tank/a@s\n']) {
    assert.throws(() => sendArgs({ snapshot, from: null, flags: plain }), /refusing/, snapshot);
  }
  // An incremental source must be fully qualified (zfs would otherwise "assume snapshot" with a warning).
  for (const from of ['@s1', '#s1', 's1', '-i', 'tank/a', 'tank/a@', 'tank/a#b@c']) {
    assert.throws(() => sendArgs({ snapshot: 'tank/a@s2', from, flags: plain }), /refusing/, from);
  }
});

test('resume argv is exactly send -t TOKEN, only for a plausible token', () => {
  const t = recordedToken('cut-full');
  assert.deepEqual(resumeArgs(t), ['send', '-t', t]);
  assert.throws(() => resumeArgs('-n'), ImplausibleTokenError);
  assert.throws(() => resumeArgs(`${t} -R`), ImplausibleTokenError);
});

test('estimates of every recorded kind of send', () => {
  const cases: [string, bigint][] = [
    ['est-full', 4215664n], ['est-incr', 4210544n], ['est-from-bookmark', 4210544n], ['est-raw-full', 4253552n],
    ['est-raw-bookmark', 4247408n], ['est-clone', 4210544n], ['est-vol-bookmark', 6400992n],
    ['est-raw-plus-lce', 4253552n], ['est-raw-unencrypted', 4215664n],
    // a resume's dry run: the token dump, then what remains
    ['dump-full', 2767880n], ['dump-incr', 2237248n], ['dump-raw', 2804284n], ['dump-clone', 2762784n],
  ];
  for (const [name, bytes] of cases) {
    const c = sendCase(name);
    assert.equal(c.exitCode, 0, name);
    assert.equal(parseEstimate(c.stdout), bytes, name);
  }
});

test('no estimate, or an unbelievable one, is null', () => {
  assert.equal(parseEstimate(sendCase('est-human').stdout), null); // the non -P form is not parsed
  assert.equal(parseEstimate(sendCase('resume-to-destroyed').stdout), null); // contents but no estimate
  assert.equal(parseEstimate(''), null);
  assert.equal(parseEstimate(`size\t${MAX_ESTIMATE_BYTES + 1n}\n`), null);
  assert.equal(parseEstimate(`size\t${MAX_ESTIMATE_BYTES}\n`), MAX_ESTIMATE_BYTES);
  assert.equal(parseEstimate('size\t99999999999999999999999\n'), null);
  assert.equal(parseEstimate('full\tp/a@x\t10\nincremental\tp/a@x\tp/a@y\t5\n'), 15n); // without a size line: the sum
  assert.equal(parseEstimate('size\t-1\n'), null);
});

test('range dry run: argv, and its per-pair lines parsed from real -I output (short from, full to; a gap skipped)', () => {
  assert.deepEqual(estimateRangeArgs('rg/vol@a', 'rg/vol@d', plain), ['send', '-n', '-v', '-P', '-L', '-c', '-e', '-I', 'rg/vol@a', 'rg/vol@d']);
  assert.deepEqual(estimateRangeArgs('rg/e@a', 'rg/e@d', raw), ['send', '-n', '-v', '-P', '-w', '-I', 'rg/e@a', 'rg/e@d']);
  assert.throws(() => estimateRangeArgs('rg/vol#a', 'rg/vol@d', plain), /refusing/);
  assert.throws(() => estimateRangeArgs('rg/a@a', 'rg/b@d', plain), /two datasets/);
  assert.throws(() => estimateRangeArgs('-rg/vol@a', 'rg/vol@d', plain), /refusing/);
  const range = parseRangeEstimate(sendCase('est-range').stdout, 'rg/vol');
  assert.deepEqual([...range], [['rg/vol@a>rg/vol@b', 140336n], ['rg/vol@b>rg/vol@c', 140336n], ['rg/vol@c>rg/vol@d', 140336n]]);
  assert.deepEqual([...parseRangeEstimate(sendCase('est-range-gap').stdout, 'rg/vol')], [['rg/vol@a>rg/vol@c', 140336n], ['rg/vol@c>rg/vol@d', 140336n]]);
  // The single incremental over the same range is NOT the sum of its pairs (blocks rewritten).
  assert.equal(parseEstimate(sendCase('est-range-single').stdout), 140336n);
  assert.equal(sendCase('est-range-from-bookmark').exitCode, 1);
  assert.equal(parseRangeEstimate(sendCase('est-range-from-bookmark').stdout, 'rg/vol').size, 0);
  // Another dataset's lines, a size beyond the cap and garbage are left out.
  assert.equal(parseRangeEstimate(`incremental\ta\tother/ds@b\t5\nincremental\ta\trg/vol@b\t${MAX_ESTIMATE_BYTES + 1n}\nincremental\ta\trg/vol@b\tx\n`, 'rg/vol').size, 0);
});
