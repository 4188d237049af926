// INCLUDE_WITHOUT_TARGETS: an include designation that adds nothing to the backup (a transient volume,
// a Qubes work dataset, or a subtree that is entirely void or transient) — almost always a mistake.
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import { nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import { describeDesignation } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import type { TargetSelection } from './target-datasets.ts';
import { structuralExclusion } from './target-datasets.ts';
import type { ExclusionReason, ResolvedDesignation } from './types.ts';

const WHY: Record<ExclusionReason, string> = {
  void: 'it is void',
  transient: 'it is a transient qube volume (re-created empty or from the template at every start)',
  'driver-work': "it is one of the Qubes driver's work datasets (.tmp, .exported, .importing)",
  'partial-receive': 'it is partial receive state (%recv), not a dataset',
};

// One warning per dataset-member include designation with no target dataset, except nested ones
// (NESTED_DESIGNATION already says so).
export function includeWithoutTargets(
  designations: readonly ResolvedDesignation[],
  maps: DesignationMaps,
  layout: QubesLayout,
  selection: TargetSelection,
): Finding[] {
  const contributing = new Set(selection.selected.map((t) => t.designation));
  const out: Finding[] = [];
  for (const d of designations) {
    if (d.designation !== 'include' || maps.include.get(d.dataset) !== d || contributing.has(d.dataset)) continue;
    // A qube's root dataset in a pool that holds only its transient volumes (say, an app qube whose root
    // lives in another pool than its private) is expected to add nothing; disposables get DISPOSABLE_QUBE.
    if (d.objectType === 'qube') continue;
    if (nearestIn(maps.all, d.dataset, false) !== null) continue;
    const reason = structuralExclusion(layout, d.dataset);
    const why = reason !== null ? WHY[reason] : 'everything in it is void or a transient qube volume';
    out.push(
      finding(
        'INCLUDE_WITHOUT_TARGETS',
        'warning',
        `The include designation ${describeDesignation(d)} (group ${d.group}) adds nothing to the backup: ${why}. ` +
          `Remove it, or include the dataset that holds the data (for a qube, the qube itself).`,
        { pos: d.pos, subject: d.dataset, details: { group: d.group } },
      ),
    );
  }
  return out;
}
