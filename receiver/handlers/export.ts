// export: the bytes of one received volume snapshot, for a restore. The backup itself is never
// touched: the agent clones the snapshot into a temporary read-only block device of its own
// (export-clones.ts), reads it front to back and streams it, then destroys the clone. Runs of
// all-zero 64 KiB blocks travel as export-hole counts instead of data frames, so sparse regions
// cost a few bytes on the link. Order on the wire: export-ready {volsize, guid}, then data frames
// and export-hole messages in volume order, then END and `exported` (or, when reading fails after
// export-ready, ABORT and an error reply).
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { AgentContext } from '../context.ts';
import type { ExportRequest } from '../../shared/protocol/schemas/requests.ts';
import { isBelowRoot } from '../../shared/protocol/confine.ts';
import { splitPointName } from '../../shared/protocol/schemas/common.ts';
import { MAX_DATA_CHUNK } from '../../shared/protocol/limits.ts';
import { errorReply, zfsFailure } from '../replies.ts';
import { cloneArgs, destroyClone, exportCloneName, sweepExportClones } from '../export-clones.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';

/** Zero detection granularity: a run of all-zero blocks of this size becomes a hole. */
export const HOLE_BLOCK = 64 * 1024;

/** How long the clone's block device may take to appear (udev). */
const DEVICE_WAIT_MS = 30_000;

const ZERO = Buffer.alloc(HOLE_BLOCK);

/** How an export left the session. */
export type ExportEnd = 'idle' | 'eof';

/** The volume snapshot's volsize and GUID, or a reason it cannot be exported. */
export async function describeSnapshot(ctx: AgentContext, snapshot: string, dataset: string): Promise<{ volsize: bigint; guid: string } | string> {
  const type = await ctx.zfs.zfs(['get', '-H', '-p', '-o', 'value', 'type', dataset]);
  if (type.exitCode !== 0) return `${dataset} cannot be read: ${type.stderr.trim().split('\n')[0] ?? ''}`;
  if (type.stdout.trim() !== 'volume') return `${dataset} is a ${type.stdout.trim()}, not a volume`;
  const r = await ctx.zfs.zfs(['get', '-H', '-p', '-o', 'property,value', 'volsize,guid', snapshot]);
  if (r.exitCode !== 0) return `${snapshot} cannot be read: ${r.stderr.trim().split('\n')[0] ?? ''}`;
  const values = new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  const volsize = values.get('volsize') ?? '';
  const guid = values.get('guid') ?? '';
  if (!/^[0-9]{1,20}$/.test(volsize) || !/^[0-9]{1,20}$/.test(guid)) return `${snapshot} has no readable volsize and guid`;
  return { volsize: BigInt(volsize), guid };
}

async function waitForDevice(path: string, signal: AbortSignal): Promise<boolean> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > DEVICE_WAIT_MS || signal.aborted) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Reads exactly `buf.length` bytes at `position`; throws when the device ends early. */
async function readFully(fh: FileHandle, buf: Buffer, position: bigint): Promise<void> {
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, Number(position) + filled);
    if (bytesRead === 0) throw new Error(`the device ended at byte ${Number(position) + filled}, before its volsize`);
    filled += bytesRead;
  }
}

/**
 * One data frame, waiting for the link to drain, but never past dom0 going away (a SIGTERM closes
 * the input): then the export stops and its clone is destroyed.
 */
export async function sendData(ctx: AgentContext, piece: Buffer): Promise<void> {
  for (let off = 0; off < piece.length; off += MAX_DATA_CHUNK) {
    if (ctx.inputClosed.aborted) throw new ProtocolError(ProtocolErrorCode.PEER_CLOSED, 'dom0 went away during an export');
    if (ctx.writer.writeDataFrame(piece.subarray(off, off + MAX_DATA_CHUNK))) continue;
    let onAbort = (): void => {};
    const gone = new Promise<void>((resolve) => {
      onAbort = resolve;
      ctx.inputClosed.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([ctx.writer.drained(), gone]);
    } finally {
      ctx.inputClosed.removeEventListener('abort', onAbort);
    }
  }
}

/** Streams `volsize` bytes of `fh`: data frames for data, export-hole for zero runs. Returns the hole bytes. */
async function stream(ctx: AgentContext, fh: FileHandle, volsize: bigint): Promise<bigint> {
  let position = 0n;
  let hole = 0n;
  let holes = 0n;
  const flushHole = async (): Promise<void> => {
    if (hole === 0n) return;
    await ctx.send({ kind: 'export-hole', bytes: String(hole) });
    holes += hole;
    hole = 0n;
  };
  while (position < volsize) {
    if (ctx.inputClosed.aborted) throw new ProtocolError(ProtocolErrorCode.PEER_CLOSED, 'dom0 went away during an export');
    const left = volsize - position;
    const size = left < BigInt(MAX_DATA_CHUNK) ? Number(left) : MAX_DATA_CHUNK;
    const buf = Buffer.allocUnsafe(size);
    await readFully(fh, buf, position);
    let dataStart = -1;
    for (let off = 0; off < size; off += HOLE_BLOCK) {
      const end = Math.min(off + HOLE_BLOCK, size);
      const zero = ZERO.compare(buf, off, end, 0, end - off) === 0;
      if (zero && dataStart >= 0) {
        await sendData(ctx, buf.subarray(dataStart, off));
        dataStart = -1;
      }
      if (zero) {
        hole += BigInt(end - off);
      } else if (dataStart < 0) {
        await flushHole();
        dataStart = off;
      }
    }
    if (dataStart >= 0) await sendData(ctx, buf.subarray(dataStart, size));
    position += BigInt(size);
  }
  await flushHole();
  return holes;
}

/** Answers export: export-ready, the bytes, END, exported; or an error reply (after ABORT once streaming). */
export async function handleExport(ctx: AgentContext, root: string, request: ExportRequest): Promise<ExportEnd> {
  const parts = splitPointName(request.snapshot, '@');
  if (!parts || !isBelowRoot(parts.dataset, root)) {
    await ctx.send(errorReply('REQUEST_REFUSED', `${request.snapshot} is not a snapshot below the receive root ${root}`));
    return 'idle';
  }
  const described = await describeSnapshot(ctx, request.snapshot, parts.dataset);
  if (typeof described === 'string') {
    await ctx.send(errorReply('REQUEST_REFUSED', `cannot export ${request.snapshot}: ${described}`));
    return 'idle';
  }
  // A clone a crashed agent left behind goes first (only ours, only a dead agent's: export-clones.ts).
  await sweepExportClones(ctx.zfs, root, ctx.log);
  const clone = exportCloneName(root);
  const made = await ctx.zfs.zfs(cloneArgs(request.snapshot, clone));
  if (made.exitCode !== 0) {
    await ctx.send(zfsFailure(`zfs clone ${request.snapshot} ${clone}`, made));
    return 'idle';
  }
  ctx.log(`export: ${request.snapshot} exposed read-only as ${clone}`);
  let fh: FileHandle | null = null;
  let ready = false;
  let outcome: { holes: bigint } | { error: string } | null = null;
  try {
    const device = ctx.zfs.zvolPath?.(clone) ?? `/dev/zvol/${clone}`;
    if (!(await waitForDevice(device, ctx.inputClosed))) {
      outcome = { error: `the block device ${device} of the export clone did not appear within ${DEVICE_WAIT_MS / 1000} s` };
    } else {
      fh = await open(device, 'r');
      await ctx.send({ kind: 'export-ready', snapshot: request.snapshot, volsize: String(described.volsize), guid: described.guid });
      ready = true;
      try {
        outcome = { holes: await stream(ctx, fh, described.volsize) };
      } catch (error) {
        if (ctx.writer.isClosed || ctx.inputClosed.aborted) throw error;
        outcome = { error: error instanceof Error ? error.message : String(error) };
      }
    }
  } finally {
    await fh?.close().catch(() => {});
    const destroyed = await destroyClone(ctx.zfs, clone);
    ctx.log(destroyed.exitCode === 0 ? `export: destroyed ${clone}` : `export: cannot destroy ${clone} (${destroyed.stderr.trim()}); the next session destroys it`);
    if (outcome !== null && 'holes' in outcome) {
      await ctx.writer.writeEnd();
      ctx.log(`export: ${request.snapshot} sent, ${described.volsize} bytes (${outcome.holes} as holes)`);
      await ctx.send({
        kind: 'exported', snapshot: request.snapshot, bytes: String(described.volsize), holeBytes: String(outcome.holes),
        cloneLeft: destroyed.exitCode === 0 ? null : clone,
      });
    } else if (outcome !== null) {
      if (ready) await ctx.writer.writeAbort();
      ctx.log(`export: ${request.snapshot} failed: ${outcome.error}`);
      await ctx.send(errorReply('ZFS_COMMAND_FAILED', `cannot read the export clone of ${request.snapshot}: ${outcome.error}`));
    }
  }
  return 'idle';
}
