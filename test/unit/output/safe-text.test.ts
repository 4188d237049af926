// The sanitiser itself: what it escapes, how it bounds, and that safe text passes unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MESSAGE_CHARS, escapeJsonInvisibles, hasUnsafeChars, printSafe, printSafeDeep, printSafeLines, terminalSafe } from '../../../dom0/output/safe-text.ts';
import { toJson } from '../../../dom0/output/json.ts';
import { makeStyle } from '../../../dom0/output/style.ts';

test('controls, bidi, invisible characters, separators and lone surrogates are shown escaped', () => {
  assert.equal(printSafe('a\u001b[2Jb\u0007\r\n\t\u007f\u009b'), 'a\\x1b[2Jb\\x07\\x0d\\x0a\\x09\\x7f\\x9b');
  assert.equal(printSafe('\u202a\u202e\u2066\u2069\u200b\u200f\u2060\u2064\ufeff\u2028\u2029\u00ad'), '\\u202a\\u202e\\u2066\\u2069\\u200b\\u200f\\u2060\\u2064\\ufeff\\u2028\\u2029\\xad');
  assert.equal(printSafe('x\ud800y\udc00'), 'x\\ud800y\\udc00');
  assert.equal(printSafe('tag\u{e0041}'), 'tag\\u{e0041}');
  // Safe text, including non-ASCII letters and astral characters, is unchanged.
  for (const s of ['tank/qubes/work@backup-1', 'ünïcödé ñame', 'emoji 😀', '']) assert.equal(printSafe(s), s);
  assert.equal(hasUnsafeChars(printSafe('\u001b\u202e\ud800')), false);
});

test('a long message is cut with a marker saying how much, within the bound, once', () => {
  const cutCount = (out: string): number => Number(/… \[(\d+) more characters cut\]$/.exec(out)?.[1] ?? NaN);
  const long = 'a'.repeat(500_000);
  const out = printSafe(long);
  assert.ok(out.length <= MAX_MESSAGE_CHARS && out.startsWith('a'.repeat(1900)), String(out.length));
  assert.equal(out.indexOf('…') + cutCount(out), 500_000);
  assert.equal(printSafe(out), out);
  // Escapes count towards the bound; the cut never splits an escape or a surrogate pair.
  const evil = printSafe('\u001b'.repeat(10_000));
  assert.ok(evil.length <= MAX_MESSAGE_CHARS);
  const shown = evil.slice(0, evil.indexOf('…'));
  assert.match(shown, /^(\\x1b)+$/);
  assert.equal(shown.length / 4 + cutCount(evil), 10_000);
  assert.equal(printSafe(evil), evil);
  const pairs = printSafe('😀'.repeat(5000), 11);
  assert.equal(pairs, '😀'.repeat(5) + '… [9990 more characters cut]');
  assert.equal(printSafe('short', 5), 'short');
  // Exactly at the bound: nothing cut.
  assert.equal(printSafe('b'.repeat(MAX_MESSAGE_CHARS)), 'b'.repeat(MAX_MESSAGE_CHARS));
});

test('multi-line text keeps line feeds; terminalSafe keeps only the Style colours', () => {
  assert.equal(printSafeLines('a\u001b\nb\r\n'), 'a\\x1b\nb\\x0d\n');
  assert.equal(printSafeLines(`${'x'.repeat(30)}\ny`, 10), `${'x'.repeat(10)}… [20 more characters cut]\ny`);
  const style = makeStyle(true);
  const text = `${style.red('error:')} a\u001b]0;t\u0007 ${style.bold('b')}\n`;
  assert.equal(terminalSafe(text, true), `${style.red('error:')} a\\x1b]0;t\\x07 ${style.bold('b')}\n`);
  assert.equal(terminalSafe(text, false), '\\x1b[31merror:\\x1b[39m a\\x1b]0;t\\x07 \\x1b[1mb\\x1b[22m\n');
});

test('printSafeDeep copies a result with every string and key safe; JSON stays exact', () => {
  const v = { a: ['\u001b', 1, 2n, null, true], '\u202ek': { b: 'ok' }, commands: ['z'.repeat(3000)] };
  assert.deepEqual(printSafeDeep(v), { a: ['\\x1b', 1, 2n, null, true], '\\u202ek': { b: 'ok' }, commands: ['z'.repeat(3000)] });
  const value = { m: 'a\u001b\u0085\u007f\u202e\u2028\ud800b', n: 18446744073709551615n, commands: ['c'.repeat(3000)], long: 'l'.repeat(3000) };
  const json = toJson(value);
  assert.equal(hasUnsafeChars(json.replace(/\n/g, '')), false);
  const back = JSON.parse(json) as Record<string, unknown>;
  assert.equal(back.m, value.m);
  assert.equal(back.n, '18446744073709551615');
  assert.deepEqual(back.commands, value.commands);
  assert.match(back.long as string, /^l{1900,}… \[\d+ more characters cut\]$/);
  assert.ok((back.long as string).length <= MAX_MESSAGE_CHARS);
  assert.equal(escapeJsonInvisibles('{\n  "a": "\u202e"\n}'), '{\n  "a": "\\u202e"\n}');
});
