// A per-job lock: an O_EXCL lock file holding the owner's pid and process start time, so a second
// run of the same job is refused with "held by pid N (command, since T)", and a lock left by a
// process that is gone (or whose pid was reused) is detected as stale and taken over.
import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { QzbError } from '../../shared/errors.ts';
import { fsyncDir } from './atomic.ts';
import path from 'node:path';

// What a lock file records about its holder.
export interface LockOwner {
  pid: number;
  /** The process start time from /proc/<pid>/stat (clock ticks since boot), '' when unknown. */
  startTime: string;
  command: string;
  since: string;
}

// A held lock.
export interface JobLock {
  file: string;
  /** Set when a stale lock was taken over (for a notice to the user). */
  tookOverFrom?: LockOwner;
  release(): Promise<void>;
}

// The start time of a process (field 22 of /proc/<pid>/stat), or null when it does not exist.
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? '';
  } catch {
    return null;
  }
}

// True when the recorded owner is still running (same pid and, when known, same start time).
export function ownerAlive(owner: LockOwner, startTimeOf: (pid: number) => string | null = processStartTime): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  const now = startTimeOf(owner.pid);
  if (now === null) {
    // No /proc entry: fall back to signal 0 (EPERM still means it exists).
    try {
      process.kill(owner.pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return owner.startTime === '' || now === '' || now === owner.startTime;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number') return null;
    return { pid: o.pid, startTime: String(o.startTime ?? ''), command: String(o.command ?? '?'), since: String(o.since ?? '?') };
  } catch {
    return null;
  }
}

// Takes the lock file `file` for this process, or throws JOB_LOCKED naming the holder.
export async function acquireLock(file: string, command: string, now: Date = new Date()): Promise<JobLock> {
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', command, since: now.toISOString() };
  let tookOverFrom: LockOwner | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    // Write the owner to a private temp file, then link() it into place: the lock file appears
    // atomically, already complete, or link fails with EEXIST.
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(me) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    let linked = false;
    try {
      await link(tmp, file);
      linked = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    if (linked) {
      await fsyncDir(path.dirname(file));
      const lock: JobLock = {
        file,
        release: async () => {
          await unlink(file).catch(() => undefined);
        },
      };
      if (tookOverFrom) lock.tookOverFrom = tookOverFrom;
      return lock;
    }
    const text = await readFile(file, 'utf8').catch(() => '');
    const owner = parseOwner(text);
    if (owner && ownerAlive(owner)) {
      throw new QzbError('JOB_LOCKED', `another run holds the lock ${file}: pid ${owner.pid} (${owner.command}), since ${owner.since}`, {
        hint: `Wait for it to finish, or stop it (kill ${owner.pid}). If that process is not this tool, delete ${file}.`,
      });
    }
    if (!owner) {
      throw new QzbError('JOB_LOCKED', `the lock file ${file} exists but cannot be read as a lock`, {
        hint: `If no other run of this tool is active, delete ${file} and try again.`,
      });
    }
    // Stale: its owner is gone. Take it over.
    tookOverFrom = owner;
    // Re-read first so a lock another run has just taken over is not removed by mistake.
    if ((await readFile(file, 'utf8').catch(() => '')) === text) await unlink(file).catch(() => undefined);
  }
  throw new QzbError('JOB_LOCKED', `could not take the lock ${file}: another process keeps creating it`, {
    hint: 'Check for other runs of this tool.',
  });
}
