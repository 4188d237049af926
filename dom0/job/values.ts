// Rules for the values a job file names: the job name, snapshot labels, qube names and dataset
// names. Each returns a sentence saying what is wrong and what to write instead, or null.
import { datasetNameProblem, snapshotLabelProblem } from '../../shared/zfs-names.ts';
import { closest } from './suggest.ts';

/** A job name: a safe command-line argument and metadata directory name. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Qubes' own rule for qube names (qubes/vm/__init__.py validate_name), under 32 characters. */
export const QUBE_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;
/** The value of `scope.since` for a first, full backup. */
export const SINCE_BEGINNING = 'beginning';

/**
 * Why `name` cannot be a job name, or null: the one rule for the job file's `name` (INVALID_NAME
 * finding) and for the metadata store's job directories (dom0/metadata/store.ts). `subject` is
 * how the sentence names it.
 */
export function jobNameProblem(name: string, subject = '`name`'): string | null {
  if (JOB_NAME.test(name)) return null;
  const rule = 'it is typed on the command line and used as the name of the job\'s metadata directory, so it must be 1 to 64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit (for example mybackup1)';
  if (name.length === 0) return `${subject} is empty; ${rule}.`;
  if (name.length > 64) return `${subject} is ${name.length} characters long; ${rule}.`;
  if (!/^[A-Za-z0-9]/.test(name)) return `${subject} ${JSON.stringify(name)} starts with ${JSON.stringify([...name][0])}; ${rule}.`;
  const bad = [...name].find((c) => !/[A-Za-z0-9_.-]/.test(c)) ?? '?';
  return `${subject} ${JSON.stringify(name)} contains ${JSON.stringify(bad)}; ${rule}.`;
}

/** Why `label` is not a usable "@label" for `field` (target-snapshot or since), or null. */
export function labelProblem(label: string, field: 'target-snapshot' | 'since'): string | null {
  const example = field === 'since' ? '"@backup-2025-01-19"' : '"@backup-2025-04-14"';
  if (label.length > 255) return `The label is ${label.length} characters long; ZFS names are at most 255.`;
  if (!label.startsWith('@')) {
    if (field === 'since' && closest(label, [SINCE_BEGINNING]) !== null) {
      return `\`since: ${label}\` is not understood. Did you mean \`since: beginning\` (a full backup)?`;
    }
    const at = label.indexOf('@');
    if (at > 0 && !label.slice(at + 1).includes('@')) {
      return `${JSON.stringify(label)} is a full snapshot name; give only the label, from the '@' on: ${field}: "${label.slice(at)}".`;
    }
    const also = field === 'since' ? ' (or the word beginning for a first, full backup)' : '';
    if (snapshotLabelProblem('@' + label) === null) {
      return `A snapshot label always begins with '@': write ${field}: "@${label}" (in quotes, since YAML treats a leading '@' specially)${also}.`;
    }
    return `${JSON.stringify(label)} is not a snapshot label. A label is '@' followed by letters, digits, '-', '_', '.', ':' or spaces, in quotes, e.g. ${field}: ${example}${also}.`;
  }
  const problem = snapshotLabelProblem(label);
  if (problem === null) return null;
  return `${JSON.stringify(label)} is not a valid snapshot label: ${problem}. Example: ${field}: ${example}.`;
}

/** Why `name` is not a qube name (for a qubes group member or `receiver.qube`), or null. */
export function qubeNameProblem(name: string): string | null {
  if (QUBE_NAME.test(name) && name !== 'none' && name !== 'default') return null;
  if (name.length === 0) return 'A qube name cannot be empty.';
  if (name.includes('/')) {
    return `${JSON.stringify(name)} is not a qube name but looks like a ZFS dataset; list datasets in a group with \`type: datasets\`.`;
  }
  if (name === 'none' || name === 'default') return `${JSON.stringify(name)} is a reserved word in Qubes, not a qube name.`;
  if (name.length > 31) return `${JSON.stringify(name)} is ${name.length} characters long; Qubes names are at most 31.`;
  if (!/^[a-zA-Z]/.test(name)) return `${JSON.stringify(name)} is not a qube name: qube names start with a letter.`;
  const bad = [...name].find((c) => !/[a-zA-Z0-9_.-]/.test(c)) ?? '?';
  return `${JSON.stringify(name)} is not a qube name: ${JSON.stringify(bad)} is not allowed (letters, digits, '-', '_' and '.' only).`;
}

/** Why `name` is not a ZFS dataset name (datasets group member or `receiver.dataset`), or null. */
export function datasetProblem(name: string): string | null {
  const problem = datasetNameProblem(name);
  if (problem === null) return null;
  if (name.startsWith('/')) {
    return `${JSON.stringify(name)} looks like a directory path; give the ZFS dataset name instead (as \`zfs list\` shows it, e.g. mainpool/dom0).`;
  }
  const at = name.indexOf('@');
  if (at > 0) {
    return `${JSON.stringify(name)} names a snapshot; list the dataset ${JSON.stringify(name.slice(0, at))} (the snapshot label comes from scope.target-snapshot).`;
  }
  return `${JSON.stringify(name)} is not a valid ZFS dataset name: ${problem}.`;
}
