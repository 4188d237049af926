// restore --zfs-receive: one volume's backed-up snapshot received by dom0's own ZFS, so the
// restored volume keeps the snapshot's GUID and the job's next backup stays incremental. The
// price, stated to the user every time: dom0's kernel parses a stream the backup qube produced.
//
// The Qubes zfs driver has no call for "this dataset is the volume's new data", so the tool does
// what the driver's own import_data_end does (create the new data aside, destroy the old volume,
// rename the new one onto the vid, mark it clean), on a qube this restore created and keeps
// tagged restore-in-progress:
//   1. `zfs receive -s -u -o volmode=none <vid>.qzb-restore` fed by the agent's `zfs send` (a
//      resume token there: the stream resumes at its byte; -s keeps partial state on interrupt);
//   2. check: the received snapshot's GUID is the receiver's, its volsize the recorded size, and
//      its SHA-256 the recorded content hash when there is one (read through a read-only clone);
//   3. the fresh volume's local user properties (org.qubes:dirty, …) and volmode copied onto it,
//      and a `@qubes-clean-<8 a-z>` snapshot, as the driver's _mark_clean makes after an import;
//   4. the fresh volume (only the driver's own snapshots on it) renamed aside to <vid>.qzb-replaced,
//      the received one renamed onto the vid, the aside destroyed.
// Each step is re-entrant: a re-run finds what an interrupted one left and goes on from there.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QzbError } from '../../shared/errors.ts';
import { isDriverSnapshot } from '../plan/chains.ts';
import { hashVolumeSnapshot, type ContentHash } from '../zfs/content-hash.ts';
import { startZfsReceive } from '../zfs/receive-process.ts';
import { pipeWriter } from './pipe-write.ts';
import { StreamBegin, type BeginRecord } from '../../shared/stream-begin.ts';
import { runZfs, ZfsCommandError, type ZfsRunOptions } from '../zfs/runner.ts';
import type { ReceiverClient } from '../receiver-link/client.ts';

/** Suffix of the dataset a volume is received into, next to its vid. */
export const RECEIVING_SUFFIX = '.qzb-restore';
/** Suffix the fresh (empty) volume is renamed to before it is destroyed. */
export const REPLACED_SUFFIX = '.qzb-replaced';
/** Native properties of the fresh volume copied when they are set locally (user properties always are). */
const COPIED_NATIVE = ['volmode', 'readonly'];

/** One volume to receive. */
export interface ReceiveVolume {
  /** The volume's dataset in dom0 (admin.vm.volume.Info vid), on a zfs-driver pool. */
  vid: string;
  /** The backed-up snapshot on the receiver. */
  snapshot: string;
  size: bigint;
  /** The GUID it must have (recorded by send, else the receiver's inventory). */
  guid: bigint;
  contentHash: ContentHash | null;
}

/** What receiving one volume did. */
export interface ReceivedVolume {
  /** Stream bytes this run received (0 when an earlier run had received it all). */
  bytes: bigint;
  resumed: boolean;
  /** The volume already had the snapshot (an earlier run completed it). */
  already: boolean;
  /** The SHA-256 of the received snapshot, when a content hash was checked. */
  sha256: string | null;
  /** The aside could not be destroyed (its name), or null. */
  left: string | null;
}

type Link = Pick<ReceiverClient, 'sendSnapshot'>;

interface DatasetState {
  token: string | null;
  volsize: bigint;
  snapshots: Array<{ name: string; guid: bigint }>;
}

// What exists of `names` (volumes only), with their snapshots: two zfs calls.
async function look(names: string[], z: ZfsRunOptions): Promise<Map<string, DatasetState>> {
  const out = new Map<string, DatasetState>();
  const args = ['list', '-H', '-p', '-t', 'volume', '-o', 'name,receive_resume_token,volsize', ...names];
  const r = await runZfs(args, { ...z, allowExitCodes: [1] });
  // Exit 1 with only "does not exist" lines: some of them are missing, which is what we ask.
  if (r.exitCode !== 0 && r.stderr.split('\n').some((l) => l.trim() !== '' && !/dataset does not exist/.test(l))) throw new ZfsCommandError(['zfs', ...args], r.exitCode, r.stderr);
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [name = '', token = '-', volsize = '0'] = line.split('\t');
    if (names.includes(name)) out.set(name, { token: token === '-' || token === '' ? null : token, volsize: /^[0-9]+$/.test(volsize) ? BigInt(volsize) : 0n, snapshots: [] });
  }
  if (out.size > 0) {
    const s = await runZfs(['list', '-H', '-p', '-t', 'snapshot', '-o', 'name,guid', '-d', '1', ...out.keys()], z);
    for (const line of s.stdout.split('\n').filter(Boolean)) {
      const [name = '', guid = ''] = line.split('\t');
      const ds = out.get(name.slice(0, name.indexOf('@')));
      if (ds && /^[0-9]+$/.test(guid)) ds.snapshots.push({ name, guid: BigInt(guid) });
    }
  }
  return out;
}

function cleanLabel(): string {
  const b = randomBytes(8);
  return `qubes-clean-${[...b].map((x) => String.fromCharCode(97 + (x % 26))).join('')}`;
}

// `zfs destroy -r` of the aside, retried while udev still holds the device.
async function destroyAside(aside: string, z: ZfsRunOptions): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    const r = await runZfs(['destroy', '-r', aside], { ...z, allowExitCodes: [1] });
    if (r.exitCode === 0) return true;
    if (!/busy/i.test(r.stderr)) return false;
    await sleep(500);
  }
  return false;
}

/** Why a stream whose DRR_BEGIN says `r` is not the full single-snapshot stream of `guid`, or null. */
export function streamBeginProblem(r: BeginRecord | null, guid: bigint): string | null {
  if (r === null) return 'it does not begin with a DRR_BEGIN record';
  if (r.hdrtype !== 1) return `a compound stream (type ${r.hdrtype}: -R or -p), which could create other datasets or set properties`;
  if (r.fromguid !== 0n) return `an incremental stream from GUID ${r.fromguid}`;
  if (r.toguid !== guid) return `a stream of GUID ${r.toguid}, not ${guid}`;
  return null;
}

// Feeds the agent's stream into `zfs receive`; a failure on either side keeps ZFS's partial state.
async function receiveStream(v: ReceiveVolume, into: string, token: string | null, link: Link, z: ZfsRunOptions, onProgress?: (bytes: bigint, estimate: bigint | null) => void): Promise<bigint> {
  const proc = startZfsReceive(['receive', '-s', '-u', '-o', 'volmode=none', into], z);
  const stdin = proc.stdin;
  const toPipe = pipeWriter(stdin, proc.done, () => new QzbError('RESTORE_RECEIVE_FAILED', `zfs receive into ${into} stopped reading`));
  // zfs receive sees no byte before DRR_BEGIN says: one snapshot (no -R/-p compound stream that
  // could create other datasets or set properties), in full, of the GUID that was backed up.
  const begin = new StreamBegin();
  let held: Buffer[] | null = [];
  const write = async (chunk: Buffer): Promise<void> => {
    if (held === null) return toPipe(chunk);
    begin.push(chunk);
    held.push(chunk);
    if (begin.filled < 56) return;
    const problem = streamBeginProblem(begin.record(), v.guid);
    if (problem !== null) throw new QzbError('RESTORE_RECEIVE_FAILED', `the receiver's stream for ${v.snapshot} is not a full stream of that one snapshot (${problem}): nothing of it was received`);
    const first = Buffer.concat(held);
    held = null;
    return toPipe(first);
  };
  if (!link.sendSnapshot) throw new QzbError('INTERNAL', 'the receiver link cannot send snapshots');
  let sent: { bytes: bigint };
  try {
    sent = await link.sendSnapshot(v.snapshot, {
      volsize: v.size, guid: v.guid, resumeToken: token,
      // A full stream of a volume is its written data plus a record header per block: far below this.
      maxBytes: v.size + v.size / 4n + 64n * 1024n * 1024n,
      write, ...(onProgress ? { onProgress } : {}),
    });
  } catch (e) {
    stdin.destroy();
    const exit = await proc.done;
    const why = exit.stderr.trim().split('\n').slice(-1)[0];
    if (e instanceof QzbError) throw new QzbError(e.code, `${e.message}${why ? ` (zfs receive: ${why})` : ''}`, { cause: e });
    throw e;
  }
  stdin.end();
  const exit = await proc.done;
  if (exit.exitCode !== 0) {
    throw new QzbError('RESTORE_RECEIVE_FAILED', `zfs receive into ${into} failed (${exit.exitCode === null ? `signal ${exit.signal ?? '?'}` : `exit ${exit.exitCode}`}): ${exit.stderr.trim().split('\n').slice(0, 2).join(' / ') || 'no message'}`);
  }
  return sent.bytes;
}

/** Receives one volume into dom0 and puts it in place of the qube's fresh volume (see the top). */
export async function receiveVolume(v: ReceiveVolume, link: Link, z: ZfsRunOptions = {}, onProgress?: (bytes: bigint, estimate: bigint | null) => void): Promise<ReceivedVolume> {
  const tmp = `${v.vid}${RECEIVING_SUFFIX}`;
  const aside = `${v.vid}${REPLACED_SUFFIX}`;
  const label = v.snapshot.slice(v.snapshot.indexOf('@') + 1);
  const out: ReceivedVolume = { bytes: 0n, resumed: false, already: false, sha256: null, left: null };
  let seen = await look([v.vid, tmp, aside], z);
  const has = (ds: string): boolean => seen.get(ds)?.snapshots.some((s) => s.guid === v.guid) ?? false;

  if (!has(v.vid)) {
    const partial = seen.get(tmp);
    if (partial && partial.token === null && !has(tmp)) {
      throw new QzbError('RESTORE_TEMP_EXISTS', `${tmp} exists but holds neither ${v.snapshot} (GUID ${v.guid}) nor a partial receive of it: look at it and destroy it (zfs destroy -r ${tmp}) before running restore again`);
    }
    if (!has(tmp)) {
      out.resumed = partial?.token !== undefined && partial.token !== null;
      out.bytes = await receiveStream(v, tmp, partial?.token ?? null, link, z, onProgress);
      seen = await look([v.vid, tmp, aside], z);
      if (!has(tmp)) throw new QzbError('RESTORE_GUID_MISMATCH', `${tmp} does not hold a snapshot with GUID ${v.guid} after the receive: the stream was not the backed-up snapshot`);
    }
    const got = seen.get(tmp)!;
    if (got.volsize !== v.size) throw new QzbError('RESTORE_SIZE_MISMATCH', `${tmp} is ${got.volsize} bytes, not the recorded ${v.size}`);
    const received = got.snapshots.find((s) => s.guid === v.guid)!.name;
    if (received !== `${tmp}@${label}`) throw new QzbError('RESTORE_GUID_MISMATCH', `the stream created ${received}, not ${tmp}@${label}`);
    if (v.contentHash) {
      const h = await hashVolumeSnapshot(received, { ...z, expectGuid: v.guid });
      out.sha256 = h.sha256;
      if (h.sha256 !== v.contentHash.sha256 || h.bytes !== v.contentHash.bytes) {
        throw new QzbError('RESTORE_CONTENT_MISMATCH', `the data of ${received} does not have the SHA-256 recorded at snapshot time: the backup qube returned other bytes than were backed up (${tmp} is left for inspection; destroy it with zfs destroy -r ${tmp})`);
      }
    }
    // The fresh volume's properties and the driver's clean snapshot, before the data goes in place.
    const fresh = seen.has(v.vid) ? v.vid : seen.has(aside) ? aside : null;
    if (fresh !== null) {
      const props = await runZfs(['get', '-H', '-p', '-s', 'local', '-o', 'property,value', 'all', fresh], z);
      const set: string[] = [];
      for (const line of props.stdout.split('\n').filter(Boolean)) {
        const tab = line.indexOf('\t');
        const [k, val] = [line.slice(0, tab), line.slice(tab + 1)];
        if (k.includes(':') || COPIED_NATIVE.includes(k)) set.push(`${k}=${val}`);
      }
      if (!set.some((s) => s.startsWith('volmode='))) await runZfs(['inherit', 'volmode', tmp], z);
      if (set.length > 0) await runZfs(['set', ...set, tmp], z);
    } else {
      await runZfs(['inherit', 'volmode', tmp], z);
    }
    if (!got.snapshots.some((s) => isDriverSnapshot(s.name) && s.name.includes('@qubes-clean-'))) await runZfs(['snapshot', `${tmp}@${cleanLabel()}`], z);
    // The swap: the fresh volume aside (only the driver's snapshots on it: nothing of anybody's), the data onto the vid.
    const vidNow = seen.get(v.vid);
    if (vidNow) {
      const foreign = vidNow.snapshots.filter((s) => !isDriverSnapshot(s.name));
      if (foreign.length > 0) throw new QzbError('RESTORE_VOLUME_NOT_FRESH', `${v.vid} has snapshots the Qubes driver did not make (${foreign.map((s) => s.name).join(', ')}): it is not the empty volume of a qube this restore created, and is left alone`);
      if (seen.has(aside)) throw new QzbError('RESTORE_TEMP_EXISTS', `${aside} exists already: look at it and destroy it (zfs destroy -r ${aside}) before running restore again`);
      await runZfs(['rename', v.vid, aside], z);
    }
    await runZfs(['rename', tmp, v.vid], z);
    seen = await look([v.vid, tmp, aside], z);
  } else {
    out.already = true;
  }
  if (seen.has(aside) && !(await destroyAside(aside, z))) out.left = aside;
  return out;
}
