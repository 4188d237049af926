// What must hold for every loadJob result, whatever the input: well-formed findings, and a Job
// without errors that really is valid.
import assert from 'node:assert/strict';
import { JOB_CODES } from '../../../dom0/job/codes.ts';
import { hasErrors } from '../../../dom0/job/findings.ts';
import type { LoadResult } from '../../../dom0/job/load.ts';
import { datasetProblem, jobNameProblem, labelProblem, qubeNameProblem } from '../../../dom0/job/values.ts';

/** Checks the invariants of one result; `text` is the input (for positions). */
export function checkInvariants(text: string, r: LoadResult): void {
  assert.ok(Array.isArray(r.findings));
  const lineCount = text.split('\n').length;
  for (const f of r.findings) {
    const info = (JOB_CODES as Record<string, { severity: string } | undefined>)[f.code];
    assert.ok(info, `unknown code ${f.code}`);
    assert.notEqual(f.code, 'INTERNAL_ERROR', f.message);
    assert.equal(f.severity, info.severity, f.code);
    assert.ok(typeof f.message === 'string' && f.message.length > 10, f.code);
    if (f.line !== undefined) {
      assert.ok(Number.isInteger(f.line) && f.line >= 1 && f.line <= lineCount + 1, `${f.code} line ${f.line}`);
      assert.ok(Number.isInteger(f.column) && f.column! >= 1, `${f.code} column ${f.column}`);
    }
  }
  if (r.job === null) {
    assert.ok(hasErrors(r.findings), 'a null job always comes with an error');
    return;
  }
  if (hasErrors(r.findings)) return;
  // No errors: the Job is complete and valid.
  const j = r.job;
  assert.equal(j.invalid, undefined);
  assert.equal(jobNameProblem(j.name), null);
  assert.equal(labelProblem(j.scope.targetSnapshot, 'target-snapshot'), null);
  assert.ok(j.scope.since === 'beginning' || labelProblem(j.scope.since, 'since') === null);
  assert.notEqual(j.scope.since, j.scope.targetSnapshot);
  assert.equal(qubeNameProblem(j.receiver.qube), null);
  assert.equal(datasetProblem(j.receiver.dataset), null);
  const names = new Set(j.groups.map((g) => g.name));
  const refs = [...j.includeGroups, ...j.forgoGroups, ...j.voidGroups].map((g) => g.name);
  for (const ref of refs) assert.ok(names.has(ref), `undefined group ${ref}`);
  assert.equal(new Set(refs).size, refs.length, 'a group in two lists');
  assert.ok(j.includeGroups.some((g) => (j.groups.find((x) => x.name === g.name)?.members.length ?? 0) > 0), 'something included');
  for (const g of j.groups) {
    for (const m of g.members) {
      assert.equal(g.type === 'qubes' ? qubeNameProblem(m.value) : datasetProblem(m.value), null, m.value);
      assert.notEqual(m.value, 'dom0');
    }
  }
}
