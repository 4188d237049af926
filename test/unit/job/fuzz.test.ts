// loadJob never throws, whatever the input: random text, YAML-like token soup, and mutations of the
// seed's example (deleted and swapped lines, values of the wrong type, garbage bytes, truncation).
// Broken inputs always come back with findings; inputs without errors give a valid Job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hasErrors } from '../../../dom0/job/findings.ts';
import { loadJob } from '../../../dom0/job/load.ts';
import { checkInvariants } from './invariants.ts';
import { SEED_EXAMPLE } from './seed-example.ts';

const RUNS = { numRuns: 300 };
const LINES = SEED_EXAMPLE.split('\n');

function run(text: string): ReturnType<typeof loadJob> {
  let r: ReturnType<typeof loadJob> | undefined;
  assert.doesNotThrow(() => {
    r = loadJob(text);
  });
  checkInvariants(text, r!);
  return r!;
}

const TOKENS = [
  ':', ': ', '-', '- ', ' ', '  ', '\n', '\n  ', '\n    - ', '[', ']', '{', '}', ',', '&a ', '*a', '&b ', '*b', '<<: ', '"', "'",
  '#', '!!str ', '!!binary ', '!x ', 'yes', 'no', '~', '1', '0x1F', '2025-04-14', '1:20', 'name', 'scope', 'since', 'members',
  'type', 'qubes', 'datasets', 'include-groups', 'void-groups', 'receiver', '"@x"', '@x', '---\n', '...\n', '|\n  ', '>\n  ',
  '? ', '%YAML 1.1\n', '\t', 'dom0', 'mainpool/dom0', 'beginning', '\u00e9', '\uD83D\uDE00', '\r\n',
];

test('random strings never make loadJob throw', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => void run(s)), RUNS);
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => void run(s)), RUNS);
});

test('YAML token soup never makes loadJob throw', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 120 }), (t) => void run(t.join(''))), { numRuns: 1000 });
});

test('token soup appended to or spliced into the seed example', () => {
  fc.assert(
    fc.property(fc.nat(SEED_EXAMPLE.length), fc.array(fc.constantFrom(...TOKENS), { maxLength: 20 }), (at, t) => {
      void run(SEED_EXAMPLE.slice(0, at) + t.join('') + SEED_EXAMPLE.slice(at));
    }),
    { numRuns: 400 },
  );
});

// Lines whose removal always breaks the job: everything but blanks, comments and single members
// (removing one member of a group is a valid edit).
const ESSENTIAL = LINES.map((l, i) => ({ l, i })).filter(({ l }) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('    - '));

test('deleting any essential line of the seed example is reported', () => {
  for (const { i, l } of ESSENTIAL) {
    const text = LINES.filter((_, j) => j !== i).join('\n');
    const r = run(text);
    assert.ok(r.findings.length > 0, `deleting line ${i + 1} (${l}) went unnoticed`);
  }
});

test('deleting random sets of lines, and swapping lines, never throws', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat(LINES.length - 1), { maxLength: 10 }), (drop) => {
      void run(LINES.filter((_, j) => !drop.includes(j)).join('\n'));
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.nat(LINES.length - 1), fc.nat(LINES.length - 1), (a, b) => {
      const l = [...LINES];
      [l[a], l[b]] = [l[b]!, l[a]!];
      void run(l.join('\n'));
    }),
    RUNS,
  );
});

// Every `key: value` of the seed with a scalar value, and replacements of another kind.
const SCALARS = LINES.map((l, i) => ({ i, m: /^(\s*[\w-]+:) (.+)$/.exec(l) })).filter((x) => x.m !== null && x.m[2] !== '[]');
const OTHER_KINDS: Record<string, string[]> = {
  text: ['yes', '12', '[a]', '{a: 1}', '~', '2025-04-14'],
  boolean: ['"yes"', '"no"', '1', 'maybe', '[yes]', '{}', '~', '"true"'],
};

test('a value of the wrong kind anywhere in the seed example is reported', () => {
  for (const { i, m } of SCALARS) {
    const value = m![2]!;
    const kind = /^(yes|no)$/.test(value) ? 'boolean' : 'text';
    for (const other of OTHER_KINDS[kind]!) {
      const l = [...LINES];
      l[i] = `${m![1]} ${other}`;
      const r = run(l.join('\n'));
      assert.ok(hasErrors(r.findings), `line ${i + 1} as "${l[i]}" went unnoticed: ${JSON.stringify(r.findings)}`);
    }
  }
});

test('a garbage byte injected anywhere in the seed example is reported', () => {
  fc.assert(
    fc.property(fc.nat(SEED_EXAMPLE.length), fc.constantFrom('\u0000', '\u0007', '\u001b', '\u007f', '\u0085\u0000', '\uFFFE', '\uD800'), fc.string({ unit: 'binary', maxLength: 8 }), (at, bad, extra) => {
      const r = run(SEED_EXAMPLE.slice(0, at) + extra + bad + SEED_EXAMPLE.slice(at));
      assert.ok(hasErrors(r.findings));
    }),
    RUNS,
  );
});

test('truncating the seed example before its last group is reported', () => {
  const lastGroup = SEED_EXAMPLE.indexOf('system:\n');
  for (let at = 0; at < lastGroup; at++) {
    if (SEED_EXAMPLE.slice(at).startsWith('    - ') || /^\s*$/.test(SEED_EXAMPLE.slice(at, lastGroup))) continue;
    const r = run(SEED_EXAMPLE.slice(0, at));
    assert.ok(r.findings.length > 0, `truncated at ${at} went unnoticed`);
  }
  fc.assert(fc.property(fc.nat(SEED_EXAMPLE.length), (at) => void run(SEED_EXAMPLE.slice(0, at))), RUNS);
});
