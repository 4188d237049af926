// The scenario assertions about replication (test/harness/README.md, "Assertions"): pure checks over
// `zfs list` listings of both sides, so the unit tests can feed them recorded listings.
import { zfs } from './proc.ts';

/** One line of `zfs list -t all -o name,type,guid,receive_resume_token`. */
export interface Listed {
  name: string;
  type: string;
  guid: string;
  token: string;
}

/** Something present before a `run` step and missing after it. */
export interface Vanished {
  side: 'source' | 'receiver';
  name: string;
  type: string;
  guid: string;
  step?: number;
}

/** Lists pools with real zfs (no view): every dataset, snapshot and bookmark. */
export async function listSide(pools: string[]): Promise<Listed[]> {
  if (pools.length === 0) return [];
  const out = await zfs('list', '-H', '-p', '-t', 'filesystem,volume,snapshot,bookmark', '-o', 'name,type,guid,receive_resume_token', '-r', ...pools);
  return parseListing(out);
}

/** Parses the tab-separated output of listSide's zfs call. */
export function parseListing(out: string): Listed[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', type = '', guid = '', token = '-'] = l.split('\t');
      return { name, type, guid, token };
    });
}

const isDataset = (t: string): boolean => t === 'filesystem' || t === 'volume';

/** What `before` has that `after` lacks: datasets by name, snapshots and bookmarks by name and GUID.
 *  On the receiver, a dataset that held partial receive state (a resume token) may go (an aborted
 *  stale receive), and so may what lies under it. */
export function destroyedBetween(side: 'source' | 'receiver', before: Listed[], after: Listed[]): Vanished[] {
  const now = new Set(after.map((x) => (isDataset(x.type) ? `d:${x.name}` : `s:${x.name}:${x.guid}`)));
  const partial = side === 'receiver' ? before.filter((x) => isDataset(x.type) && x.token !== '-' && x.token !== '').map((x) => x.name) : [];
  const underPartial = (name: string): boolean => partial.some((p) => name === p || name.startsWith(`${p}/`) || name.startsWith(`${p}@`) || name.startsWith(`${p}#`));
  return before
    .filter((x) => !now.has(isDataset(x.type) ? `d:${x.name}` : `s:${x.name}:${x.guid}`))
    .filter((x) => !underPartial(x.name))
    .map((x) => ({ side, name: x.name, type: x.type, guid: x.guid }));
}

/** assert-replicated: each snapshot at <root>/<snapshot> with the source's GUID (or that of the
 *  source's bookmark of the same name once the snapshot is gone). */
export function replicationProblems(
  a: { receiverRoot: string; snapshots: string[]; exact: boolean; sourceBookmarks: boolean },
  source: Listed[],
  receiver: Listed[],
): string[] {
  const out: string[] = [];
  const src = new Map(source.map((x) => [x.name, x]));
  const recv = new Map(receiver.map((x) => [x.name, x]));
  if (!recv.has(a.receiverRoot)) out.push(`receiver-root ${a.receiverRoot} does not exist on the receiver`);
  const expected = new Set<string>();
  for (const snap of a.snapshots) {
    const bookmark = snap.replace('@', '#');
    const s = src.get(snap) ?? src.get(bookmark);
    const at = `${a.receiverRoot}/${snap}`;
    expected.add(at);
    if (!s) {
      out.push(`${snap}: neither the snapshot nor a bookmark ${bookmark} is on the source`);
      continue;
    }
    const r = recv.get(at);
    if (!r) out.push(`${snap}: not on the receiver (no ${at})`);
    else if (r.guid !== s.guid) out.push(`${snap}: on the receiver with GUID ${r.guid}, the source's is ${s.guid}`);
    if (a.sourceBookmarks) {
      const b = src.get(bookmark);
      if (!b) out.push(`${snap}: the source has no bookmark ${bookmark}`);
      else if (b.guid !== s.guid) out.push(`${snap}: the source's bookmark ${bookmark} has GUID ${b.guid}, the snapshot's is ${s.guid}`);
    }
  }
  if (a.exact) {
    for (const r of receiver) {
      if (r.type === 'snapshot' && r.name.startsWith(`${a.receiverRoot}/`) && !expected.has(r.name)) out.push(`unexpected snapshot on the receiver: ${r.name}`);
    }
  }
  return out;
}

/** assert-no-partial-state: no resume token and no hidden %recv child under root. */
export function partialStateProblems(root: string, receiver: Listed[]): string[] {
  const out: string[] = [];
  const under = receiver.filter((x) => x.name === root || x.name.startsWith(`${root}/`));
  if (!receiver.some((x) => x.name === root)) out.push(`receiver-root ${root} does not exist on the receiver`);
  for (const x of under) {
    if (!isDataset(x.type)) continue;
    if (x.token !== '-' && x.token !== '') out.push(`${x.name} has a receive_resume_token (partial receive state): ${x.token.slice(0, 40)}…`);
    if (x.name.includes('%')) out.push(`${x.name}: a partial receive dataset`);
  }
  return out;
}
