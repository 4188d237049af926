// `calc <name>`: every backup target of an imported job, in send order, with its send type,
// whether the snapshot exists now, and its state in this job.
import { hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { SendType, TargetKind, TargetState } from '../plan/types.ts';
import { analyseJob } from './analyse.ts';
import type { Context } from './context.ts';

// Options of `calc`.
export interface CalcOptions {
  name: string;
}

// One target as `calc` reports it (the --json element).
export interface CalcTarget {
  dataset: string;
  snapshot: string;
  kind: TargetKind;
  send: SendType;
  exists: boolean;
  state: TargetState;
  /** Decimal GUID of the snapshot now, when it exists. */
  guid?: string;
  /** GUID recorded by `snapshot`, when different from now (or when the snapshot is gone). */
  recordedGuid?: string;
}

// What `calc` returns.
export interface CalcResult {
  ok: boolean;
  job: string;
  label: string | null;
  targets: CalcTarget[];
  findings: Finding[];
}

// Computes the targets of an imported job against the current system.
export async function calc(options: CalcOptions, ctx: Context): Promise<CalcResult> {
  await requireMetadataDir(ctx.metadataDir);
  const stored = await new MetadataStore(ctx.metadataDir).read(options.name);
  const a = await analyseJob(stored.text, ctx);
  const targets = a.targets.map((t): CalcTarget => {
    const record = stored.state.targets[t.snapshot];
    const out: CalcTarget = { dataset: t.dataset, snapshot: t.snapshot, kind: t.kind, send: t.send, exists: t.exists, state: record?.status ?? 'pending' };
    if (t.guid !== undefined) out.guid = t.guid.toString();
    if (record?.guid !== undefined && record.guid !== out.guid) out.recordedGuid = record.guid;
    return out;
  });
  return { ok: !hasErrors(a.findings), job: options.name, label: a.job?.scope.targetSnapshot ?? null, targets, findings: a.findings };
}
