// Builds the Qubes inventory from the Admin API: admin.vm.List once, admin.vm.volume.List and
// admin.vm.volume.Info per qube (per-qube by the API's design; run with bounded concurrency),
// admin.pool.List and admin.pool.Info per pool.
import { adminCall, type AdminCallOptions } from '../qubes/client.ts';
import { parseBool, parseIntField, parseKeyValues, parseNameList, parseVmList } from '../qubes/parse.ts';
import type { QubesInventory, QubesPool, QubesVolume, Qube } from './types.ts';

/** How many Admin API calls run at once. */
export const ADMIN_API_CONCURRENCY = 8;

// Runs fn over items with at most `limit` in flight, keeping the input order.
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// Converts an admin.vm.volume.Info payload into a QubesVolume.
export function volumeFromInfo(name: string, info: Record<string, string>): QubesVolume {
  return {
    name,
    pool: info.pool ?? '',
    vid: info.vid ?? '',
    saveOnStop: parseBool(info.save_on_stop, 'save_on_stop'),
    snapOnStart: parseBool(info.snap_on_start, 'snap_on_start'),
    rw: parseBool(info.rw, 'rw'),
    source: info.source ?? '',
    revisionsToKeep: parseIntField(info.revisions_to_keep, 'revisions_to_keep'),
    ephemeral: info.ephemeral === undefined ? false : parseBool(info.ephemeral, 'ephemeral'),
  };
}

// Converts an admin.pool.Info payload into a QubesPool.
export function poolFromInfo(name: string, info: Record<string, string>): QubesPool {
  const pool: QubesPool = { name, driver: info.driver ?? '', config: info };
  if (info.container !== undefined && info.container !== '') pool.container = info.container;
  return pool;
}

// Collects every qube (except the AdminVM), its volumes, and every storage pool.
export async function collectQubes(options: AdminCallOptions = {}): Promise<QubesInventory> {
  const vms = parseVmList(await adminCall('admin.vm.List', 'dom0', '', options)).filter((vm) => vm.klass !== 'AdminVM');
  const volumeNames = await mapLimit(vms, ADMIN_API_CONCURRENCY, async (vm) =>
    parseNameList(await adminCall('admin.vm.volume.List', vm.name, '', options)));
  const pairs = vms.flatMap((vm, i) => (volumeNames[i] ?? []).map((vol) => ({ vm: vm.name, vol })));
  const infos = await mapLimit(pairs, ADMIN_API_CONCURRENCY, async ({ vm, vol }) =>
    volumeFromInfo(vol, parseKeyValues(await adminCall('admin.vm.volume.Info', vm, vol, options))));
  const qubes: Qube[] = vms.map((vm) => ({ name: vm.name, klass: vm.klass, state: vm.state, volumes: [] }));
  const byName = new Map(qubes.map((q) => [q.name, q]));
  pairs.forEach((p, i) => byName.get(p.vm)?.volumes.push(infos[i] as QubesVolume));
  const poolNames = parseNameList(await adminCall('admin.pool.List', 'dom0', '', options));
  const pools = await mapLimit(poolNames, ADMIN_API_CONCURRENCY, async (p) =>
    poolFromInfo(p, parseKeyValues(await adminCall('admin.pool.Info', 'dom0', p, options))));
  return { qubes, pools };
}
