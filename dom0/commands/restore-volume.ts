// One volume's data into a qube being restored: through Qubes' import path (the agent's export
// into admin.vm.volume.ImportWithSize, SHA-256'd as it passes), or with --zfs-receive through
// dom0's own zfs receive (dom0/restore/zfs-receive.ts). restore.ts orders the steps around them.
import { createHash } from 'node:crypto';
import { QzbError, isQzbError } from '../../shared/errors.ts';
import { datasetNameProblem } from '../../shared/zfs-names.ts';
import { finding, type Finding } from '../job/findings.ts';
import { parseKeyValues } from '../qubes/parse.ts';
import type { PlannedQube, PlannedVolume } from '../restore/plan.ts';
import { pipeWriter } from '../restore/pipe-write.ts';
import type { ReceiverConnection } from './context.ts';
import type { RestoreAdapters, RestoredVolume, RestoreProgress } from './restore.ts';

type Api = (method: string, dest: string, arg?: string, payload?: string) => Promise<string>;

/** Imports one volume; false when its bytes do not have the recorded content hash (the caller fails closed). */
export async function importOne(
  p: PlannedQube, v: PlannedVolume, o: RestoredVolume, api: Api, link: ReceiverConnection, importer: RestoreAdapters, onProgress?: (p: RestoreProgress) => void,
): Promise<boolean> {
  const imp = importer.startImport(p.name, v.name, v.size);
  const hash = createHash('sha256');
  const zero = Buffer.alloc(1024 * 1024);
  const t0 = Date.now();
  let last = 0;
  // The import script ending early (refused, failed) stops the export at the next write.
  const write = pipeWriter(imp.stdin, imp.done, () => new QzbError('IMPORT_FAILED', `the import into ${p.name}:${v.name} stopped reading`));
  let exported;
  try {
    if (!link.client.exportVolume) throw new QzbError('INTERNAL', 'the receiver link cannot export');
    exported = await link.client.exportVolume(v.snapshot, {
      volsize: v.size,
      guid: v.guid,
      write: async (piece) => {
        if (piece.kind === 'data') {
          hash.update(piece.bytes);
          await write(piece.bytes);
        } else {
          for (let left = piece.length; left > 0n;) {
            const n = left >= BigInt(zero.length) ? zero.length : Number(left);
            const z = zero.subarray(0, n);
            hash.update(z);
            await write(z);
            left -= BigInt(n);
          }
        }
      },
      onProgress: (bytes) => {
        const now = Date.now();
        if (onProgress && (now - last > 1000 || bytes === v.size)) {
          last = now;
          onProgress({ qube: p.name, volume: v.name, bytes, total: v.size, elapsedMs: now - t0 });
        }
      },
    });
  } catch (e) {
    // End the import's input rather than kill it: a killed script never tells qubesd the import
    // ended, and the driver's leftover .importing volume would block the next attempt. The
    // qube stays tagged with autostart off; the next run imports the volume again.
    imp.stdin.end();
    const importError = await imp.done.then(() => null, (x: unknown) => x);
    if (importError !== null) throw importError;
    throw isQzbError(e) ? e : new QzbError('IMPORT_FAILED', `the import into ${p.name}:${v.name} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  imp.stdin.end();
  await imp.done;
  const sha = hash.digest('hex');
  o.bytes = String(exported.bytes);
  o.holeBytes = String(exported.holeBytes);
  o.sha256 = sha;
  if (v.contentHash) o.verified = sha === v.contentHash.sha256 && exported.bytes === v.contentHash.bytes;
  await checkSize(p, v, api, 'import');
  return o.verified !== false;
}

// The volume's size as qubesd reports it now must be the recorded one.
async function checkSize(p: PlannedQube, v: PlannedVolume, api: Api, after: 'import' | 'receive'): Promise<void> {
  const info = parseKeyValues(await api('admin.vm.volume.Info', p.name, v.name));
  if (info.size !== String(v.size)) throw new QzbError('RESTORE_SIZE_MISMATCH', `${p.name}:${v.name} is ${info.size ?? '?'} bytes after the ${after}, not the recorded ${v.size}`);
}

/** --zfs-receive, before anything is created: every volume's pool must use the zfs driver (the data lands as a dataset there), and the warning. */
export async function zfsReceivePreflight(api: Api, qubes: readonly PlannedQube[], encrypted: (snapshot: string) => boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  const drivers = new Map<string, string>();
  for (const q of qubes) {
    if (q.action === 'refused') continue;
    for (const v of q.volumes) {
      // A raw stream would need dom0's key and cannot be checked before the receive: the import path it is.
      if (encrypted(v.snapshot)) {
        findings.push(finding('RESTORE_ZFS_RECEIVE_ENCRYPTED', 'error', `--zfs-receive: ${v.snapshot} is encrypted on the receiver (a raw backup): restore ${q.name} without --zfs-receive (through the import path).`, { subject: `${q.name}:${v.name}` }));
        continue;
      }
      if (!drivers.has(v.pool)) drivers.set(v.pool, parseKeyValues(await api('admin.pool.Info', 'dom0', v.pool)).driver ?? '?');
      if (drivers.get(v.pool) !== 'zfs') {
        findings.push(finding('RESTORE_ZFS_RECEIVE_POOL', 'error', `--zfs-receive needs ${q.name}:${v.name}'s pool ${v.pool} to use the zfs driver, but it uses ${drivers.get(v.pool)}: restore without --zfs-receive (through the import path).`, { subject: `${q.name}:${v.name}` }));
      }
    }
  }
  if (findings.length === 0 && qubes.some((q) => q.action !== 'refused' && q.volumes.length > 0)) {
    findings.push(finding('RESTORE_ZFS_RECEIVE', 'warning', "--zfs-receive: dom0's own zfs receive parses streams the backup qube produced, in dom0's kernel. A compromised backup qube can attack dom0 this way; use it only for a backup qube you trust as much as dom0. In return the restored volumes keep their snapshots' GUIDs and the next backup stays incremental.", { subject: 'zfs-receive' }));
  }
  return findings;
}

/** One volume by zfs receive in dom0, into the dataset the qube's volume has (its vid). */
export async function receiveOne(
  p: PlannedQube, v: PlannedVolume, o: RestoredVolume, api: Api, link: ReceiverConnection, importer: RestoreAdapters, warn: (f: Finding) => void, onProgress?: (p: RestoreProgress) => void,
): Promise<void> {
  if (!importer.receiveVolume || !link.client.sendSnapshot) throw new QzbError('IMPORT_UNAVAILABLE', 'restore --zfs-receive needs the zfs receive adapter');
  const info = parseKeyValues(await api('admin.vm.volume.Info', p.name, v.name));
  const vid = info.vid ?? '';
  if (datasetNameProblem(vid) !== null || !vid.includes('/')) throw new QzbError('RESTORE_RECEIVE_FAILED', `qubesd gave ${p.name}:${v.name} the vid ${JSON.stringify(vid)}, not a ZFS dataset`);
  const t0 = Date.now();
  let last = 0;
  const sendSnapshot = link.client.sendSnapshot.bind(link.client);
  const r = await importer.receiveVolume(
    { vid, snapshot: v.snapshot, size: v.size, guid: v.guid ?? v.receiverGuid, contentHash: v.contentHash },
    { sendSnapshot },
    (bytes, estimate) => {
      const now = Date.now();
      if (onProgress && now - last > 1000) {
        last = now;
        // Stream bytes against the agent's estimate of the stream (never shown past 100 %).
        const total = estimate !== null && estimate > 0n ? estimate : v.size;
        onProgress({ qube: p.name, volume: v.name, bytes: bytes < total ? bytes : total, total, elapsedMs: now - t0 });
      }
    },
  );
  o.bytes = String(r.bytes);
  o.resumed = r.resumed;
  o.sha256 = r.sha256;
  if (v.contentHash) o.verified = true;
  if (r.left !== null) warn(finding('RESTORE_ASIDE_LEFT', 'warning', `${p.name}:${v.name}: the qube's empty volume, renamed aside to ${r.left}, could not be destroyed: destroy it by hand (zfs destroy -r ${r.left}).`, { subject: r.left }));
  await checkSize(p, v, api, 'receive');
}
