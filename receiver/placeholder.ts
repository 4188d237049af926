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

/** Creates each missing ancestor of `dataset` below `root` (adding what it finds or makes to `known`); returns the failed command's output, or null. */
export async function ensureParents(zfs: AgentZfs, dataset: string, root: string, log: (line: string) => void, known: Set<string>): Promise<{ name: string; output: ZfsOutput } | null> {
  // ZFS has no dataset without its parent: walking up from the nearest ancestor, the first one that
  // exists ends the search, and all above it exist. One zfs call in the usual case (none when the
  // session has seen the parent: `known`, see AgentContext); each level is looked up once.
  const missing: string[] = [];
  for (const name of ancestorsBelowRoot(dataset, root).reverse()) {
    if (known.has(name)) break;
    if ((await datasetTypeOf(zfs, name)) !== null) {
      known.add(name);
      break;
    }
    missing.unshift(name);
  }
  for (const name of missing) {
    // One level at a time, never `create -p`: with -p, ZFS ignores the -o options for the parents.
    const output = await zfs.zfs(['create', '-o', 'canmount=off', '-o', `${PLACEHOLDER_PROPERTY}=on`, name]);
    if (output.exitCode !== 0) return { name, output };
    known.add(name);
    log(`created placeholder ${name}`);
  }
  return null;
}
