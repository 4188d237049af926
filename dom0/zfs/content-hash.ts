// `snapshot --content-hash`: the SHA-256 of a volume snapshot's bytes, read once in dom0 through a
// temporary read-only clone that Qubes never sees, destroyed afterwards.
//
// Why a clone and not `snapdev=visible`: snapdev is a property of the qube's own volume (a change
// the driver does not expect, which `zfs send -p` would carry and a crash would leave behind), and it
// makes a device of every snapshot of that volume, the driver's revisions included. The clone is
// ours alone: made at the pool root under a name no Qubes container uses (`<pool>/.qubes-zfs-backup-
// hash-<random>`; qube names start with a letter and the driver's helpers are `.tmp`, `.exported`,
// `.importing`), `readonly=on`, `volmode=dev` (a device, no partitions scanned),
// `org.qubes-os:part-of-qvm-pool=true` (dom0's Qubes udev rule then keeps its disk rules — blkid,
// udisks — away from the qube's data), `com.sun:auto-snapshot=false`, and marked with HASH_CLONE_PROPERTY
// naming the snapshot it is a clone of. Only a dataset carrying that mark, still a clone of exactly
// that snapshot, is ever destroyed by this file: if the driver promoted our clone meanwhile (a
// `qvm-remove` or `qvm-volume import` of the qube during the read promotes dependent clones), it now
// owns the qube's history and is left alone, with an error saying so.
import { randomBytes, createHash } from 'node:crypto';
import { open, realpath, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { QzbError } from '../../shared/errors.ts';
import { poolOf } from '../../shared/zfs-names.ts';
import { runZfs, ZfsCommandError, type ZfsRunOptions } from './runner.ts';

/** Our mark on a hashing clone: the snapshot it is a clone of. */
export const HASH_CLONE_PROPERTY = 'org.qubes-zfs-backup:content-hash-of';
/** The hashing clones' name prefix, directly below the pool root. */
export const HASH_CLONE_PREFIX = '.qubes-zfs-backup-hash-';
/** How long udev may take to create /dev/zvol/<clone>. */
const DEVICE_WAIT_MS = 60_000;
const READ_CHUNK = 1024 * 1024;

/** One volume snapshot's content hash. */
export interface ContentHash {
  sha256: string;
  /** The bytes hashed: the snapshot's volsize. */
  bytes: bigint;
}

/** How the hash of one snapshot went (for the caller's progress and the bench). */
export interface HashProgress {
  snapshot: string;
  done: bigint;
  total: bigint;
}

export interface ContentHashOptions extends ZfsRunOptions {
  onProgress?: (p: HashProgress) => void;
  /** The recorded GUID: the clone is refused (and destroyed) if the snapshot now has another one. */
  expectGuid?: bigint;
  /** Where device links appear (tests); /dev/zvol. */
  devRoot?: string;
}

// The clone's name for one hashing of `snapshot` (a fresh random suffix each time).
export function hashCloneName(snapshot: string, suffix = randomBytes(4).toString('hex')): string {
  return `${poolOf(snapshot)}/${HASH_CLONE_PREFIX}${suffix}`;
}

// argv (without the binary) of the clone.
export function hashCloneArgs(snapshot: string, clone: string): string[] {
  if (!snapshot.includes('@') || snapshot.startsWith('-') || clone.startsWith('-')) throw new QzbError('INTERNAL', `not a snapshot and clone: ${JSON.stringify([snapshot, clone])}`);
  return ['clone', '-o', 'readonly=on', '-o', 'volmode=dev', '-o', 'org.qubes-os:part-of-qvm-pool=true', '-o', 'com.sun:auto-snapshot=false', '-o', `${HASH_CLONE_PROPERTY}=${snapshot}`, snapshot, clone];
}

// Reads `snapshot`'s bytes through a temporary clone and returns their SHA-256 and count.
export async function hashVolumeSnapshot(snapshot: string, options: ContentHashOptions = {}): Promise<ContentHash> {
  const z = { ...(options.onCommand ? { onCommand: options.onCommand } : {}) };
  const [guidText, volsizeText] = (await runZfs(['list', '-Hp', '-t', 'snapshot', '-o', 'guid,volsize', snapshot], z)).stdout.trim().split('\t');
  if (!/^[0-9]+$/.test(guidText ?? '') || !/^[0-9]+$/.test(volsizeText ?? '')) throw new QzbError('CONTENT_HASH_FAILED', `${snapshot} is not a volume snapshot (zfs list gave guid ${JSON.stringify(guidText)}, volsize ${JSON.stringify(volsizeText)})`);
  if (options.expectGuid !== undefined && BigInt(guidText!) !== options.expectGuid) {
    throw new QzbError('CONTENT_HASH_FAILED', `${snapshot} now has GUID ${guidText}, not the recorded ${options.expectGuid}: it was replaced; nothing hashed`);
  }
  const total = BigInt(volsizeText!);
  const clone = hashCloneName(snapshot);
  await runZfs(hashCloneArgs(snapshot, clone), z);
  let hashed: ContentHash | null = null;
  let failure: unknown = null;
  try {
    const link = `${options.devRoot ?? '/dev/zvol'}/${clone}`;
    // udev may remove and re-create the link while it handles the new zvol's events: read the
    // kernel's device node it points to (/dev/zdN), which stays as long as the clone exists.
    const device = await realpath(await waitForDevice(link, snapshot));
    hashed = await hashDevice(device, snapshot, total, options.onProgress);
  } catch (e) {
    failure = e;
  }
  // Always remove the clone, even when reading failed; a failure to remove it is said, never hidden.
  await destroyHashClone(clone, snapshot, z);
  if (failure !== null) throw failure;
  if (hashed!.bytes !== total) throw new QzbError('CONTENT_HASH_FAILED', `read ${hashed!.bytes} bytes of ${snapshot} but its volsize is ${total}: not recorded`);
  return hashed!;
}

// The device link appears asynchronously (udev); poll for it.
async function waitForDevice(device: string, snapshot: string): Promise<string> {
  const t0 = Date.now();
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      if ((await stat(device)).isBlockDevice()) return device;
    } catch {
      // not there yet
    }
    if (Date.now() - t0 > DEVICE_WAIT_MS) {
      throw new QzbError('CONTENT_HASH_FAILED', `the device ${device} for reading ${snapshot} did not appear within ${DEVICE_WAIT_MS / 1000} s (is udev running in dom0?)`);
    }
    await sleep(delay);
  }
}

async function hashDevice(device: string, snapshot: string, total: bigint, onProgress?: (p: HashProgress) => void): Promise<ContentHash> {
  const h = createHash('sha256');
  const fh = await open(device, 'r');
  let done = 0n;
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let lastReport = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      done += BigInt(bytesRead);
      const now = Date.now();
      if (onProgress && now - lastReport >= 1000) {
        lastReport = now;
        onProgress({ snapshot, done, total });
      }
    }
  } finally {
    await fh.close();
  }
  onProgress?.({ snapshot, done, total });
  return { sha256: h.digest('hex'), bytes: done };
}

// Destroys one of our hashing clones, only if it still carries our mark and is still a clone of
// `snapshot` (a promoted clone owns the qube's snapshots now). udev may hold the device a moment.
export async function destroyHashClone(clone: string, snapshot: string, z: ZfsRunOptions = {}): Promise<void> {
  const [origin, mark] = (await runZfs(['get', '-H', '-o', 'value', `origin,${HASH_CLONE_PROPERTY}`, clone], z)).stdout.split('\n');
  if (origin !== snapshot || mark !== snapshot) {
    throw new QzbError('CONTENT_HASH_CLONE_KEPT', `${clone} (made to read ${snapshot}) is no longer a plain clone of it (origin ${origin ?? '?'}): ZFS promoted it, probably because the qube's volume was removed or imported meanwhile, so it may now hold that volume's snapshots. It was left alone; look at it with zfs list -t all -r ${clone}`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await runZfs(['destroy', clone], z);
      return;
    } catch (e) {
      if (!(e instanceof ZfsCommandError) || !/busy/i.test(e.stderr) || attempt >= 20) throw e;
      await sleep(250);
    }
  }
}

/** A hashing clone a crashed run left behind. */
export interface LeftoverClone {
  clone: string;
  snapshot: string;
}

// Our hashing clones anywhere in dom0's pools: marked, named as ours, directly below a pool root.
export function parseLeftovers(listing: string): LeftoverClone[] {
  const out: LeftoverClone[] = [];
  for (const line of listing.split('\n')) {
    const [name, origin, mark] = line.split('\t');
    if (name === undefined || origin === undefined || mark === undefined) continue;
    const slash = name.indexOf('/');
    if (slash < 0 || name.indexOf('/', slash + 1) >= 0 || !name.slice(slash + 1).startsWith(HASH_CLONE_PREFIX)) continue;
    if (mark === '-' || origin !== mark) continue;
    out.push({ clone: name, snapshot: mark });
  }
  return out;
}

// Removes hashing clones a crashed run left (only our own marked ones); returns what was removed.
export async function cleanupHashClones(options: ZfsRunOptions = {}): Promise<LeftoverClone[]> {
  const listing = (await runZfs(['list', '-H', '-d', '1', '-t', 'volume', '-o', `name,origin,${HASH_CLONE_PROPERTY}`], options)).stdout;
  const removed: LeftoverClone[] = [];
  for (const l of parseLeftovers(listing)) {
    await destroyHashClone(l.clone, l.snapshot, options);
    removed.push(l);
  }
  return removed;
}
