import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExpect, jsonSubsetMismatches } from '../../harness/expect.ts';

test('objects match by subset; extra actual keys are fine', () => {
  assert.deepEqual(jsonSubsetMismatches({ ok: true }, { ok: true, findings: [] }), []);
  assert.deepEqual(jsonSubsetMismatches({ ok: true, a: { b: 1 } }, { ok: true, a: { b: 1, c: 2 } }), []);
  assert.deepEqual(jsonSubsetMismatches({ ok: false }, { ok: true }), ['$.ok: expected false, got true']);
  assert.deepEqual(jsonSubsetMismatches({ missing: 1 }, {}), ['$.missing: missing (expected 1)']);
});

test('arrays: every expected element must match some actual element, in any order', () => {
  const findings = [
    { code: 'GROUP_UNUSED', severity: 'warning', message: 'x' },
    { code: 'NO_INCLUDE', severity: 'error', message: 'y' },
  ];
  assert.deepEqual(jsonSubsetMismatches([{ code: 'NO_INCLUDE' }, { code: 'GROUP_UNUSED' }], findings), []);
  assert.deepEqual(jsonSubsetMismatches([], findings), []);
  const m = jsonSubsetMismatches([{ code: 'QUBE_NOT_FOUND' }], findings);
  assert.equal(m.length, 1);
  assert.match(m[0]!, /^\$\[0\]: no element of the actual array matches/);
  assert.deepEqual(jsonSubsetMismatches([1], { 0: 1 }), ['$: expected an array, got {"0":1}']);
});

test('scalars match only identical values (no coercion)', () => {
  assert.deepEqual(jsonSubsetMismatches('1', 1), ['$: expected "1", got 1']);
  assert.deepEqual(jsonSubsetMismatches(null, null), []);
  assert.equal(jsonSubsetMismatches(null, {}).length, 1);
  assert.equal(jsonSubsetMismatches({}, null).length, 1);
});

test('checkExpect: exit, stdout/stderr substrings, json', () => {
  const got = { exit: 1, stdout: '{"ok":false,"findings":[{"code":"NO_INCLUDE"}]}', stderr: 'error: nothing included' };
  assert.deepEqual(checkExpect({ exit: 1, 'stdout-contains': ['NO_INCLUDE'], 'stderr-contains': ['nothing'], json: { ok: false, findings: [{ code: 'NO_INCLUDE' }] } }, got), []);
  assert.deepEqual(checkExpect({ exit: 0 }, got), ['exit: expected 0, got 1']);
  assert.deepEqual(checkExpect({ 'stdout-contains': ['nope'] }, got), ['stdout does not contain "nope"']);
  assert.deepEqual(checkExpect({ 'stdout-not-contains': ['ok'] }, got), ['stdout contains "ok"']);
  assert.deepEqual(checkExpect({ 'stderr-not-contains': ['nothing', 'absent'] }, got), ['stderr contains "nothing"']);
  assert.match(checkExpect({ json: {} }, { exit: 0, stdout: 'not json', stderr: '' })[0]!, /^json: stdout is not one JSON document/);
});

test('checkExpect: ndjson-last matches the last line, ndjson-contains any line, stdout-matches a regex', () => {
  const stdout = '{"event":"preflight","steps":[]}\n{"event":"step-start","snapshot":"p/a@l","resumed":true}\n\n{"event":"summary","exit":0,"steps":[{"snapshot":"p/a@l","action":"sent","resumed":true}]}\n';
  const got = { exit: 0, stdout, stderr: '' };
  assert.deepEqual(checkExpect({ 'ndjson-last': { event: 'summary', exit: 0, steps: [{ resumed: true }] }, 'ndjson-contains': [{ event: 'step-start', resumed: true }, { event: 'preflight' }] }, got), []);
  assert.deepEqual(checkExpect({ 'ndjson-last': { exit: 1 } }, got), ['ndjson-last $last.exit: expected 1, got 0']);
  assert.equal(checkExpect({ 'ndjson-contains': [{ event: 'step-failed' }] }, got)[0], 'ndjson-contains[0]: no line matches {"event":"step-failed"}');
  assert.match(checkExpect({ 'ndjson-last': {} }, { exit: 0, stdout: '{"a":1}\nnot json\n', stderr: '' })[0]!, /^ndjson: stdout is not NDJSON: line 2 is not JSON/);
  assert.deepEqual(checkExpect({ 'ndjson-last': {} }, { exit: 0, stdout: '\n', stderr: '' }), ['ndjson: stdout has no JSON lines']);
  assert.deepEqual(checkExpect({ 'stdout-matches': ['^[1-9][0-9]*$'] }, { exit: 0, stdout: '65536\n', stderr: '' }), []);
  assert.deepEqual(checkExpect({ 'stdout-matches': ['^[1-9][0-9]*$'] }, { exit: 0, stdout: '0\n', stderr: '' }), ['stdout does not match /^[1-9][0-9]*$/m']);
  assert.deepEqual(checkExpect({ 'stderr-matches': ['[Ff]ull', 'needs [0-9.]+ MiB'] }, { exit: 1, stdout: '', stderr: 'error: the pool is full; the step needs 6.1 MiB\n' }), []);
  assert.deepEqual(checkExpect({ 'stderr-matches': ['x'] }, { exit: 1, stdout: 'x', stderr: '' }), ['stderr does not match /x/m']);
});
