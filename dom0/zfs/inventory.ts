// Runs the two listing commands and returns the ZFS inventory (two `zfs` calls in total).
import type { ZfsInventory, ZfsSnapshot } from '../inventory/types.ts';
import { runZfs, type ZfsRunOptions } from './runner.ts';
import { assembleInventory, datasetListArgs, namedSnapshotListArgs, parseDatasetList, parseSnapshotList, snapshotListArgs } from './list.ts';

// Lists every filesystem, volume, snapshot and bookmark visible to dom0.
export async function listZfsInventory(options: ZfsRunOptions = {}): Promise<ZfsInventory> {
  const datasets = parseDatasetList((await runZfs(datasetListArgs(), options)).stdout);
  const listing = parseSnapshotList((await runZfs(snapshotListArgs(), options)).stdout);
  return assembleInventory(datasets, listing);
}

// Lists the named snapshots only (GUIDs of snapshots this run just created).
export async function listSnapshots(names: readonly string[], options: ZfsRunOptions = {}): Promise<ZfsSnapshot[]> {
  if (names.length === 0) return [];
  return parseSnapshotList((await runZfs(namedSnapshotListArgs(names), options)).stdout).snapshots;
}
