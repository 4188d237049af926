// `expect:` on a step: exit status, substrings of stdout/stderr, and a subset match of stdout parsed
// as JSON. Pure functions (the guest executor bundles this file; the unit tests import it).
//
// JSON subset rules (documented in test/harness/README.md):
// - an expected object matches an actual object that has every expected key with a matching value
//   (extra actual keys are fine);
// - an expected array matches an actual array when every expected element matches SOME actual element
//   (order-free containment; extra actual elements are fine; two expected elements may match the same
//   actual one);
// - strings, numbers, booleans and null match only an identical value (no coercion: "1" ≠ 1).

export interface ExpectSpec {
  exit?: number;
  'stdout-contains'?: string[];
  'stdout-not-contains'?: string[];
  'stderr-contains'?: string[];
  'stderr-not-contains'?: string[];
  /** Regular expressions (JavaScript syntax, multiline flag) stdout must match. */
  'stdout-matches'?: string[];
  /** The same for stderr. */
  'stderr-matches'?: string[];
  json?: unknown;
  /** stdout as NDJSON (one JSON value per non-empty line): the LAST line must contain this subset. */
  'ndjson-last'?: unknown;
  /** stdout as NDJSON: every expected element must match (subset) SOME line, in any order. */
  'ndjson-contains'?: unknown[];
}

export interface StepOutcome {
  exit: number;
  stdout: string;
  stderr: string;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Where `expected` is not a subset of `actual`: a list of "path: why" strings, empty on a match. */
export function jsonSubsetMismatches(expected: unknown, actual: unknown, path = '$'): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${show(actual)}`];
    const out: string[] = [];
    expected.forEach((e, i) => {
      if (!actual.some((a) => jsonSubsetMismatches(e, a).length === 0)) {
        out.push(`${path}[${i}]: no element of the actual array matches ${show(e)}`);
      }
    });
    return out;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object, got ${show(actual)}`];
    const out: string[] = [];
    for (const [k, v] of Object.entries(expected)) {
      const sub = `${path}.${k}`;
      if (!Object.prototype.hasOwnProperty.call(actual, k)) out.push(`${sub}: missing (expected ${show(v)})`);
      else out.push(...jsonSubsetMismatches(v, (actual as Record<string, unknown>)[k], sub));
    }
    return out;
  }
  return Object.is(expected, actual) ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
}

/** stdout split into NDJSON values (non-empty lines); a line that is not JSON is an error. */
export function parseNdjson(stdout: string): { values: unknown[]; error?: string } {
  const values: unknown[] = [];
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  for (const [i, l] of lines.entries()) {
    try {
      values.push(JSON.parse(l));
    } catch (e) {
      return { values, error: `line ${i + 1} is not JSON (${(e as Error).message}): ${show(l)}` };
    }
  }
  return { values };
}

/** Checks one step's outcome against its `expect`; returns the failures (empty = held). */
export function checkExpect(spec: ExpectSpec, got: StepOutcome): string[] {
  const failures: string[] = [];
  if (spec.exit !== undefined && spec.exit !== got.exit) failures.push(`exit: expected ${spec.exit}, got ${got.exit}`);
  for (const s of spec['stdout-contains'] ?? []) if (!got.stdout.includes(s)) failures.push(`stdout does not contain ${show(s)}`);
  for (const s of spec['stdout-not-contains'] ?? []) if (got.stdout.includes(s)) failures.push(`stdout contains ${show(s)}`);
  for (const s of spec['stderr-contains'] ?? []) if (!got.stderr.includes(s)) failures.push(`stderr does not contain ${show(s)}`);
  for (const s of spec['stderr-not-contains'] ?? []) if (got.stderr.includes(s)) failures.push(`stderr contains ${show(s)}`);
  for (const stream of ['stdout', 'stderr'] as const) {
    for (const re of spec[`${stream}-matches`] ?? []) {
      let rx: RegExp;
      try {
        rx = new RegExp(re, 'm');
      } catch (e) {
        failures.push(`${stream}-matches: ${show(re)} is not a regular expression (${(e as Error).message})`);
        continue;
      }
      if (!rx.test(got[stream])) failures.push(`${stream} does not match /${re}/m`);
    }
  }
  if (spec['ndjson-last'] !== undefined || spec['ndjson-contains'] !== undefined) {
    const { values, error } = parseNdjson(got.stdout);
    if (error) failures.push(`ndjson: stdout is not NDJSON: ${error}`);
    else if (values.length === 0) failures.push('ndjson: stdout has no JSON lines');
    else {
      if (spec['ndjson-last'] !== undefined) failures.push(...jsonSubsetMismatches(spec['ndjson-last'], values[values.length - 1], '$last').map((m) => `ndjson-last ${m}`));
      for (const [i, e] of (spec['ndjson-contains'] ?? []).entries()) {
        if (!values.some((v) => jsonSubsetMismatches(e, v).length === 0)) failures.push(`ndjson-contains[${i}]: no line matches ${show(e)}`);
      }
    }
  }
  if (spec.json !== undefined) {
    let parsed: unknown;
    let ok = true;
    try {
      parsed = JSON.parse(got.stdout);
    } catch (e) {
      ok = false;
      failures.push(`json: stdout is not one JSON document (${(e as Error).message})`);
    }
    if (ok) failures.push(...jsonSubsetMismatches(spec.json, parsed).map((m) => `json ${m}`));
  }
  return failures;
}
