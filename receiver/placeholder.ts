// Placeholder parents: empty filesystems the agent creates so that `root/pool/a/b` can be received
// before (or without) `root/pool/a`. They never mount (canmount=off) and carry a user property
// marking them as ours, so dom0's inventory can tell them from received datasets.
import type { AgentZfs, ZfsOutput } from './zfs-runner.ts';
import { parentOf } from '../shared/zfs-names.ts';
import { datasetTypeOf } from './zfs-queries.ts';

/** The user property set on every placeholder (value "on"). */
export const PLACEHOLDER_PROPERTY = 'org.qubes-zfs-backup:placeholder';

/** The datasets strictly between `root` and `dataset`, outermost first. */
export function ancestorsBelowRoot(dataset: string, root: string): string[] {
  const out: string[] = [];
  for (let p = parentOf(dataset); p !== null && p !== root && p.startsWith(root + '/'); p = parentOf(p)) out.unshift(p);
  return out;
}

/** Creates each missing ancestor of `dataset` below `root`; returns the failed command's output, or null. */
export async function ensureParents(zfs: AgentZfs, dataset: string, root: string, log: (line: string) => void): Promise<{ name: string; output: ZfsOutput } | null> {
  const ancestors = ancestorsBelowRoot(dataset, root);
  // ZFS has no dataset without its parent: when the nearest ancestor exists, they all do. One zfs
  // call in the usual case (every later backup), instead of one per level.
  const nearest = ancestors[ancestors.length - 1];
  if (nearest === undefined || (await datasetTypeOf(zfs, nearest)) !== null) return null;
  for (const name of ancestors) {
    if ((await datasetTypeOf(zfs, name)) !== null) continue;
    // One level at a time, never `create -p`: with -p, ZFS ignores the -o options for the parents.
    const output = await zfs.zfs(['create', '-o', 'canmount=off', '-o', `${PLACEHOLDER_PROPERTY}=on`, name]);
    if (output.exitCode !== 0) return { name, output };
    log(`created placeholder ${name}`);
  }
  return null;
}
