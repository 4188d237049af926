// SPEC §4.1–4.2: objects → designations, and every finding that needs the live system to decide
// (missing qubes and datasets, nesting, omissions, the receiver).
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import type { Designation, Group, Job, Member, Position } from '../job/types.ts';
import type { Qube, QubesInventory, ZfsInventory } from '../inventory/types.ts';
import { datasetNameProblem, poolOf } from '../../shared/zfs-names.ts';
import type { DatasetIndex } from './dataset-index.ts';
import { indexDatasets, nearestIn } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import { describeDesignation, describeObject, designationMaps } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import { layoutOf } from './qubes-layout.ts';
import { fieldInvalid, isPlausibleQubeName } from './job-fields.ts';
import { didYouMean } from './suggest.ts';
import { selectTargetDatasets } from './target-datasets.ts';
import { undesignatedFindings } from './undesignated.ts';
import { voidWithoutEffect } from './void-effect.ts';
import type { ResolvedDesignation } from './types.ts';

/** resolveDesignations' result. */
export interface DesignationResolution {
  /** One per (dataset, designation), in job order: include groups, then forgo, then void. */
  designations: ResolvedDesignation[];
  findings: Finding[];
}

/** The member of the job a designation list walk is looking at. */
interface MemberRef {
  designation: Designation;
  group: Group;
  member: Member;
}

// Every member of every listed group, in list order (groups named but not defined are the loader's).
function listedMembers(job: Job): MemberRef[] {
  const groups = new Map<string, Group>();
  for (const g of job.groups) if (!groups.has(g.name)) groups.set(g.name, g);
  const out: MemberRef[] = [];
  const lists: [Designation, Job['includeGroups']][] = [
    ['include', job.includeGroups],
    ['forgo', job.forgoGroups],
    ['void', job.voidGroups],
  ];
  for (const [designation, refs] of lists) {
    for (const ref of refs) {
      const group = groups.get(ref.name);
      if (!group) continue;
      for (const member of group.members) out.push({ designation, group, member });
    }
  }
  return out;
}

// Resolves the job's objects against both inventories (pure: no I/O, no clock).
export function resolveDesignations(job: Job, qubes: QubesInventory, zfs: ZfsInventory): DesignationResolution {
  return resolveWith(job, indexDatasets(zfs), layoutOf(qubes));
}

// Same, with the indexes already built (computeTargets and the bench share them).
export function resolveWith(job: Job, index: DatasetIndex, layout: QubesLayout): DesignationResolution {
  const findings: Finding[] = [];
  const raw: ResolvedDesignation[] = [];
  const members = listedMembers(job);
  for (const ref of members) {
    if (ref.group.type === 'datasets') resolveDatasetMember(ref, index, layout, raw, findings);
    else resolveQubeMember(ref, index, layout, raw, findings);
  }
  const designations = dedupe(raw, findings);
  const maps = designationMaps(designations);
  findings.push(...nestingFindings(designations, maps));
  // With no include member at all the job loader already reports NO_INCLUDE; here it is about the system.
  if (maps.include.size === 0 && members.some((m) => m.designation === 'include')) findings.push(noInclude(job));
  findings.push(...receiverFindings(job, index, layout, maps, members));
  // The target datasets are only needed to see whether a void holds an origin: computed on demand.
  findings.push(...voidWithoutEffect(job, index, layout, maps, designations, () => selectTargetDatasets(index, layout, maps)));
  findings.push(...undesignatedFindings(job, index, layout, maps, members));
  return { designations, findings };
}

function designationOf(ref: MemberRef, dataset: string, objectType: 'qube' | 'dataset'): ResolvedDesignation {
  const d: ResolvedDesignation = {
    dataset,
    designation: ref.designation,
    object: ref.member.value,
    objectType,
    group: ref.group.name,
  };
  if (ref.member.pos) d.pos = ref.member.pos;
  return d;
}

function resolveDatasetMember(
  ref: MemberRef,
  index: DatasetIndex,
  layout: QubesLayout,
  out: ResolvedDesignation[],
  findings: Finding[],
): void {
  const name = ref.member.value;
  // A malformed name is reported by the job loader (INVALID_DATASET_NAME); don't pile on.
  if (datasetNameProblem(name) !== null) return;
  if (index.byName.has(name)) {
    out.push(designationOf(ref, name, 'dataset'));
    return;
  }
  let hint: string;
  const pool = poolOf(name);
  if (!name.includes('/') && layout.qubeByName.has(name)) {
    hint = ` ${name} is a qube: list it in a group with "type: qubes" instead.`;
  } else if (!index.byName.has(pool)) {
    hint = ` No pool named ${pool} is imported in dom0: import it, or correct the pool name.`;
  } else {
    hint = didYouMean(name, index.byName.keys()) || ` Check the name with "zfs list -r ${pool}".`;
  }
  findings.push(
    finding(
      'DATASET_NOT_FOUND',
      'error',
      `The dataset ${name} in group ${ref.group.name} does not exist on this system.${hint} Otherwise remove it from the group.`,
      { pos: ref.member.pos, subject: name, details: { group: ref.group.name } },
    ),
  );
}

function resolveQubeMember(
  ref: MemberRef,
  index: DatasetIndex,
  layout: QubesLayout,
  out: ResolvedDesignation[],
  findings: Finding[],
): void {
  const name = ref.member.value;
  const qube = layout.qubeByName.get(name);
  const where = { pos: ref.member.pos, subject: name, details: { group: ref.group.name } as Record<string, unknown> };
  if (!qube) {
    // dom0 and malformed names are the job loader's DOM0_IN_QUBES_GROUP / INVALID_QUBE_NAME.
    if (!isPlausibleQubeName(name)) return;
    const message =
      `There is no qube named ${name} (group ${ref.group.name}) on this system.` +
      (didYouMean(name, layout.qubeByName.keys()) || ' Check the spelling with qvm-ls.') +
      ' Otherwise remove it from the group.';
    findings.push(finding('QUBE_NOT_FOUND', 'error', message, where));
    return;
  }
  if (qube.klass === 'DispVM') findings.push(disposableFinding(ref, qube, where));
  const outside = qube.volumes.filter((v) => v.saveOnStop && !layout.zfsPools.has(v.pool));
  if (outside.length > 0 && ref.designation !== 'void') findings.push(notOnZfsFinding(ref, qube, outside, where, layout));
  for (const root of layout.rootsByQube.get(qube.name) ?? []) out.push(designationOf(ref, root, 'qube'));
  if (ref.designation === 'include') {
    for (const v of qube.volumes) {
      if (!v.saveOnStop || !layout.zfsPools.has(v.pool) || index.byName.has(v.vid)) continue;
      findings.push(
        finding(
          'QUBE_VOLUME_MISSING',
          'error',
          `Qube ${qube.name}'s ${v.name} volume should be the ZFS dataset ${v.vid || '(no vid)'} (pool ${v.pool}), ` +
            `but that dataset does not exist, so it cannot be backed up. Check "qvm-volume info ${qube.name}:${v.name}" ` +
            `and "zfs list ${v.vid || '<vid>'}"; if the qube is broken, move it to a forgo group.`,
          { ...where, details: { group: ref.group.name, volume: v.name, vid: v.vid, pool: v.pool } },
        ),
      );
    }
  }
}

function disposableFinding(ref: MemberRef, qube: Qube, where: { pos: Position | undefined; subject: string }): Finding {
  // A named disposable (sys-usb, …) in a forgo or void group is a sensible "leave it out": inform only.
  const severity = ref.designation === 'include' ? 'warning' : 'info';
  const tail =
    ref.designation === 'include'
      ? ' Including it backs up nothing; to keep data used by disposables, include their disposable template instead.'
      : ' It needs no designation; you may remove it from the group.';
  return finding(
    'DISPOSABLE_QUBE',
    severity,
    `${qube.name} (group ${ref.group.name}) is a disposable qube: its volumes are discarded when it stops, ` +
      `so it has nothing persistent to back up.${tail}`,
    { ...where, details: { group: ref.group.name, klass: qube.klass } },
  );
}

function notOnZfsFinding(
  ref: MemberRef,
  qube: Qube,
  outside: Qube['volumes'],
  where: { pos: Position | undefined; subject: string },
  layout: QubesLayout,
): Finding {
  const vols = outside.map((v) => `${v.name} (pool ${v.pool})`).join(', ');
  const hasZfs = (layout.rootsByQube.get(qube.name) ?? []).length > 0;
  const include = ref.designation === 'include';
  const message = include
    ? `Qube ${qube.name} (group ${ref.group.name}) keeps persistent data outside ZFS: ${vols}. This tool can only back up ` +
      `ZFS datasets, so ${hasZfs ? 'those volumes would be missing from' : 'nothing of this qube would be in'} the backup. Move the volumes to a ` +
      `zfs pool (e.g. qvm-clone -P <zfs pool>), back them up another way (qvm-backup), or move the qube to a forgo group.`
    : `Qube ${qube.name} (group ${ref.group.name}) keeps persistent data outside ZFS: ${vols}. It is forgone, so nothing ` +
      `changes now, but this tool could not back those volumes up if you included it later.`;
  return finding('QUBE_NOT_ON_ZFS', include ? 'error' : 'warning', message, {
    ...where,
    details: { group: ref.group.name, volumes: outside.map((v) => ({ volume: v.name, pool: v.pool })) },
  });
}

// One designation per (dataset, designation); two *different* objects landing on one dataset are
// reported here (the same object listed twice is the job loader's DUPLICATE_MEMBER/CONFLICTING_DESIGNATION).
function dedupe(raw: readonly ResolvedDesignation[], findings: Finding[]): ResolvedDesignation[] {
  const out: ResolvedDesignation[] = [];
  const seen = new Map<string, ResolvedDesignation[]>();
  const reported = new Set<string>();
  const objectKey = (d: ResolvedDesignation): string => `${d.objectType}:${d.object}`;
  for (const d of raw) {
    const earlier = seen.get(d.dataset) ?? [];
    const other = earlier.find((e) => objectKey(e) !== objectKey(d));
    const conflict = earlier.find((e) => objectKey(e) !== objectKey(d) && e.designation !== d.designation);
    if (conflict && !reported.has('C' + d.dataset)) {
      reported.add('C' + d.dataset);
      findings.push(
        finding(
          'CONFLICTING_DESIGNATION',
          'error',
          `${d.dataset} is designated both ${conflict.designation} (by ${describeObject(conflict)}, group ` +
            `${conflict.group}) and ${d.designation} (by ${describeObject(d)}, group ${d.group}). A dataset can ` +
            `have only one designation: remove one of the two.`,
          {
            pos: d.pos,
            subject: d.dataset,
            details: { designations: [conflict, d].map((x) => ({ designation: x.designation, object: x.object, group: x.group })) },
          },
        ),
      );
    } else if (!conflict && other && other.designation === d.designation && !reported.has('D' + d.dataset)) {
      reported.add('D' + d.dataset);
      findings.push(
        finding(
          'DUPLICATE_MEMBER',
          'warning',
          `${d.dataset} is designated ${d.designation} twice: by ${describeObject(other)} (group ${other.group}) ` +
            `and by ${describeObject(d)} (group ${d.group}). Remove one of them.`,
          { pos: d.pos, subject: d.dataset, details: { groups: [other.group, d.group] } },
        ),
      );
    }
    if (!earlier.some((e) => e.designation === d.designation)) out.push(d);
    earlier.push(d);
    seen.set(d.dataset, earlier);
  }
  return out;
}

// SPEC §4.2: include and forgo may not lie inside any other designation; void may lie anywhere.
function nestingFindings(designations: readonly ResolvedDesignation[], maps: DesignationMaps): Finding[] {
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const d of designations) {
    if (d.designation === 'void') continue;
    const outerName = nearestIn(maps.all, d.dataset, false);
    if (outerName === null) continue;
    const key = `${d.designation}:${d.dataset}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const outer = (maps.all.get(outerName) ?? [])[0]!;
    const inner = `${describeDesignation(d)} (${d.designation}, group ${d.group})`;
    const state = { include: 'included', forgo: 'forgone', void: 'void' }[outer.designation];
    const around = `${describeDesignation(outer)}, which is ${state} (group ${outer.group})`;
    let advice: string;
    if (outer.designation === 'include' && d.designation === 'forgo') {
      advice = `To leave it out of the backup, move it to a group listed under void-groups instead.`;
    } else if (outer.designation === d.designation) {
      advice = `It is already ${d.designation === 'include' ? 'included' : 'forgone'} as part of ${outer.dataset}: remove it from group ${d.group}.`;
    } else if (outer.designation === 'forgo') {
      advice =
        `To back up ${d.dataset} without the rest of ${outer.dataset}, remove ${outer.dataset} from group ${outer.group} ` +
        `(anything without a designation is forgone anyway) and designate the other datasets you want to leave out.`;
    } else if (d.designation === 'include') {
      advice = `Nothing inside a void designation is ever backed up: remove one of the two.`;
    } else {
      advice = `It is already hard-excluded by the void designation: remove it from group ${d.group}.`;
    }
    out.push(
      finding(
        'NESTED_DESIGNATION',
        'error',
        `${inner} lies inside ${around}. An include or forgo designation cannot be nested inside another designation. ${advice}`,
        {
          pos: d.pos,
          subject: d.dataset,
          details: { inner: d.dataset, innerDesignation: d.designation, outer: outer.dataset, outerDesignation: outer.designation },
        },
      ),
    );
  }
  return out;
}

function noInclude(job: Job): Finding {
  return finding(
    'NO_INCLUDE',
    'error',
    'Nothing is included in the backup: no member of the include groups resolves to a ZFS dataset on this system. ' +
      'Fix the missing qubes or datasets reported above, or add the qubes or datasets to back up to an include group.',
    { pos: job.positions['include-groups'] },
  );
}

function receiverFindings(
  job: Job,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  members: readonly MemberRef[],
): Finding[] {
  const name = job.receiver.qube;
  const pos = job.positions['receiver.qube'];
  const qube = layout.qubeByName.get(name);
  // dom0 as the receiver, or a malformed name, is the job loader's RECEIVER_IS_DOM0 / INVALID_QUBE_NAME.
  if (fieldInvalid(job, 'receiver.qube') || !isPlausibleQubeName(name)) return [];
  if (!qube) {
    const message =
      `The receiver qube ${name} does not exist on this system.` +
      (didYouMean(name, layout.qubeByName.keys()) || ' Check the spelling with qvm-ls, or create the qube.');
    return [finding('RECEIVER_QUBE_NOT_FOUND', 'error', message, { pos, subject: name })];
  }
  const byMember = members.find((m) => m.designation === 'include' && m.group.type === 'qubes' && m.member.value === name);
  const included: string[] = [];
  for (const v of qube.volumes) {
    if (!v.saveOnStop || !layout.volumeByVid.has(v.vid) || !index.byName.has(v.vid)) continue;
    if (nearestIn(maps.include, v.vid, true) !== null && nearestIn(maps.void, v.vid, true) === null) included.push(v.vid);
  }
  if (!byMember && included.length === 0) return [];
  const how = byMember ? `it is listed in include group ${byMember.group.name}` : `its datasets ${included.join(', ')} lie inside an include designation`;
  return [
    finding(
      'RECEIVER_IS_SOURCE',
      'error',
      `The receiver qube ${name} would be backed up to itself (${how}). It must be running while it receives, so its ` +
        `volumes could never be snapshotted at rest. Move it to a forgo group${byMember ? '' : ', or void those datasets'}.`,
      { pos: byMember?.member.pos ?? pos, subject: name, details: { datasets: included } },
    ),
  ];
}
