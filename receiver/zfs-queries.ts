// Small read-only ZFS questions the handlers ask: does a dataset exist, what is its type, what is a
// snapshot's GUID, is there a resume token. All parse `-H -p` output, tab-separated.
import type { AgentZfs } from './zfs-runner.ts';

/** The dataset's type ('filesystem', 'volume', …), or null when it does not exist or cannot be read. */
export async function datasetTypeOf(zfs: AgentZfs, dataset: string): Promise<string | null> {
  const r = await zfs.zfs(['get', '-H', '-p', '-o', 'value', 'type', dataset]);
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** The decimal GUID of a snapshot, or null when it cannot be read. */
export async function guidOf(zfs: AgentZfs, name: string): Promise<string | null> {
  const r = await zfs.zfs(['get', '-H', '-p', '-o', 'value', 'guid', name]);
  const value = r.stdout.trim();
  return r.exitCode === 0 && /^[0-9]{1,20}$/.test(value) ? value : null;
}

/** The dataset's receive_resume_token, or null when it has none (or does not exist). */
export async function resumeTokenOf(zfs: AgentZfs, dataset: string): Promise<string | null> {
  const r = await zfs.zfs(['get', '-H', '-p', '-o', 'value', 'receive_resume_token', dataset]);
  const value = r.stdout.trim();
  return r.exitCode === 0 && value !== '-' && value !== '' ? value : null;
}

/** True when the stderr of a zfs command says the dataset does not exist. */
export function saysMissing(stderr: string): boolean {
  return /dataset does not exist/.test(stderr);
}
