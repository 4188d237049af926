// Designations keyed by dataset, per type: the lookups every nesting and exclusion rule needs.
import type { ResolvedDesignation } from './types.ts';

/** Designations by dataset: all of them, and the first of each type. */
export interface DesignationMaps {
  /** Every designation of each dataset, in resolution order. */
  all: ReadonlyMap<string, readonly ResolvedDesignation[]>;
  include: ReadonlyMap<string, ResolvedDesignation>;
  forgo: ReadonlyMap<string, ResolvedDesignation>;
  void: ReadonlyMap<string, ResolvedDesignation>;
}

// Groups designations by dataset and type (first one wins within a type).
export function designationMaps(designations: readonly ResolvedDesignation[]): DesignationMaps {
  const all = new Map<string, ResolvedDesignation[]>();
  const include = new Map<string, ResolvedDesignation>();
  const forgo = new Map<string, ResolvedDesignation>();
  const voids = new Map<string, ResolvedDesignation>();
  for (const d of designations) {
    const list = all.get(d.dataset);
    if (list) list.push(d);
    else all.set(d.dataset, [d]);
    const byType = d.designation === 'include' ? include : d.designation === 'forgo' ? forgo : voids;
    if (!byType.has(d.dataset)) byType.set(d.dataset, d);
  }
  return { all, include, forgo, void: voids };
}

// How a designation reads in a message: "qube work (mainpool/qubes/work)" or "dataset mainpool/dom0".
export function describeDesignation(d: ResolvedDesignation): string {
  return d.objectType === 'qube' ? `qube ${d.object} (${d.dataset})` : `dataset ${d.dataset}`;
}

// The config object alone: "qube work" or "dataset mainpool/dom0".
export function describeObject(d: ResolvedDesignation): string {
  return `${d.objectType} ${d.object}`;
}
