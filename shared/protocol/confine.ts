// "Inside the receive root" rules, applied by the agent to every name dom0 asks about and by dom0
// to every name the agent reports. Syntax is checked by the schemas; these check placement.
import { isSameOrDescendant } from '../zfs-names.ts';
import { splitPointName } from './schemas/common.ts';

/** True when `dataset` lies strictly below `root` (never the root itself). */
export function isBelowRoot(dataset: string, root: string): boolean {
  return dataset !== root && isSameOrDescendant(dataset, root);
}

/** True when `dataset` is `root` or lies below it (inventories include the root itself). */
export function isWithinRoot(dataset: string, root: string): boolean {
  return isSameOrDescendant(dataset, root);
}

/** The dataset part of a snapshot (`@`) or bookmark (`#`) name when it lies within `root`, else null. */
export function pointDatasetWithinRoot(name: string, separator: '@' | '#', root: string): string | null {
  const parts = splitPointName(name, separator);
  return parts !== null && isWithinRoot(parts.dataset, root) ? parts.dataset : null;
}
