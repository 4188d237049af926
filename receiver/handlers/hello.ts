// hello: checks the protocol version, fixes the receive root for the session, and reports the
// agent and ZFS versions, the root's state and the pool features that decide the send flags.
import type { AgentContext } from '../context.ts';
import type { HelloRequest } from '../../shared/protocol/schemas/requests.ts';
import type { HelloReply } from '../../shared/protocol/schemas/replies.ts';
import { encryptionValue, RELEVANT_POOL_FEATURES } from '../../shared/protocol/schemas/replies.ts';
import { toSafeText } from '../../shared/protocol/schemas/common.ts';
import { MAX_VERSION_LINES, PROTOCOL_VERSION } from '../../shared/protocol/limits.ts';
import { ProtocolError, ProtocolErrorCode } from '../../shared/protocol/errors.ts';
import { poolOf } from '../../shared/zfs-names.ts';
import { firstLines } from '../zfs-runner.ts';
import { errorReply, zfsFailure } from '../replies.ts';
import { saysMissing } from '../zfs-queries.ts';
import { listInventory } from './inventory.ts';

/** Answers hello; sets ctx.root on success. A version mismatch is fatal to the session. */
export async function handleHello(ctx: AgentContext, request: HelloRequest): Promise<void> {
  if (request.protocol !== PROTOCOL_VERSION) {
    await ctx.send(errorReply('PROTOCOL_VERSION_MISMATCH', `dom0 speaks protocol ${request.protocol}, this agent speaks ${PROTOCOL_VERSION}: install matching versions on both sides`));
    throw new ProtocolError(ProtocolErrorCode.VERSION_MISMATCH, `protocol ${request.protocol} requested, ${PROTOCOL_VERSION} spoken`);
  }
  const root = request.receiveRoot;
  const pool = poolOf(root);
  // Three independent questions, asked at once (each is a process start), and the listings of the
  // inventory that nearly always comes next (session.ts hands them to that request only).
  const listing = listInventory(ctx, root);
  listing.catch(() => {});
  ctx.prefetch = { root, listing };
  const [version, props, all] = await Promise.all([
    ctx.zfs.zfs(['version']),
    ctx.zfs.zfs(['get', '-H', '-p', '-o', 'property,value', 'type,encryption,keystatus', root]),
    ctx.zfs.zpool(['get', '-H', '-p', '-o', 'property,value', 'all', pool]),
  ]);
  const zfsVersion = version.exitCode === 0 ? firstLines(version.stdout, MAX_VERSION_LINES).map((l) => toSafeText(l, 200)) : [];

  let receiveRoot: HelloReply['receiveRoot'] = { name: root, exists: false, type: null, encryption: null, keyStatus: null };
  if (props.exitCode === 0) {
    const values = new Map(props.stdout.split('\n').filter(Boolean).map((line) => line.split('\t') as [string, string]));
    const type = values.get('type');
    const encryption = encryptionValue.safeParse(values.get('encryption'));
    const keyStatus = values.get('keystatus');
    receiveRoot = {
      name: root,
      exists: true,
      type: type === 'filesystem' || type === 'volume' ? type : null,
      encryption: encryption.success ? encryption.data : null,
      keyStatus: keyStatus === 'available' || keyStatus === 'unavailable' ? keyStatus : 'none',
    };
  } else if (!saysMissing(props.stderr)) {
    await ctx.send(zfsFailure(`reading the receive root ${root}`, props));
    return;
  }

  const relevant = new Set<string>(RELEVANT_POOL_FEATURES);
  const features: HelloReply['pool']['features'] = [];
  if (all.exitCode === 0) {
    for (const line of all.stdout.split('\n')) {
      const [property, state] = line.split('\t');
      const name = property?.startsWith('feature@') ? property.slice('feature@'.length) : '';
      if (relevant.has(name) && (state === 'disabled' || state === 'enabled' || state === 'active')) {
        features.push({ name: name as (typeof RELEVANT_POOL_FEATURES)[number], state });
      }
    }
  }
  ctx.root = root;
  ctx.log(`hello: protocol ${PROTOCOL_VERSION}, receive root ${root} (${receiveRoot.exists ? 'exists' : 'missing'})`);
  await ctx.send({
    kind: 'hello',
    protocol: PROTOCOL_VERSION,
    agent: toSafeText(`qubes-zfs-backup-receiver ${ctx.version}`, 64),
    zfsVersion,
    receiveRoot,
    pool: { name: pool, exists: all.exitCode === 0, features },
    unframed: ctx.unframedFd !== null,
  });
}
