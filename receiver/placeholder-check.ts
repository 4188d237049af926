// The re-check before the one `-F` the agent ever passes: a full filesystem receive into a dataset
// that is still the agent's own empty placeholder (SPEC §6). dom0 asks for it (intoPlaceholder),
// but the agent trusts only what ZFS says right before it runs `zfs receive`. Measured on OpenZFS
// 2.3.2: such a receive swaps the placeholder's contents and keeps its children (filesystems and
// volumes, with their snapshots and GUIDs); resuming it needs -F again (OpenZFS >= 2.2).
import type { ReceiveRequest } from '../shared/protocol/schemas/requests.ts';
import type { AgentZfs } from './zfs-runner.ts';
import { PLACEHOLDER_PROPERTY } from './placeholder.ts';
import { saysMissing } from './zfs-queries.ts';

/** The properties the live check reads, in one `zfs get`. */
export const PLACEHOLDER_CHECK_PROPS = ['type', 'origin', 'encryption', 'inconsistent', 'receive_resume_token', PLACEHOLDER_PROPERTY] as const;

/**
 * Objects a never-used placeholder holds, as `zfs userspace` counts them: its root directory.
 * `written`/`referenced` cannot show an empty file or a 1-byte file (measured: both stay at
 * 24576 on 2.3.2, the data is embedded in existing blocks); the per-user object count does.
 */
export const EMPTY_PLACEHOLDER_OBJECTS = 1n;

/** What ZFS says about the receiving dataset. */
export interface PlaceholderFacts {
  /** Property → value and source, from `zfs get -H -p -o property,value,source`. */
  props: Map<string, { value: string; source: string }>;
  /** Snapshots of the dataset itself. */
  snapshots: number;
  /** Files, directories and other objects owned by any user (sum of objused); null when unknown. */
  objects: bigint | null;
}

/** Why the request itself can never go into a placeholder (checked before any zfs call), or null. */
export function intoPlaceholderRequestProblem(request: ReceiveRequest): string | null {
  if (!request.intoPlaceholder) return null;
  const target = request.dataset;
  if (request.stream !== 'full') return `intoPlaceholder applies only to a full stream, not to a ${request.stream} stream into ${target}`;
  if (request.type !== 'filesystem') return `a volume stream cannot be received into the placeholder filesystem ${target} (only a filesystem stream can replace a placeholder)`;
  if (request.raw) return `a raw (encrypted) stream cannot be received into the placeholder ${target}: ZFS refuses receive -F of an encrypted stream over an unencrypted dataset`;
  return null;
}

/** Why `facts` show a dataset that is not (or no longer) the agent's own empty placeholder, or null. */
export function placeholderProblem(request: ReceiveRequest, facts: PlaceholderFacts): string | null {
  const ds = request.dataset;
  const get = (p: string): { value: string; source: string } => facts.props.get(p) ?? { value: '', source: '' };
  const marker = get(PLACEHOLDER_PROPERTY);
  if (get('type').value !== 'filesystem') return `${ds} is not a filesystem (type ${get('type').value || 'unknown'})`;
  if (marker.value !== 'on' || marker.source !== 'local') {
    return `${ds} is not the agent's own placeholder: ${PLACEHOLDER_PROPERTY} is "${marker.value}" (source ${marker.source || 'unknown'}), not "on" set locally`;
  }
  if (get('origin').value !== '-') return `${ds} is a clone of ${get('origin').value}, not a placeholder`;
  if (get('encryption').value !== 'off') return `${ds} is encrypted (${get('encryption').value}): ZFS refuses receive -F over an encrypted dataset`;
  if (get('inconsistent').value !== '0') return `${ds} is inconsistent (a partial receive of its own), not a placeholder`;
  if (facts.snapshots > 0) return `${ds} has ${facts.snapshots} snapshot(s): it is no longer an empty placeholder`;
  const token = get('receive_resume_token').value;
  const hasState = token !== '' && token !== '-';
  if (request.resume && !hasState) return `${ds} has no partial receive state to resume`;
  if (!request.resume && hasState) return `${ds} has partial receive state: resume it or abort it first`;
  if (facts.objects === null) return `cannot count the files in ${ds} (is the pool feature userobj_accounting active?), so it cannot be shown to be empty`;
  if (facts.objects !== EMPTY_PLACEHOLDER_OBJECTS) {
    return `${ds} holds ${facts.objects} files and directories (an unused placeholder holds only its root directory): data was written into the placeholder`;
  }
  return null;
}

/** Parses `zfs get -H -p -o property,value,source` output; null when a line is malformed. */
export function parsePropSources(stdout: string): Map<string, { value: string; source: string }> | null {
  const out = new Map<string, { value: string; source: string }>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const f = line.split('\t');
    if (f.length !== 3) return null;
    out.set(f[0]!, { value: f[1]!, source: f[2]! });
  }
  return out;
}

/** Sums `zfs userspace -H -p -o objused`; null when any value is not a number (no accounting). */
export function parseObjectCount(stdout: string): bigint | null {
  let total = 0n;
  for (const line of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (!/^[0-9]{1,20}$/.test(line)) return null;
    total += BigInt(line);
  }
  return total;
}

/** Asks ZFS and returns why the dataset cannot be received into with -F, or null when it can. */
export async function checkPlaceholder(zfs: AgentZfs, request: ReceiveRequest): Promise<string | null> {
  const ds = request.dataset;
  const got = await zfs.zfs(['get', '-H', '-p', '-o', 'property,value,source', PLACEHOLDER_CHECK_PROPS.join(','), ds]);
  if (got.exitCode !== 0) return saysMissing(got.stderr) ? `${ds} does not exist, so it is no placeholder` : `cannot read the properties of ${ds}`;
  const props = parsePropSources(got.stdout);
  if (props === null) return `cannot read the properties of ${ds}`;
  const snaps = await zfs.zfs(['list', '-H', '-p', '-d', '1', '-t', 'snapshot', '-o', 'name', ds]);
  if (snaps.exitCode !== 0) return `cannot list the snapshots of ${ds}`;
  // Object counts are updated when a txg syncs: sync first so a file created moments ago counts.
  await zfs.zpool(['sync', ds.split('/')[0]!]);
  const users = await zfs.zfs(['userspace', '-H', '-p', '-o', 'objused', ds]);
  const objects = users.exitCode === 0 ? parseObjectCount(users.stdout) : null;
  return placeholderProblem(request, { props, snapshots: snaps.stdout.split('\n').filter(Boolean).length, objects });
}
