// `status [name]`: the imported jobs and their recorded per-target state (metadata only; reads
// nothing from the system).
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore, progressOf } from '../metadata/store.ts';
import type { TargetRecord, TargetStatus } from '../metadata/types.ts';
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
    const job: JobStatus = { name, importedAt: s.state.importedAt, sha256: s.sha256, counts: progressOf(s.state) };
    if (options.name !== undefined) job.targets = Object.values(s.state.targets).sort((a, b) => (a.snapshot < b.snapshot ? -1 : 1));
    jobs.push(job);
  }
  return { metadataDir: ctx.metadataDir, jobs };
}
