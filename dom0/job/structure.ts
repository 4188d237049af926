// Checks across the file: every listed group is defined, each group has one designation, no group
// is forgotten, no object is designated twice (the same way: a warning; two ways: an error), and
// something is included. Dataset-level overlaps after resolving qubes are the planner's job.
import type { GroupList } from './fields.ts';
import { GROUP_LISTS, RESERVED_KEYS } from './fields.ts';
import type { GroupDef } from './groups.ts';
import type { TextItem } from './read-values.ts';
import type { Report } from './report.ts';
import { closest } from './suggest.ts';
import type { Designation, Position } from './types.ts';

const DESIGNATION: Record<GroupList, Designation> = { 'include-groups': 'include', 'forgo-groups': 'forgo', 'void-groups': 'void' };

/** One appearance of a group name in a designation list. */
interface Listing {
  list: GroupList;
  pos: Position | undefined;
}

/** The lists after removing repeats, for building the Job. */
export type GroupLists = Map<GroupList, TextItem[]>;

/** Runs the cross-reference checks; returns each list without repeated names. */
export function checkStructure(report: Report, lists: GroupLists, defs: Map<string, GroupDef>, listPositions: Record<string, Position>): GroupLists {
  const listings = new Map<string, Listing[]>();
  const unique: GroupLists = new Map();
  const undefinedIn = new Set<GroupList>();

  for (const list of GROUP_LISTS) {
    const items = lists.get(list);
    if (items === undefined) continue;
    const seen = new Map<string, TextItem>();
    const kept: TextItem[] = [];
    for (const item of items) {
      const earlier = seen.get(item.value);
      if (earlier) {
        report.add('DUPLICATE_GROUP_REF', `Group \`${item.value}\` is listed twice in \`${list}\` (first on line ${earlier.pos?.line ?? '?'}). Delete one.`, item.pos, item.value);
        continue;
      }
      seen.set(item.value, item);
      kept.push(item);
      if (!defs.has(item.value)) {
        undefinedIn.add(list);
        report.add('UNDEFINED_GROUP', undefinedMessage(item.value, list, defs), item.pos, item.value);
        continue;
      }
      const all = listings.get(item.value) ?? [];
      all.push({ list, pos: item.pos });
      listings.set(item.value, all);
    }
    unique.set(list, kept);
  }

  for (const [name, all] of listings) {
    const first = all[0];
    for (const other of all.slice(1)) {
      if (!first) break;
      report.add('GROUP_IN_SEVERAL_LISTS', `Group \`${name}\` is in \`${first.list}\` (line ${first.pos?.line ?? '?'}) and also in \`${other.list}\`. A group can have only one designation: remove it from one of the lists.`, other.pos, name, { lists: all.map((l) => l.list) });
    }
  }

  for (const def of defs.values()) {
    if (!listings.has(def.name)) {
      report.add('GROUP_UNUSED', `Group \`${def.name}\` is defined but not listed in include-groups, forgo-groups or void-groups, so it has no effect. Add it to one of them (forgo-groups if it should not be backed up) or delete it.`, def.pos, def.name);
    }
    if (def.empty) {
      report.add('EMPTY_GROUP', `Group \`${def.name}\` has no members, so it designates nothing. Add members or remove the group.`, def.membersPos ?? def.pos, def.name);
    }
  }

  checkMembers(report, defs, listings);

  const include = unique.get('include-groups');
  if (include !== undefined && !undefinedIn.has('include-groups')) {
    const anything = include.some((g) => defs.get(g.value)?.broken === true || (defs.get(g.value)?.written.length ?? 0) > 0);
    if (!anything) {
      const why = include.length === 0 ? '`include-groups` is empty' : 'every group in `include-groups` is empty';
      report.add('NO_INCLUDE', `Nothing would be backed up: ${why}. List at least one group with members under include-groups.`, listPositions['include-groups'], 'include-groups');
    }
  }
  return unique;
}

function undefinedMessage(name: string, list: GroupList, defs: Map<string, GroupDef>): string {
  if (RESERVED_KEYS.includes(name)) return `\`${list}\` lists \`${name}\`, which is a field of the job file, not a group. List the names of groups defined at the top level.`;
  const guess = closest(name, [...defs.keys()]);
  const mean = guess !== null ? ` Did you mean \`${guess}\`?` : '';
  return `\`${list}\` lists group \`${name}\`, but no group of that name is defined.${mean} Define it at the top level (with type and members) or fix the name.`;
}

// Objects (a qube or a dataset, by name) appearing in groups with exactly one designation.
function checkMembers(report: Report, defs: Map<string, GroupDef>, listings: Map<string, Listing[]>): void {
  const seen = new Map<string, { group: string; designation: Designation; pos: Position | undefined }>();
  for (const def of defs.values()) {
    const all = listings.get(def.name);
    const only = all?.length === 1 ? all[0] : undefined;
    if (only === undefined || def.type === null) continue;
    const designation = DESIGNATION[only.list];
    for (const m of def.members) {
      const key = `${def.type}\u0000${m.value}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, { group: def.name, designation, pos: m.pos });
        continue;
      }
      const what = def.type === 'qubes' ? 'Qube' : 'Dataset';
      if (first.designation === designation) {
        report.add('DUPLICATE_MEMBER', `${what} ${JSON.stringify(m.value)} is in group \`${def.name}\` and already in group \`${first.group}\` (line ${first.pos?.line ?? '?'}), both listed in \`${only.list}\`. Remove it from one of them.`, m.pos, m.value, { groups: [first.group, def.name] });
      } else {
        report.add('CONFLICTING_DESIGNATION', `${what} ${JSON.stringify(m.value)} is designated ${designation} by group \`${def.name}\` but ${first.designation} by group \`${first.group}\` (line ${first.pos?.line ?? '?'}). An object can have only one designation: remove it from one of the groups.`, m.pos, m.value, { groups: [first.group, def.name], designations: [first.designation, designation] });
      }
    }
  }
}
