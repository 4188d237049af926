// `import <file> [--replace]`: checks the job file against the system and, when it has no errors,
// stores it byte for byte under its name. An existing job with other content is only replaced
// with --replace, and the message says what recorded progress that would discard.
import { QzbError } from '../../shared/errors.ts';
import { hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore, progressOf, sha256Hex } from '../metadata/store.ts';
import type { TargetStatus } from '../metadata/types.ts';
import { analyseJob } from './analyse.ts';
import type { Context } from './context.ts';
import { readJobFile } from './source.ts';

// Options of `import`.
export interface ImportOptions {
  file: string;
  replace: boolean;
}

// What `import` returns (also its --json document).
export interface ImportResult {
  ok: boolean;
  job: string | null;
  action: 'imported' | 'replaced' | 'unchanged' | 'refused';
  findings: Finding[];
  sha256: string;
  /** The job's directory in the metadata store. */
  dir?: string;
  /** Progress recorded by the job that --replace discarded. */
  discarded?: Record<TargetStatus, number>;
}

// Describes recorded progress in words ("2 snapshotted, 1 sent").
export function describeProgress(p: Record<TargetStatus, number>): string {
  const parts = (['snapshotted', 'sent', 'verified'] as const).filter((k) => p[k] > 0).map((k) => `${p[k]} ${k}`);
  return parts.length === 0 ? 'no recorded progress' : `${parts.join(', ')} target${parts.length === 1 && (p.snapshotted + p.sent + p.verified) === 1 ? '' : 's'}`;
}

// Imports a job file; refuses one with error findings.
export async function importJob(options: ImportOptions, ctx: Context): Promise<ImportResult> {
  const source = await readJobFile(options.file, ctx);
  await requireMetadataDir(ctx.metadataDir);
  const sha256 = sha256Hex(source.bytes);
  const a = await analyseJob(source.text, ctx);
  if (!a.job || hasErrors(a.findings)) {
    return { ok: false, job: a.job?.name ?? null, action: 'refused', findings: a.findings, sha256 };
  }
  const name = a.job.name;
  const store = new MetadataStore(ctx.metadataDir);
  const lock = await store.lock(name, `import ${options.file}`);
  try {
    if (lock.tookOverFrom) ctx.notice(`note: took over a stale lock of job ${name} left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command})`);
    let discarded: Record<TargetStatus, number> | undefined;
    if (await store.has(name)) {
      const old = await store.read(name).catch(() => null);
      // Identical content is a no-op, unless --replace asks to start the job over.
      if (old && old.sha256 === sha256 && !options.replace) {
        return { ok: true, job: name, action: 'unchanged', findings: a.findings, sha256, dir: old.dir };
      }
      discarded = old ? progressOf(old.state) : { pending: 0, snapshotted: 0, sent: 0, verified: 0 };
      if (!options.replace) {
        throw new QzbError('JOB_EXISTS', `a job named ${JSON.stringify(name)} is already imported with different content; replacing it would discard its recorded progress (${describeProgress(discarded)})`, {
          hint: `To start this job over from the new file, run: import ${options.file} --replace. To keep both jobs, change name: in the new file instead.`,
        });
      }
    }
    await store.write(name, source.bytes, ctx.now());
    const action = discarded ? 'replaced' : 'imported';
    await store.log(name, `${action} from ${source.path} sha256=${sha256}${discarded ? ` (discarded: ${describeProgress(discarded)})` : ''}`, ctx.now());
    const result: ImportResult = { ok: true, job: name, action, findings: a.findings, sha256, dir: store.jobDir(name) };
    if (discarded) result.discarded = discarded;
    return result;
  } finally {
    await lock.release();
  }
}
