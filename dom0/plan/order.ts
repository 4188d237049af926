// SPEC §4.7 ordering of dataset chains: parents before children, origins before clones (a
// depth-first topological sort, deterministic by name). Reports clones caught in a dependency cycle.
import { compareNames } from './dataset-index.ts';
import type { DatasetPlan } from './chains.ts';

/** The plans in send order, or the clones that must be demoted to break a cycle. */
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

interface Frame {
  name: string;
  deps: ['parent' | 'origin', string][];
  next: number;
  /** Kind of the edge followed out of this frame most recently. */
  via: 'parent' | 'origin' | null;
}

// Orders the plans; on a cycle (only possible through an origin edge) names the clone to demote.
// Iterative depth-first search, so long clone-of-clone chains cannot overflow the call stack.
export function orderPlans(plans: ReadonlyMap<string, DatasetPlan>): Ordering {
  const names = [...plans.keys()].sort(compareNames);
  const state = new Map<string, 1 | 2>();
  const order: DatasetPlan[] = [];
  const cycleClones = new Set<string>();
  const stack: Frame[] = [];
  const onStack = new Map<string, number>();

  const push = (name: string): void => {
    const plan = plans.get(name)!;
    const deps: Frame['deps'] = [];
    const parent = plannedParent(plans, name);
    if (parent !== null) deps.push(['parent', parent]);
    if (plan.cloneOf !== null) {
      const o = datasetOf(plan.cloneOf);
      if (plans.has(o) && o !== name) deps.push(['origin', o]);
    }
    state.set(name, 1);
    onStack.set(name, stack.length);
    stack.push({ name, deps, next: 0, via: null });
  };

  for (const root of names) {
    if (state.has(root)) continue;
    push(root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.next < frame.deps.length) {
        const [kind, dep] = frame.deps[frame.next++]!;
        frame.via = kind;
        const st = state.get(dep);
        if (st === 2) continue;
        if (st === 1) {
          // Back edge: the cycle is the stack from `dep` up to here; demote the first clone on it.
          const clone = stack.slice(onStack.get(dep)!).find((f) => f.via === 'origin');
          if (clone) cycleClones.add(clone.name);
          continue;
        }
        push(dep);
        continue;
      }
      stack.pop();
      onStack.delete(frame.name);
      state.set(frame.name, 2);
      order.push(plans.get(frame.name)!);
    }
  }
  return { order, cycleClones: [...cycleClones].sort(compareNames) };
}
