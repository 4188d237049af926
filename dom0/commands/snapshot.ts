// `snapshot <name> [--dry-run]`: verify or create the job's target snapshots (SPEC §5). The
// decisions are dom0/snapshot/plan.ts (pure); this file collects, executes and records.
import { isQzbError } from '../../shared/errors.ts';
import { finding, hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { JobState, TargetRecord } from '../metadata/types.ts';
import type { ZfsInventory } from '../inventory/types.ts';
import { planSnapshots, snapshotExitCode, type PendingSnapshot } from '../snapshot/plan.ts';
import { snapshotsToHash } from '../snapshot/content-hash.ts';
import { formatBytes } from '../output/bytes.ts';
import { snapshotArgs } from '../zfs/snapshot.ts';
import { quoteArgv, ZfsCommandError } from '../zfs/runner.ts';
import { captureSettingsStep, type SettingsCaptured } from '../settings/snapshot-step.ts';
import { analyseJob } from './analyse.ts';
import type { Context } from './context.ts';

// Options of `snapshot`.
export interface SnapshotOptions {
  name: string;
  dryRun: boolean;
  /** Also record the SHA-256 of every volume snapshot's bytes not hashed yet. */
  contentHash?: boolean;
}

// A created or verified snapshot in the result.
export interface SnapshotRecordOut {
  snapshot: string;
  guid: string;
  /** The owning qube, or null for a dom0 dataset. */
  qube: string | null;
  /** The recorded content hash of a volume snapshot (`--content-hash`), else null. */
  contentHash: { sha256: string; bytes: string } | null;
}

/** One volume snapshot hashed by this run. */
export interface HashedOut {
  snapshot: string;
  sha256: string;
  bytes: string;
  /** Wall time of the read, in seconds. */
  seconds: number;
}

// What `snapshot` returns, with the exit status it implies.
export interface SnapshotResult {
  job: string;
  label: string | null;
  dryRun: boolean;
  created: SnapshotRecordOut[];
  verified: SnapshotRecordOut[];
  pending: PendingSnapshot[];
  /** Snapshots a --dry-run would create. */
  wouldCreate: string[];
  /** The exact zfs commands run (or, with --dry-run, that would run). */
  commands: string[];
  /** Settings documents captured in this run (with --dry-run: the qubes whose settings would be). */
  settings: SettingsCaptured[];
  /** Volume snapshots hashed by this run (`--content-hash`). */
  hashed: HashedOut[];
  /** Volume snapshots a --dry-run --content-hash would hash. */
  wouldHash: string[];
  findings: Finding[];
  exitCode: 0 | 1 | 3;
}

/** Findings the snapshot plan reports itself, in a stricter form. */
const PLAN_OWNED_CODES = new Set(['SNAPSHOT_CREATION_DISABLED', 'QUBE_IN_USE', 'TARGET_SNAPSHOT_PENDING']);

// Marks a snapshot as seen in the job state (never lowers a sent/verified status).
export function recordSnapshot(state: JobState, snapshot: string, guid: bigint, createdByTool: boolean, now: Date): void {
  const old = state.targets[snapshot];
  const record: TargetRecord = { ...old, snapshot, status: old && old.status !== 'pending' ? old.status : 'snapshotted', guid: guid.toString() };
  if (!old?.snapshottedAt) record.snapshottedAt = now.toISOString();
  if (old?.createdByTool === undefined) record.createdByTool = createdByTool;
  state.targets[snapshot] = record;
}

// Runs the snapshot command under the job's lock.
export async function snapshot(options: SnapshotOptions, ctx: Context): Promise<SnapshotResult> {
  await requireMetadataDir(ctx.metadataDir);
  const store = new MetadataStore(ctx.metadataDir);
  await store.read(options.name); // a clear JOB_NOT_FOUND before locking
  const lock = await store.lock(options.name, options.dryRun ? 'snapshot --dry-run' : 'snapshot');
  try {
    if (lock.tookOverFrom) ctx.notice(`note: took over a stale lock left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command})`);
    const stored = await store.read(options.name);
    // Before the inventory is read, so that a removed leftover is not listed in it.
    const cleanup = options.dryRun ? [] : await removeLeftoverClones(ctx);
    const a = await analyseJob(stored.text, ctx);
    const result: SnapshotResult = {
      job: options.name, label: a.job?.scope.targetSnapshot ?? null, dryRun: options.dryRun,
      created: [], verified: [], pending: [], wouldCreate: [], commands: [], settings: [], hashed: [], wouldHash: [], findings: a.findings.filter((f) => !PLAN_OWNED_CODES.has(f.code)), exitCode: 1,
    };
    const refused = !a.job || !a.zfs || !a.qubes || hasErrors(result.findings);
    // The cleanup's findings are about other snapshots' clones: they never stop this job's snapshots.
    result.findings.unshift(...cleanup);
    if (refused || !a.job || !a.zfs || !a.qubes) {
      if (!options.dryRun) await store.log(options.name, 'snapshot: refused (the job has errors; run check)', ctx.now());
      return result;
    }
    const plan = planSnapshots({ targets: a.targets, snapshotCreation: a.job.allowedBehaviours.snapshotCreation, zfs: a.zfs, qubes: a.qubes, state: stored.state });
    result.findings.push(...plan.errors);
    result.pending = plan.pending;
    result.verified = plan.verified.map((v) => ({ snapshot: v.snapshot, guid: v.guid.toString(), qube: v.qube, contentHash: stored.state.targets[v.snapshot]?.contentHash ?? null }));
    result.commands = plan.create.map((b) => quoteArgv(['zfs', ...snapshotArgs(b.snapshots)]));
    if (options.dryRun) {
      result.wouldCreate = plan.create.flatMap((b) => b.snapshots);
      const qubes = [...plan.verified.map((v) => v.qube), ...plan.create.map((b) => b.qube)].filter((q): q is string => q !== null);
      const label = a.job.scope.targetSnapshot;
      result.settings = [...new Set(qubes)].sort().filter((q) => !stored.state.settings?.[label]?.[q]).map((qube) => ({ qube, label, sha256: null, file: null }));
      if (options.contentHash) {
        // The volumes a real run would hash: the verified ones not hashed yet, and those it would create.
        const volumes = new Set(a.zfs.datasets.filter((d) => d.type === 'volume').map((d) => d.name));
        result.wouldHash = [
          ...plan.verified.filter((v) => volumes.has(v.dataset) && stored.state.targets[v.snapshot]?.contentHash === undefined).map((v) => v.snapshot),
          ...plan.create.flatMap((b) => b.snapshots).filter((s) => volumes.has(s.slice(0, s.indexOf('@')))),
        ];
      }
      // The status the real run would end with.
      result.exitCode = snapshotExitCode(plan.errors.length, plan.pending.length);
      return result;
    }
    const state = stored.state;
    const now = ctx.now();
    for (const v of plan.verified) recordSnapshot(state, v.snapshot, v.guid, false, now);
    if (plan.verified.some((v) => v.newlyRecorded)) await store.saveState(state);

    const created: { snapshot: string; qube: string | null }[] = [];
    for (const batch of plan.create) {
      try {
        await ctx.system.createSnapshots(batch.snapshots);
        created.push(...batch.snapshots.map((s) => ({ snapshot: s, qube: batch.qube })));
      } catch (e) {
        if (!isQzbError(e)) throw e;
        // One finding per batch, not one per snapshot: the batch is one zfs command that failed once.
        const subject = batch.qube ?? batch.pool;
        const who = batch.qube ? `qube ${subject}` : `the dom0 datasets in pool ${subject}`;
        const cause = e instanceof ZfsCommandError ? `zfs snapshot failed (exit ${e.exitCode}): ${e.stderr.trim().split('\n').slice(0, 3).join(' / ') || 'no message'}` : e.message;
        result.findings.push(finding('SNAPSHOT_FAILED', 'error', `could not create the snapshots of ${who} (they are created together, so none was): ${cause}`, {
          subject, details: { snapshots: batch.snapshots, ...(batch.qube ? { qube: batch.qube } : {}) },
        }));
      }
    }
    if (created.length > 0) {
      let listed = new Map<string, bigint>();
      let listFailed = false;
      try {
        listed = new Map((await ctx.system.listSnapshots(created.map((c) => c.snapshot))).map((s) => [s.name, s.guid]));
      } catch (e) {
        if (!isQzbError(e)) throw e;
        listFailed = true;
        result.findings.push(finding('SNAPSHOT_GUID_UNREAD', 'error', `created ${created.length} snapshot(s) but could not read their GUIDs back (${e.message}); run snapshot again to verify and record them`));
      }
      for (const c of created) {
        const guid = listed.get(c.snapshot);
        if (guid === undefined) {
          if (listFailed) continue;
          result.findings.push(finding('SNAPSHOT_FAILED', 'error', `${c.snapshot} was created but is not listed by zfs afterwards; run snapshot again`, { subject: c.snapshot }));
          continue;
        }
        recordSnapshot(state, c.snapshot, guid, true, ctx.now());
        result.created.push({ snapshot: c.snapshot, guid: guid.toString(), qube: c.qube, contentHash: null });
      }
      await store.saveState(state);
    }
    if (options.contentHash) await hashVolumes(result, a.zfs, state, store, ctx);
    // Settings of every qube whose snapshots were created or verified, once per label.
    const qubes = [...result.created.map((c) => c.qube), ...result.verified.map((v) => v.qube)].filter((q): q is string => q !== null);
    const captured = await captureSettingsStep({ jobDir: stored.dir, state, label: a.job.scope.targetSnapshot, qubes, api: ctx.system.adminApi, now: ctx.now() });
    result.settings = captured.captured;
    result.findings.push(...captured.findings);
    if (captured.captured.length > 0) await store.saveState(state);
    const errors = result.findings.filter((f) => f.severity === 'error').length;
    result.exitCode = snapshotExitCode(errors, result.pending.length);
    await store.log(options.name, `snapshot: ${result.created.length} created, ${result.verified.length} verified, ${result.pending.length} pending, ${result.settings.length} settings captured, ${result.hashed.length} content-hashed, ${errors} errors`, ctx.now());
    return result;
  } finally {
    await lock.release();
  }
}

// Hashing clones a crashed `snapshot --content-hash` left behind hold a dependent clone on a qube's
// snapshot (which would make the driver promote it at qvm-remove): removed on every run, ours only.
async function removeLeftoverClones(ctx: Context): Promise<Finding[]> {
  if (!ctx.system.contentHash) return [];
  try {
    return (await ctx.system.contentHash.cleanup()).map((l) =>
      finding('CONTENT_HASH_CLONE_REMOVED', 'info', `removed ${l.clone}, a temporary clone of ${l.snapshot} that an interrupted snapshot --content-hash left behind`, { subject: l.clone }));
  } catch (e) {
    if (!isQzbError(e)) throw e;
    if (e.code === 'CONTENT_HASH_CLONE_KEPT') return [finding(e.code, 'error', e.message)];
    return [finding('CONTENT_HASH_CLEANUP_FAILED', 'warning', `could not look for (or remove) hashing clones an interrupted run may have left: ${e.message}`)];
  }
}

/** A progress line at most this often while one volume is read. */
const HASH_PROGRESS_MS = 10_000;

// `--content-hash`: reads each recorded volume snapshot not hashed yet through a temporary clone
// (dom0/zfs/content-hash.ts) and records its SHA-256 at once (a later failure keeps it).
async function hashVolumes(result: SnapshotResult, zfs: ZfsInventory, state: JobState, store: MetadataStore, ctx: Context): Promise<void> {
  const items = snapshotsToHash([...result.created, ...result.verified], zfs, state);
  if (items.length === 0) return;
  const adapter = ctx.system.contentHash;
  if (!adapter) {
    result.findings.push(finding('CONTENT_HASH_UNAVAILABLE', 'error', `--content-hash cannot read volume snapshots here; ${items.length} volume snapshot(s) not hashed`));
    return;
  }
  for (const [i, it] of items.entries()) {
    const t0 = Date.now();
    let last = t0;
    ctx.notice(`hashing ${it.snapshot} (${i + 1} of ${items.length})`);
    try {
      const h = await adapter.hash(it.snapshot, {
        expectGuid: it.guid,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last < HASH_PROGRESS_MS || p.total === 0n) return;
          last = now;
          const rate = Number(p.done) / Math.max((now - t0) / 1000, 0.001);
          const eta = rate > 0 ? Math.ceil(Number(p.total - p.done) / rate) : null;
          ctx.notice(`  ${it.snapshot}: ${formatBytes(p.done)} of ${formatBytes(p.total)} (${Math.floor(Number((p.done * 100n) / p.total))}%), ${formatBytes(BigInt(Math.round(rate)))}/s${eta !== null ? `, about ${eta} s left` : ''}`);
        },
      });
      const record = { sha256: h.sha256, bytes: h.bytes.toString() };
      state.targets[it.snapshot] = { ...state.targets[it.snapshot]!, contentHash: record };
      await store.saveState(state);
      const seconds = (Date.now() - t0) / 1000;
      result.hashed.push({ snapshot: it.snapshot, ...record, seconds });
      for (const list of [result.created, result.verified]) for (const o of list) if (o.snapshot === it.snapshot) o.contentHash = record;
    } catch (e) {
      if (!isQzbError(e)) throw e;
      const code = e.code === 'CONTENT_HASH_CLONE_KEPT' ? e.code : 'CONTENT_HASH_FAILED';
      result.findings.push(finding(code, 'error', `could not hash ${it.snapshot}: ${e.message}. Its snapshot is recorded; run snapshot --content-hash again to hash it`, { subject: it.snapshot, ...(it.qube ? { details: { qube: it.qube } } : {}) }));
    }
  }
}
