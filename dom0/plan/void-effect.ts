// VOID_WITHOUT_EFFECT: a void designation that changes nothing — not inside an include designation,
// not holding the origin of a backed-up clone, or holding nothing that could be a target anyway.
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { DatasetIndex } from './dataset-index.ts';
import { subtreeOf, nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import { describeDesignation } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import type { TargetSelection } from './target-datasets.ts';
import { structuralExclusion } from './target-datasets.ts';
import type { ResolvedDesignation } from './types.ts';

// The void designations that cut an origin chain of some target dataset (only with honour-origins).
function voidsHoldingOrigins(job: Job, index: DatasetIndex, maps: DesignationMaps, selection: TargetSelection): Set<string> {
  const hit = new Set<string>();
  if (!job.scope.honourOrigins || maps.void.size === 0) return hit;
  const walked = new Set<string>();
  for (const t of selection.selected) {
    let origin = t.dataset.origin;
    while (origin !== null) {
      const ds = origin.slice(0, origin.indexOf('@') < 0 ? origin.length : origin.indexOf('@'));
      if (walked.has(ds)) break;
      walked.add(ds);
      let v = nearestIn(maps.void, ds, true);
      if (v !== null) {
        // Every void around the origin cuts the chain (the outermost is the one that matters).
        while (v !== null) {
          hit.add(v);
          v = nearestIn(maps.void, v, false);
        }
        break;
      }
      origin = index.byName.get(ds)?.origin ?? null;
    }
  }
  return hit;
}

// One warning per void designation that has no effect, saying why and what to use instead.
export function voidWithoutEffect(
  job: Job,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  designations: readonly ResolvedDesignation[],
  selection: () => TargetSelection,
): Finding[] {
  const out: Finding[] = [];
  let holding: Set<string> | undefined;
  const holdsOrigin = (name: string): boolean => {
    holding ??= voidsHoldingOrigins(job, index, maps, selection());
    return holding.has(name);
  };
  for (const d of designations) {
    if (d.designation !== 'void' || maps.void.get(d.dataset) !== d) continue;
    let why: string | null = null;
    const outerVoid = nearestIn(maps.void, d.dataset, false);
    if (outerVoid !== null) {
      why = `it already lies inside the void designation ${outerVoid}. Remove it from group ${d.group}.`;
    } else if (nearestIn(maps.include, d.dataset, true) === null) {
      if (job.scope.honourOrigins && holdsOrigin(d.dataset)) continue;
      why =
        `it is not inside any included dataset` +
        (job.scope.honourOrigins ? ' and holds no origin of a backed-up clone' : '') +
        `, so it would be left out anyway. Use a forgo group for it (forgo is the usual way to leave something out), or remove it.`;
    } else if (subtreeOf(index, d.dataset).every((ds) => structuralExclusion(layout, ds.name) !== null)) {
      why =
        `everything in it is already left out (transient qube volumes such as volatile, or the Qubes driver's work ` +
        `datasets), so it changes nothing. Remove it from group ${d.group}.`;
    }
    if (why === null) continue;
    out.push(
      finding('VOID_WITHOUT_EFFECT', 'warning', `The void designation ${describeDesignation(d)} (group ${d.group}) has no effect: ${why}`, {
        pos: d.pos,
        subject: d.dataset,
        details: { group: d.group },
      }),
    );
  }
  return out;
}
