// loadJob: job file text → Job + every finding decidable from the file alone. Pure (no I/O, no
// clock) and total: it never throws, whatever the input.
import { isMap } from 'yaml';
import type { Finding } from './findings.ts';
import { checkFieldValues } from './field-checks.ts';
import { GROUP_LISTS, RESERVED_KEYS, SECTIONS, readFields } from './fields.ts';
import type { Fields } from './fields.ts';
import { NESTED_FIELDS, readGroupEntry } from './groups.ts';
import type { GroupDef, Typo } from './groups.ts';
import { Reader, describe } from './nodes.ts';
import type { Entry } from './nodes.ts';
import { FIELD_HINTS } from './read-values.ts';
import type { TextItem } from './read-values.ts';
import { Report } from './report.ts';
import { checkStructure } from './structure.ts';
import type { Group, GroupRef, Job, Position } from './types.ts';
import { parseSource } from './yaml-source.ts';

/** The result of loading a job file: the Job (null when unusable) and all findings, in file order. */
export interface LoadResult {
  job: Job | null;
  findings: Finding[];
}

/**
 * Parses and checks a job file. `job` is null only when the file is not a YAML mapping at all
 * (empty, too large, too deeply nested, a YAML syntax error, or a top level that is a list or a
 * scalar). Otherwise a Job is built even when there are errors: unusable fields hold placeholders
 * and are listed in `job.invalid`, and groups whose `type` is unusable are left out.
 */
export function loadJob(text: string): LoadResult {
  const report = new Report();
  try {
    const job = load(typeof text === 'string' ? text : String(text), report);
    return { job, findings: report.sorted() };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    report.add('INTERNAL_ERROR', `The job file could not be checked because of a bug in qubes-zfs-backup (${why.slice(0, 200)}). Please report it with the job file.`);
    return { job: null, findings: report.sorted() };
  }
}

function load(text: string, report: Report): Job | null {
  const { doc, lines } = parseSource(text, report);
  if (doc === null) return null;
  const r = new Reader(doc, lines, report);
  const root = r.resolve(doc.contents);
  if (!isMap(root)) {
    report.add('WRONG_TYPE', `The job file must be a set of \`key: value\` lines (name, scope, allowed-behaviours, receiver, the *-groups lists and your groups), but it is ${describe(root)}.`, r.pos(doc.contents) ?? { line: 1, column: 1 });
    return null;
  }
  const top = r.pos(root) ?? { line: 1, column: 1 };

  const reserved: Entry[] = [];
  const defs = new Map<string, GroupDef>();
  const typos: Typo[] = [];
  for (const e of r.entries(root, '', (key) => NESTED_FIELDS.has(key))) {
    if (RESERVED_KEYS.includes(e.key)) {
      reserved.push(e);
      continue;
    }
    const g = readGroupEntry(r, report, e);
    if (g === null) continue;
    if ('meant' in g) typos.push(g);
    else defs.set(g.name, g);
  }

  const fields = readFields(r, report, reserved);
  const invalid = checkFieldValues(report, fields);
  for (const key of RESERVED_KEYS) {
    if (fields.keyPositions.has(key)) continue;
    const typo = typos.find((t) => t.meant === key);
    const also = typo ? ` (Is \`${typo.key}\` on line ${typo.pos?.line ?? '?'} meant to be it?)` : '';
    report.add('MISSING_FIELD', `The required field \`${key}\` is missing. Add it at the top level: ${FIELD_HINTS[key]!}.${also}`, top, key);
  }
  for (const path of requiredPaths()) {
    const seen = fields.text.has(path) || fields.booleans.has(path) || (fields.lists as Map<string, unknown>).has(path);
    if (!seen) invalid.add(path);
  }

  const lists = checkStructure(report, fields.lists, defs, fields.positions);
  return buildJob(fields, lists, defs, invalid, report.findings.some((f) => f.severity === 'error'));
}

function requiredPaths(): string[] {
  const out = ['name', ...GROUP_LISTS];
  for (const [section, spec] of Object.entries(SECTIONS)) for (const k of Object.keys(spec)) out.push(`${section}.${k}`);
  return out;
}

function buildJob(f: Fields, lists: Map<string, TextItem[]>, defs: Map<string, GroupDef>, invalid: Set<string>, hasErrors: boolean): Job {
  const text = (p: string): string => f.text.get(p) ?? '';
  const bool = (p: string): boolean => f.booleans.get(p) ?? false;
  const refs = (list: string): GroupRef[] => (lists.get(list) ?? []).map((i) => withPos<GroupRef>({ name: i.value }, i.pos));
  const groups: Group[] = [];
  for (const d of defs.values()) {
    if (d.type === null) continue;
    groups.push(withPos<Group>({ name: d.name, type: d.type, members: d.members }, d.pos));
  }
  const job: Job = {
    name: text('name'),
    scope: {
      targetSnapshot: text('scope.target-snapshot'),
      since: text('scope.since'),
      progressive: bool('scope.progressive'),
      honourOrigins: bool('scope.honour-origins'),
    },
    allowedBehaviours: {
      snapshotCreation: bool('allowed-behaviours.snapshot-creation'),
      patching: bool('allowed-behaviours.patching'),
    },
    receiver: { qube: text('receiver.qube'), dataset: text('receiver.dataset') },
    includeGroups: refs('include-groups'),
    forgoGroups: refs('forgo-groups'),
    voidGroups: refs('void-groups'),
    groups,
    positions: f.positions,
  };
  if (hasErrors && invalid.size > 0) job.invalid = [...invalid].sort();
  return job;
}

function withPos<T extends { pos?: Position }>(value: T, pos: Position | undefined): T {
  if (pos) value.pos = pos;
  return value;
}
