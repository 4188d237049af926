// inventory: every filesystem and volume under the receive root, then every snapshot and
// bookmark, in bounded batches (each well under the control frame limit), then the totals.
import type { AgentContext, InventoryListing } from '../context.ts';
import type { DatasetInfo, PointInfo } from '../../shared/protocol/schemas/replies.ts';
import { datasetInfo, pointInfo } from '../../shared/protocol/schemas/replies.ts';
import { MAX_INVENTORY_BATCH } from '../../shared/protocol/limits.ts';
import { errorReply, zfsFailure } from '../replies.ts';
import { saysMissing } from '../zfs-queries.ts';
import { PLACEHOLDER_PROPERTY } from '../placeholder.ts';

/** Estimated encoded bytes per batch; keeps each inventory-batch far below MAX_CONTROL_FRAME. */
const BATCH_BYTES = 256 * 1024;

const DATASET_PROPS = ['name', 'type', 'guid', 'createtxg', 'origin', 'encryption', 'inconsistent', PLACEHOLDER_PROPERTY, 'receive_resume_token', 'written'];
const POINT_PROPS = ['name', 'type', 'guid', 'createtxg'];

/**
 * Parses one `zfs list -H -p` line of DATASET_PROPS; throws on anything unexpected. `placeholder`
 * is only the marker's value here (a listing cannot tell local from inherited): handleInventory
 * clears it for datasets that have snapshots (see isPlaceholder).
 */
export function parseDatasetLine(line: string): DatasetInfo {
  const f = line.split('\t');
  if (f.length !== DATASET_PROPS.length) throw new Error(`unexpected zfs list line: ${JSON.stringify(line.slice(0, 200))}`);
  const [name, type, guid, createtxg, origin, encryption, inconsistent, placeholder, token, written] = f as [string, string, string, string, string, string, string, string, string, string];
  const isInconsistent = inconsistent === '1' || inconsistent === 'on';
  return datasetInfo.parse({
    name, type, guid, createtxg,
    origin: origin === '-' ? null : origin,
    encryption,
    inconsistent: isInconsistent,
    placeholder: placeholder === 'on' && type === 'filesystem' && !isInconsistent,
    resumeToken: token === '-' || token === '' ? null : token,
    written,
  });
}

/**
 * Clears `placeholder` on datasets that have snapshots. User properties inherit, so a dataset
 * below a placeholder may show the marker without being one; a placeholder never has snapshots
 * (and received datasets carry the marker locally as "off", see receiveArgs).
 */
export function settlePlaceholders(datasets: DatasetInfo[], points: PointInfo[]): void {
  const withSnapshots = new Set<string>();
  for (const p of points) if (p.type === 'snapshot') withSnapshots.add(p.name.slice(0, p.name.indexOf('@')));
  for (const d of datasets) if (d.placeholder && withSnapshots.has(d.name)) d.placeholder = false;
}

/** Parses one `zfs list -H -p` line of POINT_PROPS; throws on anything unexpected. */
export function parsePointLine(line: string): PointInfo {
  const f = line.split('\t');
  if (f.length !== POINT_PROPS.length) throw new Error(`unexpected zfs list line: ${JSON.stringify(line.slice(0, 200))}`);
  const [name, type, guid, createtxg] = f as [string, string, string, string];
  return pointInfo.parse({ name, type, guid, createtxg });
}

/** The two listings of an inventory, run at once (each is a process start, a large part of an inventory's time). */
export function listInventory(ctx: AgentContext, root: string): Promise<InventoryListing> {
  return Promise.all([
    ctx.zfs.zfs(['list', '-H', '-p', '-r', '-t', 'filesystem,volume', '-o', DATASET_PROPS.join(','), root]),
    ctx.zfs.zfs(['list', '-H', '-p', '-r', '-t', 'snapshot,bookmark', '-o', POINT_PROPS.join(','), root]),
  ]);
}

/** Answers inventory with batches and an inventory-end, or one error reply (from `prefetched` listings where hello started them). */
export async function handleInventory(ctx: AgentContext, root: string, prefetched?: Promise<InventoryListing>): Promise<void> {
  const [ds, points] = await (prefetched ?? listInventory(ctx, root));
  if (ds.exitCode !== 0) {
    await ctx.send(saysMissing(ds.stderr)
      ? errorReply('RECEIVE_ROOT_MISSING', `the receive root ${root} does not exist: create it with "zfs create -o mountpoint=none ${root}"`)
      : zfsFailure(`listing the datasets under ${root}`, ds));
    return;
  }
  if (points.exitCode !== 0) {
    await ctx.send(zfsFailure(`listing the snapshots under ${root}`, points));
    return;
  }
  let datasets: DatasetInfo[];
  let snapshots: PointInfo[];
  try {
    datasets = ds.stdout.split('\n').filter(Boolean).map(parseDatasetLine);
    snapshots = points.stdout.split('\n').filter(Boolean).map(parsePointLine);
    settlePlaceholders(datasets, snapshots);
    ctx.known = new Set(datasets.map((d) => d.name));
  } catch (error) {
    await ctx.send(errorReply('AGENT_INTERNAL', `cannot represent the inventory of ${root}: ${String(error)}`));
    return;
  }
  let batch = { datasets: [] as DatasetInfo[], snapshots: [] as PointInfo[] };
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.datasets.length + batch.snapshots.length === 0) return;
    await ctx.send({ kind: 'inventory-batch', ...batch });
    batch = { datasets: [], snapshots: [] };
    bytes = 0;
  };
  for (const d of datasets) {
    const size = 200 + d.name.length + (d.origin?.length ?? 0) + (d.resumeToken?.length ?? 0);
    if (batch.datasets.length >= MAX_INVENTORY_BATCH || bytes + size > BATCH_BYTES) await flush();
    batch.datasets.push(d);
    bytes += size;
  }
  for (const p of snapshots) {
    const size = 100 + p.name.length;
    if (batch.snapshots.length >= MAX_INVENTORY_BATCH || bytes + size > BATCH_BYTES) await flush();
    batch.snapshots.push(p);
    bytes += size;
  }
  await flush();
  ctx.log(`inventory: ${datasets.length} datasets, ${snapshots.length} snapshots and bookmarks`);
  await ctx.send({ kind: 'inventory-end', datasets: datasets.length, snapshots: snapshots.length });
}
