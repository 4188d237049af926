// ZFS name rules (OpenZFS namecheck.c): used on both sides to validate every name that reaches a
// `zfs` argument, and to reject anything the receiver sends that is not a plain dataset name.

/** Longest dataset/snapshot name accepted (ZFS_MAX_DATASET_NAME_LEN - 1 without the longname feature). */
export const MAX_DATASET_NAME_LENGTH = 255;

// namecheck.c valid_char: alphanumerics, '-', '_', '.', ':', ' ' (space).
const COMPONENT = /^[A-Za-z0-9_.: -]+$/;

/** Why `name` is not a valid dataset (filesystem/volume) name, or null when it is valid. */
export function datasetNameProblem(name: string): string | null {
  if (name.length === 0) return 'the name is empty';
  if (name.length > MAX_DATASET_NAME_LENGTH) return `the name is longer than ${MAX_DATASET_NAME_LENGTH} characters`;
  if (name.includes('@')) return "a dataset name cannot contain '@' (that names a snapshot)";
  if (name.includes('#')) return "a dataset name cannot contain '#' (that names a bookmark)";
  if (name.includes('%')) return "a dataset name cannot contain '%' (reserved for ZFS's partial receive state)";
  if (name.startsWith('/') || name.endsWith('/')) return "a dataset name cannot start or end with '/'";
  const parts = name.split('/');
  for (const part of parts) {
    const p = componentProblem(part);
    if (p !== null) return p;
  }
  const pool = parts[0] ?? '';
  if (!/^[A-Za-z]/.test(pool)) return 'a pool name must begin with a letter';
  if (/^(mirror|raidz|draid|spare|log)/.test(pool)) return `'${pool}' is a reserved pool name`;
  if (/^c[0-9]/.test(pool)) return `'${pool}' is a reserved pool name`;
  return null;
}

/** Why `label` (without '@') is not a valid snapshot/bookmark component, or null. */
export function componentProblem(component: string): string | null {
  if (component.length === 0) return 'a name component is empty (two slashes in a row?)';
  if (component === '.' || component === '..') return `'${component}' is not a valid name component`;
  if (!COMPONENT.test(component)) {
    const bad = [...component].find((c) => !/[A-Za-z0-9_.: -]/.test(c)) ?? '?';
    return `the character ${JSON.stringify(bad)} is not allowed in ZFS names (letters, digits, '-', '_', '.', ':' and space only)`;
  }
  return null;
}

export function isValidDatasetName(name: string): boolean {
  return datasetNameProblem(name) === null;
}

/** Why `label` is not a valid "@label" snapshot label, or null. */
export function snapshotLabelProblem(label: string): string | null {
  if (!label.startsWith('@')) return "a snapshot label must begin with '@' (for example \"@backup-2025-04-14\")";
  const component = label.slice(1);
  if (component.includes('@') || component.includes('/') || component.includes('#')) {
    return "a snapshot label cannot contain '@', '/' or '#' after the leading '@'";
  }
  return componentProblem(component);
}

/** True when `child` is `parent` itself or lies below it in the dataset tree. */
export function isSameOrDescendant(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent + '/');
}

/** The pool (first component) of a dataset, snapshot or bookmark name. */
export function poolOf(name: string): string {
  return name.split(/[/@#]/, 1)[0] ?? name;
}

/** Parent dataset name, or null for a pool root. */
export function parentOf(dataset: string): string | null {
  const i = dataset.lastIndexOf('/');
  return i < 0 ? null : dataset.slice(0, i);
}
