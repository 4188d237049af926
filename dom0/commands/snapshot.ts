// `snapshot <name> [--dry-run]`: verify or create the job's target snapshots (SPEC §5). The
// decisions are dom0/snapshot/plan.ts (pure); this file collects, executes and records.
import { isQzbError } from '../../shared/errors.ts';
import { finding, hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { JobState, TargetRecord } from '../metadata/types.ts';
import { planSnapshots, snapshotExitCode, type PendingSnapshot } from '../snapshot/plan.ts';
import { snapshotArgs } from '../zfs/snapshot.ts';
import { quoteArgv, ZfsCommandError } from '../zfs/runner.ts';
import { captureSettingsStep, type SettingsCaptured } from '../settings/snapshot-step.ts';
import { analyseJob } from './analyse.ts';
import type { Context } from './context.ts';

// Options of `snapshot`.
export interface SnapshotOptions {
  name: string;
  dryRun: boolean;
}

// A created or verified snapshot in the result.
export interface SnapshotRecordOut {
  snapshot: string;
  guid: string;
  /** The owning qube, or null for a dom0 dataset. */
  qube: string | null;
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
    const a = await analyseJob(stored.text, ctx);
    const result: SnapshotResult = {
      job: options.name, label: a.job?.scope.targetSnapshot ?? null, dryRun: options.dryRun,
      created: [], verified: [], pending: [], wouldCreate: [], commands: [], settings: [], findings: a.findings.filter((f) => !PLAN_OWNED_CODES.has(f.code)), exitCode: 1,
    };
    if (!a.job || !a.zfs || !a.qubes || hasErrors(result.findings)) {
      if (!options.dryRun) await store.log(options.name, 'snapshot: refused (the job has errors; run check)', ctx.now());
      return result;
    }
    const plan = planSnapshots({ targets: a.targets, snapshotCreation: a.job.allowedBehaviours.snapshotCreation, zfs: a.zfs, qubes: a.qubes, state: stored.state });
    result.findings.push(...plan.errors);
    result.pending = plan.pending;
    result.verified = plan.verified.map((v) => ({ snapshot: v.snapshot, guid: v.guid.toString(), qube: v.qube }));
    result.commands = plan.create.map((b) => quoteArgv(['zfs', ...snapshotArgs(b.snapshots)]));
    if (options.dryRun) {
      result.wouldCreate = plan.create.flatMap((b) => b.snapshots);
      const qubes = [...plan.verified.map((v) => v.qube), ...plan.create.map((b) => b.qube)].filter((q): q is string => q !== null);
      const label = a.job.scope.targetSnapshot;
      result.settings = [...new Set(qubes)].sort().filter((q) => !stored.state.settings?.[label]?.[q]).map((qube) => ({ qube, label, sha256: null, file: null }));
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
        result.created.push({ snapshot: c.snapshot, guid: guid.toString(), qube: c.qube });
      }
      await store.saveState(state);
    }
    // Settings of every qube whose snapshots were created or verified, once per label.
    const qubes = [...result.created.map((c) => c.qube), ...result.verified.map((v) => v.qube)].filter((q): q is string => q !== null);
    const captured = await captureSettingsStep({ jobDir: stored.dir, state, label: a.job.scope.targetSnapshot, qubes, api: ctx.system.adminApi, now: ctx.now() });
    result.settings = captured.captured;
    result.findings.push(...captured.findings);
    if (captured.captured.length > 0) await store.saveState(state);
    const errors = result.findings.filter((f) => f.severity === 'error').length;
    result.exitCode = snapshotExitCode(errors, result.pending.length);
    await store.log(options.name, `snapshot: ${result.created.length} created, ${result.verified.length} verified, ${result.pending.length} pending, ${result.settings.length} settings captured, ${errors} errors`, ctx.now());
    return result;
  } finally {
    await lock.release();
  }
}
