// `check <file|name>`: every finding about the job file and the system at once, the designations
// with the group and object each came from, what is left undesignated, and a target summary.
import { isQzbError } from '../../shared/errors.ts';
import { finding, hasErrors, type Finding } from '../job/findings.ts';
import { mapLimit, ADMIN_API_CONCURRENCY } from '../inventory/collect-qubes.ts';
import { parsePropertyGetAll } from '../settings/parse.ts';
import { settingsFindings } from '../settings/findings.ts';
import type { PropertyEntry } from '../settings/schema.ts';
import type { ResolvedDesignation } from '../plan/types.ts';
import { analyseJob, summariseTargets, type TargetSummary } from './analyse.ts';
import type { Context } from './context.ts';
import { resolveJobSource, type JobSource } from './source.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { JobState } from '../metadata/types.ts';
import type { ZfsInventory } from '../inventory/types.ts';
import type { Target } from '../plan/types.ts';
import { sentHistoryGone } from '../send/lineage.ts';

// Options of `check`.
export interface CheckOptions {
  /** A job file path or an imported job's name. */
  job: string;
  /** Check the job file alone (`--file-only`): qubesd and zfs are not read. */
  fileOnly?: boolean;
}

// What `check` returns (rendered by dom0/output/check.ts).
export interface CheckResult {
  ok: boolean;
  job: string | null;
  source: { kind: JobSource['kind']; path: string };
  findings: Finding[];
  designations: ResolvedDesignation[];
  undesignated: { qubes: string[]; datasets: string[] };
  /** Null when no target could be computed (job unusable or system unreadable). */
  targets: TargetSummary | null;
  /** Whether the system inventory could be read. */
  systemChecked: boolean;
  /** Every failure to read qubesd or zfs (also among the findings); empty when the system was read
   *  or not asked for. */
  systemFailures: Finding[];
  /** True for `--file-only`: the system was not read on purpose. */
  fileOnly: boolean;
  snapshotCreation: boolean | null;
}

// Runs the check; exit status 0 when ok, 1 when any finding is an error.
export async function check(options: CheckOptions, ctx: Context): Promise<CheckResult> {
  const source = await resolveJobSource(options.job, ctx);
  const a = await analyseJob(source.text, ctx, { fileOnly: options.fileOnly === true });
  const systemChecked = a.zfs !== undefined;
  if (a.job && a.qubes && ctx.system.adminApi) a.findings.push(...(await settingsChecks(a.job.receiver.qube, a, ctx.system.adminApi)));
  if (a.job && a.zfs) a.findings.push(...(await historyChecks(a.targets, a.zfs, ctx)));
  return {
    ok: !hasErrors(a.findings),
    job: a.job?.name ?? null,
    source: { kind: source.kind, path: source.path },
    findings: a.findings,
    designations: a.designations,
    undesignated: a.undesignated,
    targets: systemChecked ? summariseTargets(a.targets) : null,
    systemChecked,
    systemFailures: a.systemFailures,
    fileOnly: a.fileOnly,
    snapshotCreation: a.job?.allowedBehaviours.snapshotCreation ?? null,
  };
}

// The settings findings, from every qube's live properties; a failure to read them is one info.
async function settingsChecks(receiverQube: string, a: Awaited<ReturnType<typeof analyseJob>>, api: NonNullable<Context['system']['adminApi']>): Promise<Finding[]> {
  const qubes = a.qubes!;
  try {
    const props = await mapLimit(qubes.qubes, ADMIN_API_CONCURRENCY, async (q) => parsePropertyGetAll(await api('admin.vm.property.GetAll', q.name), `admin.vm.property.GetAll on ${q.name}`));
    const properties = new Map<string, Record<string, PropertyEntry>>(qubes.qubes.map((q, i) => [q.name, props[i]!]));
    return settingsFindings({ qubes, designations: a.designations, targets: a.targets, properties, receiverQube });
  } catch (e) {
    if (!isQzbError(e)) throw e;
    return [finding('SETTINGS_UNREAD', 'info', `The qube properties could not be read (${e.message}), so include_in_backups, templates and netvms were not checked.`)];
  }
}

// Target datasets whose sent history is gone from the source (a restore, qvm-volume import or
// revert since), from the job states in the metadata directory (none there: nothing to say).
async function historyChecks(targets: readonly Target[], zfs: ZfsInventory, ctx: Context): Promise<Finding[]> {
  let states: JobState[] = [];
  try {
    const store = new MetadataStore(ctx.metadataDir);
    for (const name of await store.list()) states.push((await store.read(name)).state);
  } catch (e) {
    if (!isQzbError(e) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    states = [];
  }
  if (states.length === 0) return [];
  const byName = new Map(zfs.datasets.map((d) => [d.name, d]));
  const out: Finding[] = [];
  for (const dataset of new Set(targets.map((t) => t.dataset))) {
    const src = byName.get(dataset);
    const gone = src ? sentHistoryGone(src, states) : null;
    if (!gone) continue;
    out.push(finding('SENT_HISTORY_GONE', 'warning', `${dataset} has none of the snapshots this dom0 sent of it any more (${gone.labels.map((l) => `@${l}`).join(', ')}, by job ${gone.jobs.join(', ')}), neither as snapshots nor as bookmarks: it was replaced (a restore or qvm-volume import) or that history was destroyed (a revert). A receiver that holds that history cannot take an incremental or full send of it: send will stop with RECEIVER_LINEAGE_REPLACED and the zfs rename to run in the receiver qube to keep the old copy aside, unless it was renamed already or the job uses a new receive root.`, { subject: dataset, details: { labels: gone.labels, jobs: gone.jobs } }));
  }
  return out;
}
