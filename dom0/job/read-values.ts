// Typed reads of one field's value (text, yes/no, list of names) that report MISSING_FIELD or
// WRONG_TYPE with a message saying what to write, and return undefined when the value is unusable.
import { isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { describe } from './nodes.ts';
import type { Entry, Reader } from './nodes.ts';
import type { Report } from './report.ts';
import type { Position } from './types.ts';

/** One text item of a list, with where it is written. */
export interface TextItem {
  value: string;
  pos: Position | undefined;
}

/** What a field should hold, shown in MISSING_FIELD messages (keyed by path; groups use '<group>.x'). */
export const FIELD_HINTS: Record<string, string> = {
  name: 'the job\'s name, used on the command line, e.g. `name: mybackup1`',
  scope: 'a section with target-snapshot, since, progressive and honour-origins',
  'scope.target-snapshot': 'the label of the snapshot to back up, in quotes, e.g. `target-snapshot: "@backup-2025-04-14"`',
  'scope.since': '`beginning` for a first (full) backup, or the target snapshot of your previous backup to this receiver, e.g. `since: "@backup-2025-01-19"`',
  'scope.progressive': '`yes` to also send the snapshots between since and the target snapshot, `no` to send only the target snapshot',
  'scope.honour-origins': '`yes` to preserve clone origins where possible, `no` to send clones as independent copies',
  'allowed-behaviours': 'a section with snapshot-creation and patching',
  'allowed-behaviours.snapshot-creation': '`yes` to let the snapshot command create missing target snapshots, `no` if they must already exist',
  'allowed-behaviours.patching': '`yes` if the receiver may already hold some of the targets (only the missing ones are sent), otherwise `no`',
  receiver: 'a section with qube and dataset',
  'receiver.qube': 'the qube the backup is sent to, e.g. `qube: backups-disp`',
  'receiver.dataset': 'the dataset in the receiver qube that will hold the backup, e.g. `dataset: backuppool/backups/mydesktop`',
  'include-groups': 'the list of groups to back up, e.g. `include-groups: [core-qubes]`',
  'forgo-groups': 'the list of groups you decline to back up; write `forgo-groups: []` for none',
  'void-groups': 'the list of groups hard-excluded from the backup; write `void-groups: []` for none',
  '<group>.type': '`type: qubes` or `type: datasets`',
  '<group>.members': 'the list of qube names (type: qubes) or dataset names (type: datasets); `members: []` for none',
};

const BOOLEAN_WORDS = /^(yes|no|true|false|on|off|y|n)$/i;

/** Reads a text value; numbers, dates and yes/no values are reported (they need quotes). */
export function readText(r: Reader, report: Report, e: Entry, path: string, hint: string): string | undefined {
  if (r.isEmpty(e.value)) {
    report.add('MISSING_FIELD', `\`${path}\` has no value. Give ${hint}.`, e.keyPos, path);
    return undefined;
  }
  const v = e.value;
  if (isScalar(v) && typeof v.value === 'string') return v.value;
  if (isScalar(v) && v.source) {
    report.add('WRONG_TYPE', `\`${path}\` must be text, but YAML reads ${v.source} as ${describe(v, false)}. Put it in quotes: ${lastKey(path)}: "${v.source}".`, e.valuePos, path);
  } else {
    report.add('WRONG_TYPE', `\`${path}\` must be text, but it is ${describe(v)}. Give ${hint}.`, e.valuePos, path);
  }
  return undefined;
}

/** Reads a yes/no value (YAML 1.1: yes/no, true/false, on/off). */
export function readBoolean(r: Reader, report: Report, e: Entry, path: string, hint: string): boolean | undefined {
  if (r.isEmpty(e.value)) {
    report.add('MISSING_FIELD', `\`${path}\` has no value. Write ${hint}.`, e.keyPos, path);
    return undefined;
  }
  const v = e.value;
  if (isScalar(v) && typeof v.value === 'boolean') return v.value;
  const quoted = isScalar(v) && (v.type === 'QUOTE_DOUBLE' || v.type === 'QUOTE_SINGLE');
  if (quoted && typeof v.value === 'string' && BOOLEAN_WORDS.test(v.value.trim())) {
    report.add('WRONG_TYPE', `\`${path}\` must be yes or no, but it is the text ${JSON.stringify(v.value)} in quotes. Remove the quotes: ${lastKey(path)}: ${v.value.trim().toLowerCase()}.`, e.valuePos, path);
    return undefined;
  }
  report.add('WRONG_TYPE', `\`${path}\` must be yes or no, but it is ${describe(v)}. Write ${hint}.`, e.valuePos, path);
  return undefined;
}

/** Reads a list of text items (group names, members); wrong items are reported and skipped. */
export function readTextList(r: Reader, report: Report, e: Entry, path: string, hint: string, itemWord: string): TextItem[] | undefined {
  if (r.isEmpty(e.value)) {
    report.add('MISSING_FIELD', `\`${path}\` has no value. Give ${hint}.`, e.keyPos, path);
    return undefined;
  }
  const v = e.value;
  if (!isSeq(v)) {
    const single = isScalar(v) && typeof v.value === 'string' ? ` To list one, write ${lastKey(path)}: [${v.value}].` : '';
    report.add('WRONG_TYPE', `\`${path}\` must be a list, but it is ${describe(v)}.${single} Give ${hint}.`, e.valuePos, path);
    return undefined;
  }
  const out: TextItem[] = [];
  for (const item of v.items) {
    const node = r.resolve(item) as YamlNode | null;
    const pos = r.pos(item) ?? e.valuePos;
    if (isScalar(node) && typeof node.value === 'string') {
      out.push({ value: node.value, pos });
    } else if (isScalar(node) && node.source) {
      report.add('WRONG_TYPE', `The ${itemWord} ${node.source} in \`${path}\` is read by YAML as ${describe(node, false)}, not as a name. Put it in quotes: - "${node.source}".`, pos, node.source);
    } else {
      report.add('WRONG_TYPE', `An item of \`${path}\` is ${describe(node)}; each item must be a ${itemWord}.`, pos, path);
    }
  }
  return out;
}

function lastKey(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}
