// Likely omissions: qubes no group mentions (QUBE_UNDESIGNATED) and the top-most dataset subtrees
// outside every designation (DATASET_UNDESIGNATED), without listing the same thing twice.
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import type { Designation, Group, Job, Member } from '../job/types.ts';
import { parentOf } from '../../shared/zfs-names.ts';
import type { DatasetIndex } from './dataset-index.ts';
import { ancestorsOf, nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import { DRIVER_WORK_DATASETS, isPartialReceive } from './qubes-layout.ts';

interface ListedMember {
  designation: Designation;
  group: Group;
  member: Member;
}

// Both omission findings (each at most once, listing everything).
export function undesignatedFindings(
  job: Job,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  members: readonly ListedMember[],
): Finding[] {
  const out: Finding[] = [];
  const q = undesignatedQubes(job, layout, maps, members);
  if (q) out.push(q);
  const d = undesignatedDatasets(index, layout, maps);
  if (d) out.push(d);
  return out;
}

// Qubes with persistent data that no listed group names and no dataset designation covers.
// Skipped: disposables (nothing persistent), and the receiver (the job already names it).
function undesignatedQubes(job: Job, layout: QubesLayout, maps: DesignationMaps, members: readonly ListedMember[]): Finding | null {
  const mentioned = new Set<string>();
  for (const m of members) if (m.group.type === 'qubes') mentioned.add(m.member.value);
  const names: string[] = [];
  const notOnZfs: string[] = [];
  const notOnZfsSet = new Set<string>();
  for (const q of layout.qubeByName.values()) {
    if (mentioned.has(q.name) || q.klass === 'DispVM' || q.klass === 'AdminVM' || q.name === job.receiver.qube) continue;
    if (!q.volumes.some((v) => v.saveOnStop)) continue;
    const roots = layout.rootsByQube.get(q.name) ?? [];
    if (roots.length > 0 && roots.every((r) => nearestIn(maps.all, r, true) !== null)) continue;
    names.push(q.name);
    if (!q.volumes.some((v) => v.saveOnStop && layout.zfsPools.has(v.pool))) {
      notOnZfs.push(q.name);
      notOnZfsSet.add(q.name);
    }
  }
  if (names.length === 0) return null;
  const list = names.map((n) => (notOnZfsSet.has(n) ? `${n} (not on ZFS)` : n)).join(', ');
  return finding(
    'QUBE_UNDESIGNATED',
    'warning',
    `${names.length === 1 ? '1 qube is' : `${names.length} qubes are`} in no group, so ${names.length === 1 ? 'it' : 'they'} ` +
      `will not be backed up: ${list}. Add each to a group under include-groups to back it up, or under forgo-groups ` +
      `to confirm leaving it out.`,
    { details: { qubes: names, notOnZfs } },
  );
}

// Top-most subtrees that hold no designation, no qube's datasets and no driver work dataset.
function undesignatedDatasets(index: DatasetIndex, layout: QubesLayout, maps: DesignationMaps): Finding | null {
  const accounted = new Set<string>(maps.all.keys());
  for (const root of layout.qubeByRoot.keys()) accounted.add(root);
  for (const c of layout.containers) for (const w of DRIVER_WORK_DATASETS) accounted.add(`${c}/${w}`);
  const holdsAccounted = new Set<string>();
  for (const a of accounted) for (const p of ancestorsOf(a)) holdsAccounted.add(p);
  const free = (name: string): boolean => !holdsAccounted.has(name) && nearestIn(accounted, name, true) === null;
  const top: string[] = [];
  for (const ds of index.sorted) {
    if (isPartialReceive(ds.name) || !free(ds.name)) continue;
    const parent = parentOf(ds.name);
    if (parent === null || !free(parent)) top.push(ds.name);
  }
  // Datasets above designations that are not themselves designated: their own data is not backed up.
  // Pool roots and the Qubes containers (and what lies above them) normally hold no data: not listed.
  const structural = new Set<string>();
  for (const c of layout.containers) {
    structural.add(c);
    for (const p of ancestorsOf(c)) structural.add(p);
  }
  const holders = new Set<string>();
  for (const d of maps.all.keys()) {
    for (const p of ancestorsOf(d)) {
      if (parentOf(p) === null || structural.has(p) || !index.byName.has(p)) continue;
      if (nearestIn(maps.all, p, true) === null && nearestIn(layout.qubeByRoot, p, true) === null) holders.add(p);
    }
  }
  const above = [...holders].sort();
  if (top.length === 0 && above.length === 0) return null;
  const parts: string[] = [];
  if (top.length > 0) {
    parts.push(
      `${top.length === 1 ? '1 dataset is' : `${top.length} datasets are`} outside every designation and will not be ` +
        `backed up (nor anything below ${top.length === 1 ? 'it' : 'them'}): ${top.join(', ')}.`,
    );
  }
  if (above.length > 0) {
    parts.push(
      `${above.join(', ')} ${above.length === 1 ? 'holds' : 'hold'} designated datasets but ${above.length === 1 ? 'is' : 'are'} ` +
        `not designated ${above.length === 1 ? 'itself' : 'themselves'}, so ${above.length === 1 ? 'its' : 'their'} own data ` +
        `(if any) will not be backed up.`,
    );
  }
  return finding(
    'DATASET_UNDESIGNATED',
    'info',
    `${parts.join(' ')} To back one up, add it to a "type: datasets" group under include-groups; to confirm leaving ` +
      `it out, add it to a forgo group.`,
    { details: { datasets: top, undesignatedParents: above } },
  );
}
