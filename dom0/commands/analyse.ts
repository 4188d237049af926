// Shared by check, import, calc and snapshot: job text → findings, and when a job was built and
// the system could be read, designations and targets (collect first, then the pure core once).
import { isQzbError } from '../../shared/errors.ts';
import { finding, type Finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { QubesInventory, ZfsInventory } from '../inventory/types.ts';
import type { ResolvedDesignation, Target } from '../plan/types.ts';
import type { Context } from './context.ts';

// What the job means on this system, with every finding.
export interface Analysis {
  job: Job | null;
  findings: Finding[];
  designations: ResolvedDesignation[];
  targets: Target[];
  /** Undefined when the system could not be read. */
  zfs?: ZfsInventory;
  qubes?: QubesInventory;
  undesignated: { qubes: string[]; datasets: string[] };
  /** Why the system checks did not run: every failure to read qubesd or zfs (also in `findings`,
   *  as errors with `details.system: true`), or none when they ran or were not asked for. */
  systemFailures: Finding[];
  /** Whether the system was left unread on purpose (`check --file-only`). */
  fileOnly: boolean;
}

// Options of analyseJob.
export interface AnalyseOptions {
  /** Check the job file alone: never read qubesd or zfs. */
  fileOnly?: boolean;
  /** The same text already loaded (ctx.core.loadJob): not parsed again. */
  loaded?: ReturnType<Context['core']['loadJob']>;
}

// One failure to read the system as an error finding: what could not be read and why, with the
// hint in details (so renderers can show it on its own line).
export function systemFailure(source: 'qubesd' | 'zfs', e: { code: string; message: string; hint?: string | undefined }): Finding {
  return finding(e.code, 'error', e.message, { subject: source, details: { system: true, ...(e.hint ? { hint: e.hint } : {}) } });
}

// Loads the job text, reads the system (qubesd and zfs both, so every failure is reported), and
// runs the planning core.
export async function analyseJob(text: string, ctx: Context, options: AnalyseOptions = {}): Promise<Analysis> {
  const loaded = options.loaded ?? ctx.core.loadJob(text);
  const out: Analysis = { job: loaded.job, findings: [...loaded.findings], designations: [], targets: [], undesignated: { qubes: [], datasets: [] }, systemFailures: [], fileOnly: options.fileOnly === true };
  if (!loaded.job || options.fileOnly) return out;
  const [q, z] = await Promise.allSettled([ctx.system.collectQubes(), ctx.system.collectZfs()]);
  for (const [source, r] of [['qubesd', q], ['zfs', z]] as const) {
    if (r.status === 'fulfilled') continue;
    if (!isQzbError(r.reason)) throw r.reason;
    out.systemFailures.push(systemFailure(source, r.reason));
  }
  if (q.status === 'rejected' || z.status === 'rejected') {
    out.findings.push(...out.systemFailures);
    return out;
  }
  const qubes: QubesInventory = q.value;
  const zfs: ZfsInventory = z.value;
  out.zfs = zfs;
  out.qubes = qubes;
  const resolved = ctx.core.resolveDesignations(loaded.job, qubes, zfs);
  out.designations = resolved.designations;
  out.findings.push(...resolved.findings);
  const computed = ctx.core.computeTargets(loaded.job, resolved.designations, qubes, zfs);
  out.targets = computed.targets;
  out.findings.push(...computed.findings);
  out.undesignated = undesignated(resolved.findings);
  return out;
}

// The omission lists, taken from the planner's own findings so that `check` shows one truth:
// qubes no group mentions (QUBE_UNDESIGNATED) and the top-most dataset subtrees outside every
// designation (DATASET_UNDESIGNATED, plus undesignated parents of designations).
export function undesignated(findings: readonly Finding[]): { qubes: string[]; datasets: string[] } {
  const list = (code: string, key: string): string[] => {
    const value = findings.find((f) => f.code === code)?.details?.[key];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  };
  const datasets = [...list('DATASET_UNDESIGNATED', 'datasets'), ...list('DATASET_UNDESIGNATED', 'undesignatedParents')];
  return { qubes: list('QUBE_UNDESIGNATED', 'qubes'), datasets: [...new Set(datasets)].sort() };
}

/** Counts for the target summary. */
export interface TargetSummary {
  datasets: number;
  snapshots: number;
  byKind: { target: number; intermediate: number; origin: number };
  existing: number;
  /** Target snapshots that do not exist yet (the `snapshot` command's work). */
  pending: number;
}

// Summarises a target list.
export function summariseTargets(targets: readonly Target[]): TargetSummary {
  const byKind = { target: 0, intermediate: 0, origin: 0 };
  for (const t of targets) byKind[t.kind]++;
  return {
    datasets: new Set(targets.map((t) => t.dataset)).size,
    snapshots: targets.length,
    byKind,
    existing: targets.filter((t) => t.exists).length,
    pending: targets.filter((t) => !t.exists).length,
  };
}
