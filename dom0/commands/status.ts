// `status [name]`: the imported jobs and their recorded per-target state (metadata only; reads
// nothing from the system).
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore, progressOf } from '../metadata/store.ts';
import type { StepInProgress, TargetRecord, TargetStatus } from '../metadata/types.ts';
import type { Context } from './context.ts';

// Options of `status`.
export interface StatusOptions {
  name?: string | undefined;
}

// One job in `status`.
export interface JobStatus {
  name: string;
  importedAt: string;
  sha256: string;
  counts: Record<TargetStatus, number>;
  /** Bytes sent for the job's targets so far (decimal string). */
  bytesSent: string;
  /** The send step in progress (or left by a run that was killed), with bytes so far; else null. */
  step: (StepInProgress & { running: boolean }) | null;
  /** Per-target records (only when a job name was given). */
  targets?: TargetRecord[];
}

// What `status` returns (also its --json document).
export interface StatusResult {
  metadataDir: string;
  jobs: JobStatus[];
}

// Reads one job's, or every job's, recorded state.
export async function status(options: StatusOptions, ctx: Context): Promise<StatusResult> {
  await requireMetadataDir(ctx.metadataDir);
  const store = new MetadataStore(ctx.metadataDir);
  const names = options.name !== undefined ? [options.name] : await store.list();
  const jobs: JobStatus[] = [];
  for (const name of names) {
    const s = await store.read(name);
    const bytesSent = Object.values(s.state.targets).reduce((n, t) => n + BigInt(t.bytes ?? '0'), 0n).toString();
    const busy = s.state.inProgress ?? null;
    const job: JobStatus = { name, importedAt: s.state.importedAt, sha256: s.sha256, counts: progressOf(s.state), bytesSent, step: busy ? { ...busy, running: isRunning(busy.pid) } : null };
    if (options.name !== undefined) job.targets = Object.values(s.state.targets).sort((a, b) => (a.snapshot < b.snapshot ? -1 : 1));
    jobs.push(job);
  }
  return { metadataDir: ctx.metadataDir, jobs };
}

// Whether a process with this pid exists (the step's run may have been killed).
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
