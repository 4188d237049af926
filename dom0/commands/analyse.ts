// Shared by check, import, calc and snapshot: job text → findings, and when a job was built and
// the system could be read, designations and targets (collect first, then the pure core once).
import { isQzbError } from '../../shared/errors.ts';
import { isSameOrDescendant, parentOf } from '../../shared/zfs-names.ts';
import { finding, type Finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { QubesInventory, ZfsInventory } from '../inventory/types.ts';
import type { ResolvedDesignation, Target } from '../plan/types.ts';
import { qubeRoots } from '../snapshot/owners.ts';
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
}

// Loads the job text, reads the system, and runs the planning core.
export async function analyseJob(text: string, ctx: Context): Promise<Analysis> {
  const loaded = ctx.core.loadJob(text);
  const out: Analysis = { job: loaded.job, findings: [...loaded.findings], designations: [], targets: [], undesignated: { qubes: [], datasets: [] } };
  if (!loaded.job) return out;
  let zfs: ZfsInventory;
  let qubes: QubesInventory;
  try {
    [qubes, zfs] = await Promise.all([ctx.system.collectQubes(), ctx.system.collectZfs()]);
  } catch (e) {
    if (!isQzbError(e)) throw e;
    const hint = e.hint ? ` ${e.hint}` : '';
    out.findings.push(finding(e.code, 'error', `Could not read the system, so the job could not be checked against it: ${e.message}.${hint}`));
    return out;
  }
  out.zfs = zfs;
  out.qubes = qubes;
  const resolved = ctx.core.resolveDesignations(loaded.job, qubes, zfs);
  out.designations = resolved.designations;
  out.findings.push(...resolved.findings);
  const computed = ctx.core.computeTargets(loaded.job, resolved.designations, qubes, zfs);
  out.targets = computed.targets;
  out.findings.push(...computed.findings);
  out.undesignated = undesignated(loaded.job, resolved.designations, qubes, zfs);
  return out;
}

/** The Qubes zfs driver's work datasets under a container. */
const DRIVER_WORK_DATASETS = ['.tmp', '.exported', '.importing'];

// Qubes no group mentions (but the receiver), and the top-most datasets outside every designation (not a qube's).
export function undesignated(job: Job, designations: readonly ResolvedDesignation[], qubes: QubesInventory, zfs: ZfsInventory): { qubes: string[]; datasets: string[] } {
  const mentioned = new Set(job.groups.filter((g) => g.type === 'qubes').flatMap((g) => g.members.map((m) => m.value)));
  mentioned.add(job.receiver.qube); // the receiver is where the backup goes, not a source
  const qubeNames = qubes.qubes.map((q) => q.name).filter((n) => !mentioned.has(n)).sort();
  const roots = qubeRoots(qubes, zfs).flatMap((r) => r.roots);
  const containers = qubes.pools.map((p) => p.container).filter((c): c is string => c !== undefined);
  const work = containers.flatMap((c) => DRIVER_WORK_DATASETS.map((w) => `${c}/${w}`));
  const designated = designations.map((d) => d.dataset);
  const outside = (name: string): boolean =>
    !designated.some((d) => isSameOrDescendant(name, d) || isSameOrDescendant(d, name))
    && !roots.some((r) => isSameOrDescendant(name, r) || isSameOrDescendant(r, name))
    && !work.some((w) => isSameOrDescendant(name, w));
  const datasets = zfs.datasets.map((d) => d.name).filter((name) => {
    if (!outside(name)) return false;
    const parent = parentOf(name);
    return parent === null || !outside(parent);
  });
  return { qubes: qubeNames, datasets };
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
