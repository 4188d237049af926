// Object groups: every non-reserved top-level key. Reads `type` and `members`, checks each member's
// name for its type, and tells a misspelt reserved key ("reciever", "include-group") from a group.
import { isMap, isSeq } from 'yaml';
import { describe } from './nodes.ts';
import type { Entry, Reader } from './nodes.ts';
import { FIELD_HINTS, readText, readTextList } from './read-values.ts';
import type { TextItem } from './read-values.ts';
import { RESERVED_KEYS, SECTIONS } from './fields.ts';
import type { Report } from './report.ts';
import { closest, excludeHint } from './suggest.ts';
import type { GroupType, Member, Position } from './types.ts';
import { datasetProblem, qubeNameProblem } from './values.ts';

const GROUP_FIELDS = ['type', 'members'];
const GROUP_TYPES: readonly GroupType[] = ['qubes', 'datasets'];
const DOM0_NAMES = new Set(['dom0', 'Domain-0']);

/** Keys that belong inside a section or a group: at the top level they mean lost indentation. */
export const NESTED_FIELDS: ReadonlyMap<string, string> = new Map([
  ...Object.entries(SECTIONS).flatMap(([section, spec]) => Object.keys(spec).map((k): [string, string] => [k, section])),
  ['type', ''],
  ['members', ''],
]);

/** A top-level key read as an object group, usable or not. */
export interface GroupDef {
  name: string;
  pos: Position | undefined;
  /** null when `type` is missing or invalid: the members cannot be interpreted. */
  type: GroupType | null;
  /** Every member written as text, in file order (including invalid and repeated names). */
  written: TextItem[];
  /** Members with valid names, first occurrence only: what the Job carries. */
  members: Member[];
  /** Where `members` is written, when it is. */
  membersPos: Position | undefined;
  /** True when `members` is a well-formed empty list. */
  empty: boolean;
  /** True when the group's value is not a mapping: it is defined, but nothing in it is usable. */
  broken: boolean;
}

/** A misspelt reserved key: the key as written and the field it probably meant. */
export interface Typo {
  key: string;
  meant: string;
  pos: Position | undefined;
}

/** Reads one non-reserved top-level entry: a group, a likely typo of a reserved key, or neither. */
export function readGroupEntry(r: Reader, report: Report, e: Entry): GroupDef | Typo | null {
  const entries = isMap(e.value) ? r.entries(e.value, e.key) : null;
  const groupLike = entries !== null && entries.some((x) => GROUP_FIELDS.includes(x.key));
  if (!groupLike) {
    const section = NESTED_FIELDS.get(e.key);
    if (section !== undefined) {
      const where = section === '' ? 'inside a group: indent it under the group\'s name' : `in the \`${section}\` section: indent it under \`${section}:\``;
      report.add('MISPLACED_FIELD', `\`${e.key}\` is written at the top level, but it belongs ${where} (for example by two spaces), like the other fields there.`, e.keyPos, e.key, { belongsTo: section === '' ? 'group' : section });
      return null;
    }
    const exclude = excludeHint(e.key);
    const meant = exclude === null ? closest(e.key, RESERVED_KEYS) : null;
    if (meant !== null || exclude !== null) {
      const fix = meant !== null ? `Did you mean \`${meant}\`?` : (exclude ?? '');
      report.add('RESERVED_KEY_TYPO', `\`${e.key}\` is not a field of the job file, and it is not an object group (a group has \`type\` and \`members\`). ${fix}`, e.keyPos, e.key, meant !== null ? { suggestion: meant } : undefined);
      return { key: e.key, meant: meant ?? 'forgo-groups', pos: e.keyPos };
    }
  }
  if (entries === null) {
    const broken: GroupDef = { name: e.key, pos: e.keyPos, type: null, written: [], members: [], membersPos: undefined, empty: false, broken: true };
    if (r.isEmpty(e.value)) {
      report.add('WRONG_TYPE', `\`${e.key}\` is read as an object group, but it is empty. A group needs \`type: qubes\` or \`type: datasets\` and a \`members\` list, indented under \`${e.key}:\`.`, e.keyPos, e.key);
    } else {
      report.add('WRONG_TYPE', `\`${e.key}\` is not a field of the job file, so it is read as an object group, but its value is ${describe(e.value)}. A group is a mapping with \`type: qubes\` or \`type: datasets\` and a \`members\` list; the fields are ${RESERVED_KEYS.join(', ')}.`, e.valuePos, e.key);
    }
    return broken;
  }
  return readGroup(r, report, e, entries);
}

function readGroup(r: Reader, report: Report, e: Entry, entries: Entry[]): GroupDef {
  const def: GroupDef = { name: e.key, pos: e.keyPos, type: null, written: [], members: [], membersPos: undefined, empty: false, broken: false };
  let typeEntry: Entry | undefined;
  let membersEntry: Entry | undefined;
  for (const sub of entries) {
    if (sub.key === 'type') typeEntry = sub;
    else if (sub.key === 'members') membersEntry = sub;
    else {
      const guess = closest(sub.key, GROUP_FIELDS);
      const mean = guess !== null ? ` Did you mean \`${guess}\`?` : '';
      report.add('UNKNOWN_FIELD', `Group \`${e.key}\` has an unknown field \`${sub.key}\`.${mean} A group has only \`type\` and \`members\`.`, sub.keyPos, `${e.key}.${sub.key}`);
    }
  }
  if (typeEntry === undefined) {
    report.add('MISSING_FIELD', `Group \`${e.key}\` has no \`type\`. Add ${FIELD_HINTS['<group>.type']!}.`, e.keyPos, `${e.key}.type`);
  } else {
    const t = readText(r, report, typeEntry, `${e.key}.type`, FIELD_HINTS['<group>.type']!);
    if (t !== undefined && (GROUP_TYPES as readonly string[]).includes(t)) def.type = t as GroupType;
    else if (t !== undefined) {
      const guess = closest(t, GROUP_TYPES);
      const mean = guess !== null ? ` Did you mean \`type: ${guess}\`?` : '';
      report.add('INVALID_GROUP_TYPE', `Group \`${e.key}\` has \`type: ${t}\`, but the type must be \`qubes\` or \`datasets\`.${mean}`, typeEntry.valuePos, `${e.key}.type`);
    }
  }
  if (membersEntry === undefined) {
    report.add('MISSING_FIELD', `Group \`${e.key}\` has no \`members\`. Add ${FIELD_HINTS['<group>.members']!}.`, e.keyPos, `${e.key}.members`);
    return def;
  }
  def.membersPos = membersEntry.valuePos;
  const word = def.type === 'qubes' ? 'qube name' : def.type === 'datasets' ? 'dataset name' : 'member';
  const items = readTextList(r, report, membersEntry, `${e.key}.members`, FIELD_HINTS['<group>.members']!, word);
  if (items === undefined) return def;
  def.written = items;
  def.empty = items.length === 0 && isEmptyList(membersEntry);
  checkMembers(report, def);
  return def;
}

function isEmptyList(e: Entry): boolean {
  return isSeq(e.value) && e.value.items.length === 0;
}

// Validates each member's name for the group's type and keeps the valid ones, first occurrence only.
function checkMembers(report: Report, def: GroupDef): void {
  const first = new Map<string, TextItem>();
  for (const item of def.written) {
    const earlier = first.get(item.value);
    if (earlier) {
      report.add('DUPLICATE_MEMBER', `${JSON.stringify(item.value)} is listed twice in group \`${def.name}\` (first on line ${earlier.pos?.line ?? '?'}). Delete one.`, item.pos, item.value, { group: def.name });
      continue;
    }
    first.set(item.value, item);
    if (def.type === 'qubes') {
      if (DOM0_NAMES.has(item.value)) {
        report.add('DOM0_IN_QUBES_GROUP', `dom0 cannot be listed in a \`type: qubes\` group (\`${def.name}\`): dom0 is not a qube with volumes in a Qubes pool. To back up dom0's data, list its ZFS datasets in a group with \`type: datasets\`, for example mainpool/dom0.`, item.pos, item.value, { group: def.name });
        continue;
      }
      const problem = qubeNameProblem(item.value);
      if (problem !== null) {
        report.add('INVALID_QUBE_NAME', `In group \`${def.name}\`: ${problem}`, item.pos, item.value, { group: def.name });
        continue;
      }
    } else if (def.type === 'datasets') {
      const problem = datasetProblem(item.value);
      if (problem !== null) {
        report.add('INVALID_DATASET_NAME', `In group \`${def.name}\`: ${problem}`, item.pos, item.value, { group: def.name });
        continue;
      }
    } else continue;
    const member: Member = { value: item.value };
    if (item.pos) member.pos = item.pos;
    def.members.push(member);
  }
}
