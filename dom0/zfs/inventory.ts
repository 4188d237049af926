// Runs the two listing commands and returns the ZFS inventory (two `zfs` calls in total).
import type { ZfsInventory, ZfsSnapshot } from '../inventory/types.ts';
import { runZfs, type ZfsRunOptions } from './runner.ts';
import { assembleInventory, datasetListArgs, namedSnapshotListArgs, parseDatasetList, parseSnapshotList, snapshotListArgs } from './list.ts';

// Lists every filesystem, volume, snapshot and bookmark visible to dom0.
// The two run at once: each is a process start, most of an inventory's time on a small system.
export async function listZfsInventory(options: ZfsRunOptions = {}): Promise<ZfsInventory> {
  const [datasetOut, snapshotOut] = await Promise.all([runZfs(datasetListArgs(), options), runZfs(snapshotListArgs(), options)]);
  return assembleInventory(parseDatasetList(datasetOut.stdout), parseSnapshotList(snapshotOut.stdout));
}

// Lists the named snapshots only (GUIDs of snapshots this run just created).
export async function listSnapshots(names: readonly string[], options: ZfsRunOptions = {}): Promise<ZfsSnapshot[]> {
  if (names.length === 0) return [];
  return parseSnapshotList((await runZfs(namedSnapshotListArgs(names), options)).stdout).snapshots;
}
