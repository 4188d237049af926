// The metadata store: per job `<dir>/<name>/` holds job.yaml (the imported file, byte for byte),
// job.sha256, state.json (JobState) and log/runs.log (a line per run). A new job directory is
// built under a temporary name and renamed into place, so an import is all or nothing.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { QzbError } from '../../shared/errors.ts';
import { appendLine, fsyncDir, writeFileAtomic } from './atomic.ts';
import { acquireLock, type JobLock } from './lock.ts';
import type { JobState, TargetStatus } from './types.ts';

const STATUS = z.enum(['pending', 'snapshotted', 'sent', 'verified']);
const DECIMAL = z.string().regex(/^[0-9]+$/);

const jobStateSchema = z.object({
  version: z.literal(1),
  job: z.string(),
  configSha256: z.string().regex(/^[0-9a-f]{64}$/),
  importedAt: z.string(),
  targets: z.record(z.string(), z.object({
    snapshot: z.string(),
    status: STATUS,
    guid: DECIMAL.optional(),
    snapshottedAt: z.string().optional(),
    createdByTool: z.boolean().optional(),
    bytes: DECIMAL.optional(),
    sentAt: z.string().optional(),
  }).passthrough()),
  settings: z.record(z.string(), z.record(z.string(), z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().min(0),
    capturedAt: z.string(),
    file: z.string().regex(/^settings\/[^/\0]+\/[^/\0]+\.json$/),
  }).strict())).optional(),
}).passthrough();

// An imported job as read back from the store.
export interface StoredJob {
  name: string;
  dir: string;
  /** The imported job file, exactly as it was. */
  text: string;
  sha256: string;
  state: JobState;
}

// SHA-256 of a job file's bytes, hex.
export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

// Why `name` cannot be a job directory name, or null.
export function jobNameProblem(name: string): string | null {
  if (name.length === 0) return 'the name is empty';
  if (name.length > 200) return 'the name is longer than 200 characters';
  if (name.startsWith('.')) return "the name cannot start with '.'";
  if (name.startsWith('-')) return "the name cannot start with '-' (it would read as an option)";
  if (/[/\0\n\r\t]/.test(name)) return 'the name cannot contain "/", a NUL, a tab or a line break';
  return null;
}

function checkName(name: string): void {
  const problem = jobNameProblem(name);
  if (problem) throw new QzbError('INVALID_NAME', `${JSON.stringify(name)} cannot be used as a job name: ${problem}`);
}

// Counts of the targets by status in a job state (to say what a replace would discard).
export function progressOf(state: JobState): Record<TargetStatus, number> {
  const out: Record<TargetStatus, number> = { pending: 0, snapshotted: 0, sent: 0, verified: 0 };
  for (const t of Object.values(state.targets)) out[t.status]++;
  return out;
}

/** One metadata directory. Every method checks names; none creates the directory itself. */
export class MetadataStore {
  constructor(readonly dir: string) {}

  // Directory of one job.
  jobDir(name: string): string {
    checkName(name);
    return path.join(this.dir, name);
  }

  // The lock file of one job (beside its directory, so `import` can lock a job not yet there).
  lockFile(name: string): string {
    checkName(name);
    return path.join(this.dir, `.${name}.lock`);
  }

  // Takes the per-job lock; throws JOB_LOCKED naming the holder.
  lock(name: string, command: string): Promise<JobLock> {
    return acquireLock(this.lockFile(name), command);
  }

  // True when a job of that name has been imported.
  async has(name: string): Promise<boolean> {
    try {
      return (await stat(path.join(this.jobDir(name), 'job.yaml'))).isFile();
    } catch {
      return false;
    }
  }

  // Names of every imported job, sorted.
  async list(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    const names: string[] = [];
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && (await this.has(e.name))) names.push(e.name);
    }
    return names.sort();
  }

  // Reads an imported job; checks job.yaml, job.sha256 and state.json agree.
  async read(name: string): Promise<StoredJob> {
    const dir = this.jobDir(name);
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(dir, 'job.yaml'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new QzbError('JOB_NOT_FOUND', `no imported job named ${JSON.stringify(name)} in ${this.dir}`, {
          hint: 'Import it first with `qubes-zfs-backup import FILE`, or list jobs with `qubes-zfs-backup status`.',
        });
      }
      throw e;
    }
    const sha256 = sha256Hex(bytes);
    const text = bytes.toString('utf8');
    const recorded = (await readFile(path.join(dir, 'job.sha256'), 'utf8').catch(() => '')).trim().split(/\s+/)[0] ?? '';
    const inconsistent = (what: string): QzbError => new QzbError('METADATA_CORRUPT', `the metadata of job ${JSON.stringify(name)} is inconsistent: ${what} (${dir})`, {
      hint: 'Re-import the job file with `import FILE --replace` (this forgets the recorded progress).',
    });
    if (recorded !== sha256) throw inconsistent('job.yaml does not match job.sha256');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
    } catch (e) {
      throw inconsistent(`state.json is unreadable (${(e as Error).message})`);
    }
    const parsed = jobStateSchema.safeParse(raw);
    if (!parsed.success) throw inconsistent(`state.json does not have the expected shape (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`);
    const state = parsed.data as unknown as JobState;
    if (state.configSha256 !== sha256) throw inconsistent('state.json belongs to another version of job.yaml');
    if (state.job !== name) throw inconsistent(`state.json names job ${JSON.stringify(state.job)}`);
    return { name, dir, text, sha256, state };
  }

  // Replaces state.json atomically.
  async saveState(state: JobState): Promise<void> {
    await writeFileAtomic(path.join(this.jobDir(state.job), 'state.json'), JSON.stringify(state, null, 2) + '\n');
  }

  // Appends a line to the job's run log.
  async log(name: string, line: string, now: Date = new Date()): Promise<void> {
    const dir = path.join(this.jobDir(name), 'log');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await appendLine(path.join(dir, 'runs.log'), `${now.toISOString()} ${line.replace(/\n/g, ' ')}`);
  }

  // Writes a new job directory (job.yaml, job.sha256, a fresh state) in place of any old one.
  // The caller holds the job's lock and has decided that replacing is allowed.
  async write(name: string, bytes: Uint8Array, now: Date = new Date()): Promise<JobState> {
    const final = this.jobDir(name);
    const sha256 = sha256Hex(bytes);
    const state: JobState = { version: 1, job: name, configSha256: sha256, importedAt: now.toISOString(), targets: {} };
    const tmp = path.join(this.dir, `.${name}.importing-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(path.join(tmp, 'log'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(tmp, 'job.yaml'), bytes);
    await writeFileAtomic(path.join(tmp, 'job.sha256'), `${sha256}  job.yaml\n`);
    await writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    let old: string | null = null;
    if (await exists(final)) {
      old = path.join(this.dir, `.${name}.replaced-${process.pid}`);
      await rm(old, { recursive: true, force: true });
      await rename(final, old);
      // Keep the run history across a replace.
      await rm(path.join(tmp, 'log'), { recursive: true, force: true });
      await rename(path.join(old, 'log'), path.join(tmp, 'log')).catch(() => mkdir(path.join(tmp, 'log'), { mode: 0o700 }));
    }
    await rename(tmp, final);
    await fsyncDir(this.dir);
    if (old) await rm(old, { recursive: true, force: true });
    return state;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
