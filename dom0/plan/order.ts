// SPEC §4.7 ordering of dataset chains: parents before children, origins before clones (a
// depth-first topological sort, deterministic by name). Reports clones caught in a dependency cycle.
import { compareNames } from './dataset-index.ts';
import type { DatasetPlan } from './chains.ts';

export interface Ordering {
  order: DatasetPlan[];
  /** Clones whose origin edge closes a cycle: they must be sent in full instead. */
  cycleClones: string[];
}

// Nearest planned proper ancestor of a dataset, or null.
function plannedParent(plans: ReadonlyMap<string, DatasetPlan>, name: string): string | null {
  let i = name.lastIndexOf('/');
  while (i > 0) {
    const a = name.slice(0, i);
    if (plans.has(a)) return a;
    i = name.lastIndexOf('/', i - 1);
  }
  return null;
}

function datasetOf(snapshot: string): string {
  const at = snapshot.indexOf('@');
  return at < 0 ? snapshot : snapshot.slice(0, at);
}

// Orders the plans; on a cycle (only possible through an origin edge) names the clone to demote.
export function orderPlans(plans: ReadonlyMap<string, DatasetPlan>): Ordering {
  const names = [...plans.keys()].sort(compareNames);
  const state = new Map<string, 1 | 2>();
  const order: DatasetPlan[] = [];
  const cycleClones = new Set<string>();
  // Stack of [dataset, kind of the edge we followed out of it].
  const stack: { name: string; via: 'parent' | 'origin' | null }[] = [];

  const visit = (name: string): void => {
    const plan = plans.get(name)!;
    state.set(name, 1);
    const frame: { name: string; via: 'parent' | 'origin' | null } = { name, via: null };
    stack.push(frame);
    const deps: ['parent' | 'origin', string][] = [];
    const parent = plannedParent(plans, name);
    if (parent !== null) deps.push(['parent', parent]);
    if (plan.cloneOf !== null) {
      const o = datasetOf(plan.cloneOf);
      if (plans.has(o) && o !== name) deps.push(['origin', o]);
    }
    for (const [kind, dep] of deps) {
      frame.via = kind;
      const st = state.get(dep);
      if (st === 2) continue;
      if (st === 1) {
        // Back edge: the cycle is the stack from `dep` up to here; demote the first clone on it.
        const from = stack.findIndex((f) => f.name === dep);
        const clone = stack.slice(from).find((f) => f.via === 'origin');
        if (clone) cycleClones.add(clone.name);
        continue;
      }
      visit(dep);
    }
    stack.pop();
    state.set(name, 2);
    order.push(plan);
  };

  for (const n of names) if (!state.has(n)) visit(n);
  return { order, cycleClones: [...cycleClones].sort(compareNames) };
}
