// The temporary clones behind `export`: the one kind of dataset the agent destroys. Each is a
// volume clone directly below the receive root, named `.qzb-export-<pid>-<random>` (a mirrored
// source name never starts with '.', as pool names begin with a letter), created with
// volmode=dev (a block device to read), readonly=on, and the marker property set locally to the
// creating agent's pid. It is destroyed when its export ends; one a crashed agent left behind is
// destroyed at the next session's hello. Nothing else is ever destroyed: a candidate must match
// the name, be a volume, be a clone, and carry the marker locally with the pid of a process that
// no longer runs (so a concurrent session's clone stays).
import { randomBytes } from 'node:crypto';
import type { AgentZfs, ZfsOutput } from './zfs-runner.ts';

/** The user property marking an export clone (value: the pid of the agent that made it). */
export const EXPORT_PROPERTY = 'org.qubes-zfs-backup:export';

const CLONE_PREFIX = '.qzb-export-';

/** A new export clone name below `root` for this process. */
export function exportCloneName(root: string, pid: number = process.pid): string {
  return `${root}/${CLONE_PREFIX}${pid}-${randomBytes(4).toString('hex')}`;
}

/** The pid encoded in an export clone's name directly below `root`, or null when it is not one. */
export function exportClonePid(name: string, root: string): number | null {
  const prefix = `${root}/${CLONE_PREFIX}`;
  if (!name.startsWith(prefix)) return null;
  const m = /^([0-9]{1,10})-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : null;
}

/** `zfs clone` of `snapshot` as a read-only block device marked as ours. */
export function cloneArgs(snapshot: string, clone: string, pid: number = process.pid): string[] {
  return ['clone', '-o', 'volmode=dev', '-o', 'readonly=on', '-o', `${EXPORT_PROPERTY}=${pid}`, snapshot, clone];
}

/** True when process `pid` exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `zfs destroy` of one export clone (never -r: it has no snapshots), retried while the device is
 * still busy (udev probes a new block device for a moment after it appears and after it closes).
 */
export async function destroyClone(zfs: AgentZfs, clone: string, tries = 40, waitMs = 250): Promise<ZfsOutput> {
  let last: ZfsOutput = { exitCode: null, signal: null, stdout: '', stderr: '' };
  for (let i = 0; i < tries; i++) {
    last = await zfs.zfs(['destroy', clone]);
    if (last.exitCode === 0 || !/busy/i.test(last.stderr)) return last;
    await new Promise((r) => setTimeout(r, waitMs));
  }
  return last;
}

/**
 * The export clones a dead agent left directly below `root` (see the rules above), from two
 * listings: names, types and origins; and the marker with its source.
 */
export async function staleExportClones(zfs: AgentZfs, root: string, alive: (pid: number) => boolean = processAlive): Promise<string[]> {
  const list = await zfs.zfs(['list', '-H', '-p', '-d', '1', '-t', 'volume', '-o', 'name,origin', root]);
  if (list.exitCode !== 0) return [];
  const clones = new Map<string, number>();
  for (const line of list.stdout.split('\n')) {
    const [name = '', origin = '-'] = line.split('\t');
    const pid = exportClonePid(name, root);
    if (pid !== null && origin !== '-' && origin !== '' && !alive(pid)) clones.set(name, pid);
  }
  if (clones.size === 0) return [];
  const marks = await zfs.zfs(['get', '-H', '-p', '-o', 'name,value,source', EXPORT_PROPERTY, ...clones.keys()]);
  if (marks.exitCode !== 0) return [];
  const out: string[] = [];
  for (const line of marks.stdout.split('\n')) {
    const [name = '', value = '', source = ''] = line.split('\t');
    if (source === 'local' && clones.get(name) !== undefined && value === String(clones.get(name))) out.push(name);
  }
  return out;
}

/** Destroys every stale export clone below `root`; logs what it did. */
export async function sweepExportClones(zfs: AgentZfs, root: string, log: (line: string) => void): Promise<void> {
  for (const clone of await staleExportClones(zfs, root)) {
    const r = await destroyClone(zfs, clone, 4);
    log(r.exitCode === 0 ? `export: destroyed ${clone}, left by an agent that is gone` : `export: cannot destroy the stale ${clone}: ${r.stderr.trim()}`);
  }
}
