// store-settings / read-settings: a qube's settings document kept as user properties of the
// received snapshot it belongs to (shared/protocol/settings-props.ts). Store sets the hash, the
// chunk count and every chunk in ONE `zfs set` (one property-set ioctl, so readers see all or
// none); it never replaces a different document already on that snapshot. Read returns what the
// properties hold; dom0 recomputes the hash.
import type { AgentContext } from '../context.ts';
import type { ReadSettingsRequest, StoreSettingsRequest } from '../../shared/protocol/schemas/requests.ts';
import { isBelowRoot } from '../../shared/protocol/confine.ts';
import { splitPointName } from '../../shared/protocol/schemas/common.ts';
import {
  joinSettings, MAX_SETTINGS_CHUNKS, SETTINGS_CHUNK_PREFIX, SETTINGS_CHUNK_RE, SETTINGS_CHUNKS_PROP, SETTINGS_SHA256_PROP, settingsChunkProp,
} from '../../shared/protocol/settings-props.ts';
import { errorReply, zfsFailure } from '../replies.ts';

// The settings properties set locally on a snapshot, or an error reply already sent (null).
async function readProps(ctx: AgentContext, snapshot: string): Promise<Map<string, string> | null> {
  const r = await ctx.zfs.zfs(['get', '-H', '-p', '-o', 'property,value', '-s', 'local', 'all', snapshot]);
  if (r.exitCode !== 0) {
    await ctx.send(zfsFailure(`zfs get all ${snapshot}`, r));
    return null;
  }
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab <= 0) continue;
    const name = line.slice(0, tab);
    if (name === SETTINGS_SHA256_PROP || name === SETTINGS_CHUNKS_PROP || name.startsWith(SETTINGS_CHUNK_PREFIX)) out.set(name, line.slice(tab + 1));
  }
  return out;
}

// Refuses a snapshot outside the receive root; true when it may be used.
async function allowed(ctx: AgentContext, root: string, snapshot: string): Promise<boolean> {
  const parts = splitPointName(snapshot, '@');
  if (parts && isBelowRoot(parts.dataset, root)) return true;
  await ctx.send(errorReply('REQUEST_REFUSED', `${snapshot} is not a snapshot below the receive root ${root}`));
  return false;
}

/** Answers store-settings with settings-stored or an error reply. */
export async function handleStoreSettings(ctx: AgentContext, root: string, request: StoreSettingsRequest): Promise<void> {
  if (!(await allowed(ctx, root, request.snapshot))) return;
  if (joinSettings(request.chunks).sha256 !== request.sha256) {
    await ctx.send(errorReply('REQUEST_REFUSED', `the settings chunks for ${request.snapshot} do not have the SHA-256 given with them`));
    return;
  }
  const existing = await readProps(ctx, request.snapshot);
  if (!existing) return;
  const old = existing.get(SETTINGS_SHA256_PROP);
  if (old !== undefined && old !== request.sha256) {
    await ctx.send(errorReply('SETTINGS_CONFLICT', `${request.snapshot} already holds other settings (sha256 ${old.slice(0, 64)}); they are never replaced`));
    return;
  }
  const assignments = [
    `${SETTINGS_SHA256_PROP}=${request.sha256}`,
    `${SETTINGS_CHUNKS_PROP}=${request.chunks.length}`,
    ...request.chunks.map((c, i) => `${settingsChunkProp(i)}=${c}`),
  ];
  const r = await ctx.zfs.zfs(['set', ...assignments, request.snapshot]);
  if (r.exitCode !== 0) {
    await ctx.send(zfsFailure(`zfs set ${SETTINGS_SHA256_PROP}=… (${request.chunks.length} chunks) ${request.snapshot}`, r));
    return;
  }
  ctx.log(`store-settings: ${request.snapshot} holds settings ${request.sha256} in ${request.chunks.length} chunk(s)${old ? ' (rewritten, same hash)' : ''}`);
  await ctx.send({ kind: 'settings-stored', snapshot: request.snapshot, sha256: request.sha256, alreadyStored: old !== undefined });
}

/** Answers read-settings with settings (empty when none are stored) or an error reply. */
export async function handleReadSettings(ctx: AgentContext, root: string, request: ReadSettingsRequest): Promise<void> {
  if (!(await allowed(ctx, root, request.snapshot))) return;
  const props = await readProps(ctx, request.snapshot);
  if (!props) return;
  const sha = props.get(SETTINGS_SHA256_PROP);
  if (sha === undefined) {
    await ctx.send({ kind: 'settings', snapshot: request.snapshot, sha256: null, chunks: [] });
    return;
  }
  const count = props.get(SETTINGS_CHUNKS_PROP) ?? '';
  const n = /^[0-9]{1,3}$/.test(count) ? Number(count) : -1;
  const unreadable = async (why: string): Promise<void> => ctx.send(errorReply('SETTINGS_UNREADABLE', `the settings properties of ${request.snapshot} are damaged: ${why}`));
  if (!/^[0-9a-f]{64}$/.test(sha)) return unreadable(`${SETTINGS_SHA256_PROP} is not a SHA-256`);
  if (n < 1 || n > MAX_SETTINGS_CHUNKS) return unreadable(`${SETTINGS_CHUNKS_PROP} is ${JSON.stringify(count.slice(0, 20))}`);
  const chunks: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = props.get(settingsChunkProp(i));
    if (c === undefined || !SETTINGS_CHUNK_RE.test(c)) return unreadable(`${settingsChunkProp(i)} is ${c === undefined ? 'missing' : 'not printable ASCII of at most 8000 characters'}`);
    chunks.push(c);
  }
  await ctx.send({ kind: 'settings', snapshot: request.snapshot, sha256: sha, chunks });
}
