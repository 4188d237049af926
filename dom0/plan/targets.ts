// SPEC §4.3–4.8: include designations → backup targets (fully-qualified snapshots, in send order),
// with the findings only the target list can decide (since, pending snapshots, qubes in use).
import type { Finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { QubesInventory, ZfsInventory } from '../inventory/types.ts';
import type { DatasetIndex } from './dataset-index.ts';
import { indexDatasets, nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import { designationMaps } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import { layoutOf } from './qubes-layout.ts';
import type { DatasetPlan } from './chains.ts';
import { buildChain, findSnapshot, insertOrigin } from './chains.ts';
import { includeWithoutTargets } from './include-effect.ts';
import { orderPlans } from './order.ts';
import { structuralExclusion, selectTargetDatasets } from './target-datasets.ts';
import type { TargetSelection } from './target-datasets.ts';
import { targetFindings } from './target-findings.ts';
import type { ChainFacts } from './target-findings.ts';
import type { ExcludedDataset, ResolvedDesignation, SendType, Target } from './types.ts';

/** computeTargets' result. */
export interface TargetComputation {
  /** Every snapshot to send, in send order. */
  targets: Target[];
  findings: Finding[];
  /** Datasets inside include designations that the rules leave out, and why (for `check`/`calc`). */
  excluded: ExcludedDataset[];
}

// Computes the backup targets from resolved designations (pure: no I/O, no clock).
export function computeTargets(
  job: Job,
  designations: readonly ResolvedDesignation[],
  qubes: QubesInventory,
  zfs: ZfsInventory,
): TargetComputation {
  return computeTargetsWith(job, designations, indexDatasets(zfs), layoutOf(qubes));
}

// Same, with the indexes already built.
export function computeTargetsWith(
  job: Job,
  designations: readonly ResolvedDesignation[],
  index: DatasetIndex,
  layout: QubesLayout,
): TargetComputation {
  const maps = designationMaps(designations);
  const selection = selectTargetDatasets(index, layout, maps);
  const demoted = new Set<string>();
  // Each pass demotes at least one clone caught in a cycle, so this ends (real ZFS never loops).
  for (;;) {
    const built = buildPlans(job, index, layout, maps, selection, demoted);
    const { order, cycleClones } = orderPlans(built.plans);
    if (cycleClones.length > 0) {
      for (const c of cycleClones) demoted.add(c);
      continue;
    }
    const targets = toTargets(order, layout);
    const findings = [
      ...includeWithoutTargets(designations, maps, layout, selection),
      ...targetFindings(job, index, layout, maps, built.facts, targets),
    ];
    return { targets, findings, excluded: selection.excluded };
  }
}

interface BuiltPlans {
  plans: Map<string, DatasetPlan>;
  facts: ChainFacts[];
}

function datasetOf(snapshot: string): string {
  const at = snapshot.indexOf('@');
  return at < 0 ? snapshot : snapshot.slice(0, at);
}

function buildPlans(
  job: Job,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  selection: TargetSelection,
  demoted: ReadonlySet<string>,
): BuiltPlans {
  const plans = new Map<string, DatasetPlan>();
  const facts: ChainFacts[] = [];
  const { targetSnapshot, since, progressive, honourOrigins } = job.scope;
  for (const t of selection.selected) {
    const chain = buildChain({ ds: t.dataset, targetLabel: targetSnapshot, since, progressive });
    plans.set(t.dataset.name, {
      name: t.dataset.name,
      ds: t.dataset,
      isTarget: true,
      designation: t.designation,
      base: chain.base,
      steps: chain.steps,
      cloneOf: null,
    });
    facts.push({ dataset: t.dataset, base: chain.base, target: chain.target, driverSnapshotsSkipped: chain.driverSnapshotsSkipped });
  }
  if (!honourOrigins) return { plans, facts };

  // Origins (§4.6): a chain with no base starts from scratch; a clone's scratch is its origin.
  const work = [...plans.values()];
  const handled = new Set<string>();
  for (let w = 0; w < work.length; w++) {
    const plan = work[w]!;
    if (handled.has(plan.name)) continue;
    handled.add(plan.name);
    const origin = plan.ds.origin;
    if (plan.base !== null || origin === null) continue;
    const why = originProblem(plan, origin, index, layout, maps, demoted);
    if (why !== null) {
      if (why !== '') plan.note = why;
      continue;
    }
    const oName = datasetOf(origin);
    const ods = index.byName.get(oName)!;
    const snap = findSnapshot(ods, origin)!;
    let oplan = plans.get(oName);
    if (!oplan) {
      oplan = { name: oName, ds: ods, isTarget: false, designation: plan.designation, base: null, steps: [], cloneOf: null };
      plans.set(oName, oplan);
    }
    if (!insertOrigin(oplan, snap)) {
      plan.note =
        `sent in full: its origin ${origin} is older than ${oplan.base?.name ?? 'the base'}, and a receiver can only ` +
        `add snapshots after its newest one`;
      continue;
    }
    plan.cloneOf = origin;
    if (!handled.has(oName)) work.push(oplan);
  }
  return { plans, facts };
}

// Why a clone's origin cannot be preserved: '' to fall back silently (void origin, as the seed says),
// a note for the other cases, or null when it can.
function originProblem(
  plan: DatasetPlan,
  origin: string,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  demoted: ReadonlySet<string>,
): string | null {
  const oName = datasetOf(origin);
  if (nearestIn(maps.void, oName, true) !== null) return '';
  if (demoted.has(plan.name)) return `sent in full: its origin ${origin} depends on this dataset (a dependency cycle)`;
  if (oName === plan.name || oName.startsWith(plan.name + '/')) {
    return `sent in full: its origin ${origin} lies inside it`;
  }
  const ods = index.byName.get(oName);
  if (!ods || !findSnapshot(ods, origin)) return `sent in full: its origin ${origin} was not found`;
  const excl = structuralExclusion(layout, oName);
  if (excl !== null) return `sent in full: its origin ${origin} is on a ${excl === 'transient' ? 'transient volume' : 'Qubes work dataset'}, which is never backed up`;
  return null;
}

function sendOf(plan: DatasetPlan, i: number): SendType {
  if (i > 0) return { type: 'incremental', from: plan.steps[i - 1]!.name };
  if (plan.base !== null) return { type: 'incremental', from: plan.base.name };
  if (plan.cloneOf !== null) return { type: 'clone', origin: plan.cloneOf };
  return { type: 'full' };
}

// Qube that owns a dataset: a volume (by vid) or a qube's root dataset.
function qubeOf(layout: QubesLayout, name: string): string | undefined {
  return layout.volumeByVid.get(name)?.qube.name ?? layout.qubeByRoot.get(name);
}

function toTargets(order: readonly DatasetPlan[], layout: QubesLayout): Target[] {
  const out: Target[] = [];
  for (const plan of order) {
    const qube = qubeOf(layout, plan.name);
    const steps = plan.steps;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const snap = step.snap;
      // Fields in one fixed order (one object shape for existing snapshots): this list can be large.
      const t: Target =
        snap !== null
          ? { dataset: plan.name, snapshot: step.name, kind: step.kind, send: sendOf(plan, i), exists: true, guid: snap.guid, designation: plan.designation, createtxg: snap.createtxg }
          : { dataset: plan.name, snapshot: step.name, kind: step.kind, send: sendOf(plan, i), exists: false, designation: plan.designation };
      if (qube !== undefined) t.qube = qube;
      if (i === 0 && plan.note !== undefined) t.note = plan.note;
      out.push(t);
    }
  }
  return out;
}
