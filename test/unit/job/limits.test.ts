// Hostile sizes and shapes: they must return (promptly: run with --test-reporter spec to see the
// durations) with findings, never throw, never expand aliases into copies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadJob } from '../../../dom0/job/load.ts';
import { MAX_FILE_BYTES } from '../../../dom0/job/yaml-source.ts';
import { checkInvariants } from './invariants.ts';
import { seed } from './helpers.ts';
import { SEED_EXAMPLE } from './seed-example.ts';

// A deterministic pseudo-random generator, so failures can be reproduced.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function fill(alphabet: string, bytes: number, seed: number): string {
  const r = lcg(seed);
  let out = '';
  while (out.length < bytes) out += alphabet[Math.floor(r() * alphabet.length)];
  return out;
}

test('1 MiB of printable garbage returns with findings', () => {
  const text = fill('ab: -[]{}&*!|>\'"#%@`,?\n\t  ', MAX_FILE_BYTES, 1);
  const r = loadJob(text);
  checkInvariants(text, r);
  assert.ok(r.findings.length > 0);
});

test('1 MiB of random bytes returns with findings', () => {
  const r = lcg(2);
  let text = '';
  // Characters 0x80-0xFF take two bytes in UTF-8: half a mebi-character is about 1 MiB.
  while (text.length < MAX_FILE_BYTES / 2) text += String.fromCharCode(Math.floor(r() * 256));
  const res = loadJob(text);
  assert.equal(res.job, null);
  assert.equal(res.findings[0]!.code, 'YAML_SYNTAX');
});

test('1 MiB of YAML-shaped lines (a huge mapping) returns with a bounded list of findings', () => {
  let text = '';
  for (let i = 0; text.length < MAX_FILE_BYTES - 40; i++) text += `key${i}: [value, ${i}]\n`;
  const r = loadJob(text);
  checkInvariants(text, r);
  assert.equal(r.findings.at(-1)!.code, 'TOO_MANY_FINDINGS');
});

test('a job with a huge group (60 000 members) loads', () => {
  const members = Array.from({ length: 60000 }, (_, i) => `    - q${i}`).join('\n');
  const text = SEED_EXAMPLE.replace('    - video-editing', members);
  const r = loadJob(text);
  assert.deepEqual(r.findings, []);
  assert.equal(r.job!.groups.find((g) => g.name === 'misc')!.members.length, 60000);
});

test('an alias bomb ("billion laughs") is never expanded', () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const p = String.fromCharCode(96 + i);
    const n = String.fromCharCode(97 + i);
    levels.push(`${n}: &${n} [${Array(9).fill('*' + p).join(',')}]`);
  }
  const text = levels.join('\n') + '\n' + SEED_EXAMPLE.replace('name: mybackup1', 'name: *i') + 'bomb:\n  type: qubes\n  members: *i\n';
  const r = loadJob(text);
  checkInvariants(text, r);
  assert.ok(r.findings.some((f) => f.code === 'WRONG_TYPE' && f.subject === 'name'));
});

test('thousands of alias uses stop at the limit with one finding', () => {
  const many = Array(5000).fill('*q').join(', ');
  const text = seed('    - video-editing', '    - &q video-editing') + `more:\n  type: qubes\n  members: [${many}]\n`;
  const r = loadJob(text);
  checkInvariants(text, r);
  assert.equal(r.findings.filter((f) => f.code === 'YAML_UNSUPPORTED').length, 1);
});

test('deep nesting of every kind is refused or handled', () => {
  for (const text of ['['.repeat(200000), '{a: '.repeat(100000), '- '.repeat(300000) + 'x', Array.from({ length: 3000 }, (_, i) => ' '.repeat(i) + 'a:').join('\n'), 'a: ' + '['.repeat(64) + ']'.repeat(64)]) {
    const r = loadJob(text);
    checkInvariants(text, r);
    assert.ok(r.findings.length > 0);
  }
});

test('a file just over the limit is refused without being parsed', () => {
  const r = loadJob(SEED_EXAMPLE + '#'.repeat(MAX_FILE_BYTES));
  assert.deepEqual(r.findings.map((f) => f.code), ['FILE_TOO_LARGE']);
  assert.equal(loadJob('x'.repeat(50 * MAX_FILE_BYTES)).findings[0]!.code, 'FILE_TOO_LARGE');
});

// Issue 9 item 7: each merge of an anchored map re-reads all its keys, so the alias limit alone
// multiplies (a 60 000-key map merged ~990 times once ran 87 s into a V8 heap abort).
test('merge keys that multiply work (60k-key anchored map merged 990 times) stop fast with a finding', () => {
  const keys = Array.from({ length: 60_000 }, (_, i) => `  k${i}: v`).join('\n');
  const merges = Array.from({ length: 990 }, (_, i) => `g${i}:\n  <<: *b`).join('\n');
  const text = `base: &b\n${keys}\n${merges}\n`;
  assert.ok(text.length > 700_000 && text.length < MAX_FILE_BYTES, String(text.length));
  const started = Date.now();
  const r = loadJob(text);
  const ms = Date.now() - started;
  checkInvariants(text, r);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.ok(r.findings.some((f) => f.code === 'YAML_TOO_COMPLEX'), JSON.stringify(r.findings.slice(0, 3)));
});

test('an alias to a big list used many times counts all the work, not just the uses', () => {
  const members = Array.from({ length: 30_000 }, (_, i) => `q${i}`).join(', ');
  const groups = Array.from({ length: 900 }, (_, i) => `g${i}:\n  type: qubes\n  members: *m`).join('\n');
  const text = seed('void-groups: []', `void-groups: [${Array.from({ length: 900 }, (_, i) => `g${i}`).join(', ')}]`) + `big: &m [${members}]\n${groups}\n`;
  const started = Date.now();
  const r = loadJob(text);
  const ms = Date.now() - started;
  checkInvariants(text, r);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.ok(r.findings.some((f) => f.code === 'YAML_TOO_COMPLEX'), JSON.stringify(r.findings.slice(0, 3)));
});

// Issue 9 item 9: brackets inside quoted strings and comments are text, not nesting; and a quoted
// bracket must not cancel a real one (`["]",` repeated nests for real).
test('the bracket-depth guard counts real brackets only, not those in quotes or comments', () => {
  for (const text of ['a: ' + '["]",'.repeat(100_000), "a: " + "[']',".repeat(100_000), 'a: ' + '["\\"]",'.repeat(50_000), 'a: ' + '[{"}": '.repeat(50_000)]) {
    const r = loadJob(text);
    checkInvariants(text, r);
    assert.deepEqual(r.findings.map((f) => f.code), ['NESTING_TOO_DEEP'], text.slice(0, 40));
    assert.deepEqual([r.findings[0]!.line, (r.findings[0]!.column ?? 0) > 3], [1, true]);
  }
  // Brackets in quoted text, in comments and in plain words are not nesting: the file loads.
  const brackets = '['.repeat(200) + '{'.repeat(200);
  const text = seed('name: mybackup1', `name: mybackup1 # ${brackets}\n# ${brackets}`).replace('    - video-editing', `    - video-editing\n    - "${brackets}"\n    - '${brackets}'`);
  const r = loadJob(text);
  assert.ok(!r.findings.some((f) => f.code === 'NESTING_TOO_DEEP'), JSON.stringify(r.findings));
  assert.ok(r.findings.some((f) => f.code === 'INVALID_QUBE_NAME'));
});
