// `zfs snapshot` with several names: ZFS creates them atomically (all or none) within one pool.
import { QzbError } from '../../shared/errors.ts';
import { poolOf } from '../../shared/zfs-names.ts';
import { runZfs, type ZfsRunOptions } from './runner.ts';

// argv (without the binary) that creates every named snapshot in one transaction.
export function snapshotArgs(names: readonly string[]): string[] {
  if (names.length === 0) throw new QzbError('INTERNAL', 'zfs snapshot needs at least one name');
  const pools = new Set(names.map(poolOf));
  if (pools.size !== 1) {
    throw new QzbError('INTERNAL', `one atomic zfs snapshot cannot span pools (${[...pools].join(', ')})`);
  }
  for (const n of names) {
    if (!n.includes('@') || n.startsWith('-')) throw new QzbError('INTERNAL', `not a snapshot name: ${JSON.stringify(n)}`);
  }
  return ['snapshot', ...names];
}

// Creates the snapshots atomically; throws ZfsCommandError when ZFS refuses.
export async function createSnapshots(names: readonly string[], options: ZfsRunOptions = {}): Promise<void> {
  await runZfs(snapshotArgs(names), options);
}
