// The reserved top-level fields (name, scope, allowed-behaviours, receiver, *-groups): read with
// their types, required ones checked, unknown keys inside a section reported with a suggestion.
import { isMap } from 'yaml';
import { describe, joinPath } from './nodes.ts';
import type { Entry, Reader } from './nodes.ts';
import { FIELD_HINTS, readBoolean, readText, readTextList } from './read-values.ts';
import type { TextItem } from './read-values.ts';
import type { Report } from './report.ts';
import { closest } from './suggest.ts';
import type { Position } from './types.ts';

/** The fields inside each section, and the kind of value each holds. */
export const SECTIONS = {
  scope: { 'target-snapshot': 'text', since: 'text', progressive: 'boolean', 'honour-origins': 'boolean' },
  'allowed-behaviours': { 'snapshot-creation': 'boolean', patching: 'boolean' },
  receiver: { qube: 'text', dataset: 'text' },
} as const;

/** The three designation lists, in the order the seed gives them. */
export const GROUP_LISTS = ['include-groups', 'forgo-groups', 'void-groups'] as const;
export type GroupList = (typeof GROUP_LISTS)[number];

/** Every reserved top-level key; any other top-level key is an object group. */
export const RESERVED_KEYS: readonly string[] = ['name', 'scope', 'allowed-behaviours', 'receiver', ...GROUP_LISTS];

/** Values read from the reserved fields: a path is present only when its value was usable. */
export interface Fields {
  text: Map<string, string>;
  booleans: Map<string, boolean>;
  lists: Map<GroupList, TextItem[]>;
  /** Where each field's value (or, when empty, its key) is written. */
  positions: Record<string, Position>;
  /** Where each reserved key was written, including sections (for messages). */
  keyPositions: Map<string, Position | undefined>;
}

/** Reads the reserved entries of the top-level mapping (`entries` holds only reserved keys). */
export function readFields(r: Reader, report: Report, entries: Entry[]): Fields {
  const f: Fields = { text: new Map(), booleans: new Map(), lists: new Map(), positions: {}, keyPositions: new Map() };
  for (const e of entries) {
    f.keyPositions.set(e.key, e.keyPos);
    if (e.valuePos) f.positions[e.key] = e.valuePos;
    if (e.key === 'name') {
      const v = readText(r, report, e, 'name', FIELD_HINTS['name']!);
      if (v !== undefined) f.text.set('name', v);
    } else if (e.key in SECTIONS) {
      readSection(r, report, e, e.key as keyof typeof SECTIONS, f);
    } else if ((GROUP_LISTS as readonly string[]).includes(e.key)) {
      const list = readTextList(r, report, e, e.key, FIELD_HINTS[e.key]!, 'group name');
      if (list !== undefined) f.lists.set(e.key as GroupList, list);
    }
  }
  return f;
}

function readSection(r: Reader, report: Report, e: Entry, section: keyof typeof SECTIONS, f: Fields): void {
  const spec: Record<string, 'text' | 'boolean'> = SECTIONS[section];
  if (r.isEmpty(e.value)) {
    report.add('MISSING_FIELD', `\`${section}\` has no fields. It needs ${Object.keys(spec).join(', ')}, indented under \`${section}:\`.`, e.keyPos, section);
    return;
  }
  if (!isMap(e.value)) {
    report.add('WRONG_TYPE', `\`${section}\` must be a section of key: value lines (${Object.keys(spec).join(', ')}), but it is ${describe(e.value)}.`, e.valuePos, section);
    return;
  }
  const found = new Set<string>();
  const unknown: Entry[] = [];
  for (const sub of r.entries(e.value, section)) {
    const path = joinPath(section, sub.key);
    const kind = spec[sub.key];
    f.keyPositions.set(path, sub.keyPos);
    if (kind === undefined) {
      unknown.push(sub);
      const guess = closest(sub.key, Object.keys(spec));
      const mean = guess !== null ? ` Did you mean \`${guess}\`?` : '';
      report.add('UNKNOWN_FIELD', `\`${section}\` has no field \`${sub.key}\`.${mean} Its fields are: ${Object.keys(spec).join(', ')}.`, sub.keyPos, path);
      continue;
    }
    found.add(sub.key);
    if (sub.valuePos) f.positions[path] = sub.valuePos;
    const hint = FIELD_HINTS[path]!;
    if (kind === 'text') {
      const v = readText(r, report, sub, path, hint);
      if (v !== undefined) f.text.set(path, v);
    } else {
      const v = readBoolean(r, report, sub, path, hint);
      if (v !== undefined) f.booleans.set(path, v);
    }
  }
  for (const field of Object.keys(spec)) {
    if (found.has(field)) continue;
    const path = joinPath(section, field);
    const typo = unknown.find((u) => closest(u.key, [field]) !== null);
    const also = typo ? ` (Is \`${typo.key}\` on line ${typo.keyPos?.line ?? '?'} meant to be it?)` : '';
    report.add('MISSING_FIELD', `\`${path}\` is missing. Add \`${field}:\` under \`${section}:\` with ${FIELD_HINTS[path]!}.${also}`, e.keyPos, path);
  }
}
