// The metadata store: per job `<dir>/<name>/` holds job.yaml (the imported file, byte for byte),
// job.sha256, state.json (JobState) and log/runs.log (a line per run). A new job directory is
// built under a temporary name and renamed into place, so an import is all or nothing. A replace
// first renames the old directory aside to `.<name>.replaced`; until the new one is renamed in
// (the commit point) the aside copy is the job, so a crash between the two renames loses nothing:
// readers use the aside copy, and the next run holding the job's lock puts it back.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { QzbError } from '../../shared/errors.ts';
import { appendLine, fsyncDir, writeFileAtomic } from './atomic.ts';
import { jobNameProblem } from '../job/values.ts';
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
    contentHash: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: DECIMAL }).strict().optional(),
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

// The job file's own rule (dom0/job/values.ts), so every importable name is storable and back.
function checkName(name: string): void {
  const problem = jobNameProblem(name, 'The job name');
  if (problem) throw new QzbError('INVALID_NAME', problem);
}

/** Suffix of a job directory renamed aside by a replace that has not finished. */
const ASIDE_SUFFIX = '.replaced';

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

  // Where an unfinished replace keeps the old job directory.
  asideDir(name: string): string {
    checkName(name);
    return path.join(this.dir, `.${name}${ASIDE_SUFFIX}`);
  }

  // Takes the per-job lock (throws JOB_LOCKED naming the holder), then finishes or undoes a
  // replace that a crash interrupted.
  async lock(name: string, command: string): Promise<JobLock> {
    const lock = await acquireLock(this.lockFile(name), command);
    try {
      await this.recover(name);
    } catch (e) {
      await lock.release();
      throw e;
    }
    return lock;
  }

  // Only with the job's lock held: puts the aside copy back when the new directory never arrived
  // (crash before the commit rename), or moves its run log over and removes it (crash after);
  // removes half-built import directories.
  private async recover(name: string): Promise<void> {
    const final = this.jobDir(name);
    const aside = this.asideDir(name);
    if (await exists(aside)) {
      if (!(await exists(final))) {
        await rename(aside, final);
      } else {
        if (!(await exists(path.join(final, 'log'))) && (await exists(path.join(aside, 'log')))) {
          await rename(path.join(aside, 'log'), path.join(final, 'log'));
        }
        await rm(aside, { recursive: true, force: true });
      }
      await fsyncDir(this.dir);
    }
    if (await exists(final)) await mkdir(path.join(final, 'log'), { recursive: true, mode: 0o700 });
    const prefix = `.${name}.importing-`;
    for (const e of await readdir(this.dir)) {
      if (e.startsWith(prefix)) await rm(path.join(this.dir, e), { recursive: true, force: true });
    }
  }

  // The directory that holds the job now: its own, or the aside copy of an interrupted replace.
  private async currentDir(name: string): Promise<string> {
    const final = this.jobDir(name);
    if (await exists(final)) return final;
    const aside = this.asideDir(name);
    return (await exists(aside)) ? aside : final;
  }

  // True when a job of that name has been imported.
  async has(name: string): Promise<boolean> {
    try {
      return (await stat(path.join(await this.currentDir(name), 'job.yaml'))).isFile();
    } catch {
      return false;
    }
  }

  // Names of every imported job, sorted (including one whose replace a crash interrupted).
  async list(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    const names = new Set<string>();
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const name = e.name.startsWith('.') && e.name.endsWith(ASIDE_SUFFIX) ? e.name.slice(1, -ASIDE_SUFFIX.length) : e.name;
      if (jobNameProblem(name) === null && (await this.has(name))) names.add(name);
    }
    return [...names].sort();
  }

  // Reads an imported job; checks job.yaml, job.sha256 and state.json agree.
  async read(name: string): Promise<StoredJob> {
    const dir = await this.currentDir(name);
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
  // The caller holds the job's lock (so recover() has run) and has decided that replacing is
  // allowed. At every instant either the job directory or its aside copy is a complete job.
  async write(name: string, bytes: Uint8Array, now: Date = new Date()): Promise<JobState> {
    const final = this.jobDir(name);
    const aside = this.asideDir(name);
    const sha256 = sha256Hex(bytes);
    const state: JobState = { version: 1, job: name, configSha256: sha256, importedAt: now.toISOString(), targets: {} };
    await this.recover(name);
    const tmp = path.join(this.dir, `.${name}.importing-${process.pid}`);
    await mkdir(tmp, { mode: 0o700 });
    await writeFileAtomic(path.join(tmp, 'job.yaml'), bytes);
    await writeFileAtomic(path.join(tmp, 'job.sha256'), `${sha256}  job.yaml\n`);
    await writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    if (!(await exists(final))) {
      await mkdir(path.join(tmp, 'log'), { mode: 0o700 });
      await rename(tmp, final);
      await fsyncDir(this.dir);
      return state;
    }
    await rm(aside, { recursive: true, force: true });
    await rename(final, aside);
    await fsyncDir(this.dir);
    // The commit point: from here the new job is the job.
    await rename(tmp, final);
    await fsyncDir(this.dir);
    // Keep the run history across a replace.
    await rename(path.join(aside, 'log'), path.join(final, 'log')).catch(() => mkdir(path.join(final, 'log'), { recursive: true, mode: 0o700 }));
    await rm(aside, { recursive: true, force: true });
    await fsyncDir(this.dir);
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
