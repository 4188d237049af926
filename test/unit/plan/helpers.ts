// Shared helpers for the planning tests: run both steps on a fixture and summarise the result.
import assert from 'node:assert/strict';
import type { Finding } from '../../../dom0/job/findings.ts';
import { computeTargets } from '../../../dom0/plan/targets.ts';
import type { TargetComputation } from '../../../dom0/plan/targets.ts';
import { resolveDesignations } from '../../../dom0/plan/resolve.ts';
import type { DesignationResolution } from '../../../dom0/plan/resolve.ts';
import type { Target } from '../../../dom0/plan/types.ts';
import type { JobSpec } from './fixtures.ts';
import { mkJob, sys } from './fixtures.ts';

/** Both planning steps' results and all their findings. */
export interface Run {
  res: DesignationResolution;
  tgt: TargetComputation;
  findings: Finding[];
}

// Resolves and plans a fixture system against a job spec.
export function plan(system: string, spec: JobSpec): Run {
  // The default receiver `backup` is added to the system unless the job names another one.
  const s = sys(system, { addReceiver: spec.receiver === undefined });
  const job = mkJob(spec);
  const res = resolveDesignations(job, s.qubes, s.zfs);
  const tgt = computeTargets(job, res.designations, s.qubes, s.zfs);
  return { res, tgt, findings: [...res.findings, ...tgt.findings] };
}

// "CODE/severity" for each finding, sorted (compact to compare in tables).
export function codes(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.code}/${f.severity}`).sort();
}

// The one finding with `code` (fails when there is none or several).
export function only(findings: readonly Finding[], code: string): Finding {
  const hits = findings.filter((f) => f.code === code);
  assert.equal(hits.length, 1, `expected one ${code}, got ${hits.length}: ${JSON.stringify(findings.map((f) => f.code))}`);
  return hits[0]!;
}

// "kind snapshot send" lines, e.g. "target tank/x@bk incr tank/x@a" (send: full | incr X | clone X).
export function lines(targets: readonly Target[]): string[] {
  return targets.map((t) => {
    const send = t.send.type === 'full' ? 'full' : t.send.type === 'incremental' ? `incr ${t.send.from}` : `clone ${t.send.origin}`;
    return `${t.kind} ${t.snapshot} ${send}${t.exists ? '' : ' pending'}`;
  });
}
