import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitArgv } from '../../harness/argv.ts';

test('splits on blanks and keeps quoted words whole', () => {
  assert.deepEqual(splitArgv('check backup1.yaml --json'), ['check', 'backup1.yaml', '--json']);
  assert.deepEqual(splitArgv("  check   'my job.yaml'\t--json "), ['check', 'my job.yaml', '--json']);
  assert.deepEqual(splitArgv('send "a b" c'), ['send', 'a b', 'c']);
});

test('quotes join with adjacent text and empty quotes give an empty argument', () => {
  assert.deepEqual(splitArgv(`a'b c'"d"e`), ['ab cde']);
  assert.deepEqual(splitArgv(`x '' ""`), ['x', '', '']);
});

test('backslashes escape outside quotes; inside double quotes only \\ " $ ` escape', () => {
  assert.deepEqual(splitArgv('a\\ b c'), ['a b', 'c']);
  assert.deepEqual(splitArgv('"a\\"b" "c\\d"'), ['a"b', 'c\\d']);
  assert.deepEqual(splitArgv("'no\\escape'"), ['no\\escape']);
});

test('no expansion: $, *, ~ and operators stay literal', () => {
  assert.deepEqual(splitArgv('$HOME * ~ a|b >out'), ['$HOME', '*', '~', 'a|b', '>out']);
});

test('unterminated quotes and a trailing backslash are errors', () => {
  assert.throws(() => splitArgv("a 'b"), /unterminated '/);
  assert.throws(() => splitArgv('a "b'), /unterminated "/);
  assert.throws(() => splitArgv('a \\'), /trailing backslash/);
});
