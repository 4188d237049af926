// A per-job lock: an O_EXCL lock file holding the owner's pid, process start time and a random
// token, so a second run of the same job is refused with "held by pid N (command, since T)", and a
// lock left by a process that is gone (or whose pid was reused) is detected as stale and taken over.
// A takeover runs under a `<lock>.takeover` marker created with link() (so one process at a time
// may replace a stale lock), re-checks that the lock is still the stale one, replaces it by an
// atomic rename and reads it back; release() removes the lock only while it still holds our token.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
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
  /** Random per acquisition: tells this holder from a later one with the same pid. */
  token?: string;
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
    const owner: LockOwner = { pid: o.pid, startTime: String(o.startTime ?? ''), command: String(o.command ?? '?'), since: String(o.since ?? '?') };
    if (typeof o.token === 'string') owner.token = o.token;
    return owner;
  } catch {
    return null;
  }
}

/** How long a run waits for another run's takeover of a stale lock to finish (it takes milliseconds). */
const TAKEOVER_WAIT_MS = 3000;
const RETRY_MS = 10;

// The file's text, or null when it does not exist (other errors are real failures).
async function readIfThere(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

// A private, complete temp file beside `target` holding `text`.
async function writeTemp(target: string, text: string, token: string): Promise<string> {
  const tmp = `${target}.${process.pid}.${token}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

// Creates `target` holding `text` atomically, already complete; false when it exists already.
async function createExclusive(target: string, text: string, token: string): Promise<boolean> {
  const tmp = await writeTemp(target, text, token);
  try {
    await link(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Takes the lock file `file` for this process, or throws JOB_LOCKED naming the holder.
export async function acquireLock(file: string, command: string, now: Date = new Date()): Promise<JobLock> {
  const token = randomBytes(16).toString('hex');
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', command, since: now.toISOString(), token };
  const text = JSON.stringify(me) + '\n';
  const marker = `${file}.takeover`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  let tookOverFrom: LockOwner | undefined;
  const held = async (): Promise<JobLock> => {
    await fsyncDir(path.dirname(file));
    const lock: JobLock = { file, release: () => releaseIfOwned(file, token) };
    if (tookOverFrom) lock.tookOverFrom = tookOverFrom;
    return lock;
  };
  for (;;) {
    if (Date.now() > deadline) {
      throw new QzbError('JOB_LOCKED', `could not take the lock ${file}: another process keeps creating it`, {
        hint: 'Check for other runs of this tool.',
      });
    }
    if (await createExclusive(file, text, token)) return held();
    const existing = await readIfThere(file);
    if (existing === null) continue; // released meanwhile: try again
    const owner = parseOwner(existing);
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
    // Stale: its owner is gone. Only the run holding the takeover marker may replace it.
    if (!(await createExclusive(marker, text, token))) {
      const markerText = await readIfThere(marker);
      const taker = markerText === null ? null : parseOwner(markerText);
      if (markerText !== null && (!taker || !ownerAlive(taker))) {
        throw new QzbError('JOB_LOCKED', `a takeover of the stale lock ${file} was interrupted (the takeover marker ${marker} was left by ${taker ? `pid ${taker.pid}, which is gone` : 'an unreadable owner'})`, {
          hint: `If no other run of this tool is active, delete ${marker} and ${file}, and try again.`,
        });
      }
      if (Date.now() > deadline) {
        throw new QzbError('JOB_LOCKED', `another run${taker ? ` (pid ${taker.pid}, ${taker.command})` : ''} is taking over the stale lock ${file}`, {
          hint: 'Wait for it to finish, then try again.',
        });
      }
      await sleep(RETRY_MS);
      continue;
    }
    try {
      // Under the marker: replace the lock only if it is still the very one judged stale.
      if ((await readIfThere(file)) === existing) {
        const tmp = await writeTemp(file, text, token);
        try {
          await rename(tmp, file);
        } catch (e) {
          await unlink(tmp).catch(() => undefined);
          throw e;
        }
        if (parseOwner((await readIfThere(file)) ?? '')?.token === token) {
          tookOverFrom = owner;
          return await held();
        }
      }
    } finally {
      await unlink(marker).catch(() => undefined);
    }
  }
}

// Removes the lock file only while it still names this holder (pid and token).
async function releaseIfOwned(file: string, token: string): Promise<void> {
  const text = await readIfThere(file).catch(() => null);
  const owner = text === null ? null : parseOwner(text);
  if (owner?.pid !== process.pid || owner.token !== token) return;
  await unlink(file).catch(() => undefined);
}
