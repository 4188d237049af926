// Messages the receiver agent sends to dom0. dom0 treats every one as hostile: strict objects,
// bounded lists and strings, names checked for syntax here and against the root by the client.
import { z } from 'zod';
import {
  datasetName, datasetType, decimal64, labelName, resumeToken, safeText, snapshotName, splitPointName,
} from './common.ts';
import { MAX_INVENTORY_BATCH, MAX_STDERR_LINES, MAX_VERSION_LINES } from '../limits.ts';
import { MAX_SETTINGS_CHUNKS, SETTINGS_CHUNK_RE } from '../settings-props.ts';

/** Pool features that decide which send flags the receiver can take (zpool-features(7)). */
export const RELEVANT_POOL_FEATURES = [
  'extensible_dataset', 'large_blocks', 'large_dnode', 'embedded_data', 'lz4_compress', 'zstd_compress',
  'encryption', 'bookmarks', 'bookmark_v2', 'large_microzap', 'longname', 'redaction_bookmarks', 'hole_birth',
] as const;

/** ZFS `encryption` property values. */
export const encryptionValue = z.enum([
  'off', 'on', 'aes-128-ccm', 'aes-192-ccm', 'aes-256-ccm', 'aes-128-gcm', 'aes-192-gcm', 'aes-256-gcm',
]);

const stderrLines = z.array(safeText()).max(MAX_STDERR_LINES);

/** The agent's answer to hello: versions, the receive root's state and the pool's features. */
export const helloReply = z
  .object({
    kind: z.literal('hello'),
    protocol: z.number().int().min(0).max(65535),
    agent: safeText(64),
    zfsVersion: z.array(safeText(200)).max(MAX_VERSION_LINES),
    receiveRoot: z
      .object({
        name: datasetName,
        exists: z.boolean(),
        type: datasetType.nullable(),
        encryption: encryptionValue.nullable(),
        keyStatus: z.enum(['available', 'unavailable', 'none']).nullable(),
      })
      .strict(),
    pool: z
      .object({
        name: datasetName,
        exists: z.boolean(),
        features: z
          .array(z.object({ name: z.enum(RELEVANT_POOL_FEATURES), state: z.enum(['disabled', 'enabled', 'active']) }).strict())
          .max(RELEVANT_POOL_FEATURES.length),
      })
      .strict(),
    /** The agent reads its input itself (not through a Node stream), so it can take unframed receives. */
    unframed: z.boolean(),
  })
  .strict();

/** One filesystem or volume under the receive root. */
export const datasetInfo = z
  .object({
    name: datasetName,
    type: datasetType,
    guid: decimal64,
    createtxg: decimal64,
    origin: snapshotName.nullable(),
    encryption: encryptionValue,
    /** Set while a full receive is partially done (the dataset has no usable data yet). */
    inconsistent: z.boolean(),
    /**
     * Still the agent's own empty placeholder parent: the user property
     * org.qubes-zfs-backup:placeholder is "on", and the dataset is a consistent filesystem without
     * snapshots. Stays true while a full receive into it is partial (resumeToken set).
     */
    placeholder: z.boolean(),
    resumeToken: resumeToken.nullable(),
    /** `written`: bytes written since the newest snapshot (for a dataset without snapshots, its referenced). */
    written: decimal64,
  })
  .strict();

/** One snapshot or bookmark under the receive root. */
export const pointInfo = z
  .object({
    /** dataset@label for a snapshot, dataset#label for a bookmark (receivers check it matches type). */
    name: z.custom<string>((s) => splitPointName(s as string, '@') !== null || splitPointName(s as string, '#') !== null, 'expected a snapshot or bookmark name'),
    type: z.enum(['snapshot', 'bookmark']),
    guid: decimal64,
    createtxg: decimal64,
  })
  .strict();

/** One batch of the inventory; batches repeat until inventory-end. */
export const inventoryBatch = z
  .object({
    kind: z.literal('inventory-batch'),
    datasets: z.array(datasetInfo).max(MAX_INVENTORY_BATCH),
    snapshots: z.array(pointInfo).max(MAX_INVENTORY_BATCH),
  })
  .strict();

/** Ends the inventory with the totals, which dom0 checks against what it received. */
export const inventoryEnd = z
  .object({
    kind: z.literal('inventory-end'),
    datasets: z.number().int().min(0),
    snapshots: z.number().int().min(0),
  })
  .strict();

/** The agent has started `zfs receive` and waits for data frames. */
export const receiveReady = z.object({ kind: z.literal('receive-ready'), dataset: datasetName, snapshot: labelName }).strict();

/** `zfs receive` succeeded; guid is read back from dataset@snapshot. */
export const receivedReply = z
  .object({ kind: z.literal('received'), dataset: datasetName, snapshot: labelName, guid: decimal64 })
  .strict();

/** `zfs receive` failed: ZFS's first stderr lines and the dataset's resume token afterwards (if any). */
export const receiveFailedReply = z
  .object({
    kind: z.literal('receive-failed'),
    dataset: datasetName,
    snapshot: labelName,
    exitCode: z.number().int().min(-1).max(255).nullable(),
    signal: safeText(16).nullable(),
    stderr: stderrLines,
    resumeToken: resumeToken.nullable(),
  })
  .strict();

/** `zfs receive -A` done; hadState false when there was no partial state to discard. */
export const abortedReply = z.object({ kind: z.literal('aborted'), dataset: datasetName, hadState: z.boolean() }).strict();

/** The settings document is stored on the snapshot (or was already, with the same SHA-256). */
export const settingsStoredReply = z
  .object({ kind: z.literal('settings-stored'), snapshot: snapshotName, sha256: z.string().regex(/^[0-9a-f]{64}$/), alreadyStored: z.boolean() })
  .strict();

/** What a snapshot's settings properties hold (sha256 null and no chunks when none are stored). */
export const settingsReply = z
  .object({
    kind: z.literal('settings'),
    snapshot: snapshotName,
    /** The stored SHA-256 property, as found (dom0 recomputes it from the chunks). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
    chunks: z.array(z.string().regex(SETTINGS_CHUNK_RE)).max(MAX_SETTINGS_CHUNKS),
  })
  .strict();

/** The agent exposes the volume snapshot and starts streaming it: volsize bytes follow, in order. */
export const exportReady = z
  .object({
    kind: z.literal('export-ready'),
    snapshot: snapshotName,
    /** The snapshot's volsize: exactly this many bytes (data plus holes) follow. */
    volsize: decimal64,
    /** The snapshot's GUID (dom0 compares it with the one it recorded). */
    guid: decimal64,
  })
  .strict();

/** `bytes` zero bytes at the current position of an export (a sparse region, sent as a count). */
export const exportHole = z.object({ kind: z.literal('export-hole'), bytes: decimal64 }).strict();

/** An export is complete (after its END frame); the temporary clone is gone unless said otherwise. */
export const exportedReply = z
  .object({
    kind: z.literal('exported'),
    snapshot: snapshotName,
    /** Data plus hole bytes sent (equals volsize). */
    bytes: decimal64,
    /** Of them, bytes sent as holes. */
    holeBytes: decimal64,
    /** The temporary clone could not be destroyed (it is destroyed at the next session's hello). */
    cloneLeft: datasetName.nullable(),
  })
  .strict();

/** The agent starts `zfs send` of the volume snapshot (send-snapshot): the stream follows in data frames. */
export const sendReady = z
  .object({
    kind: z.literal('send-ready'),
    snapshot: snapshotName,
    /** The snapshot's GUID (dom0 compares it with the one it recorded, and with what it receives). */
    guid: decimal64,
    /** The volume's volsize (dom0 compares it with the recorded size before receiving anything). */
    volsize: decimal64,
    /** `zfs send -nvP`'s estimate of the stream's size (for progress only), or null. */
    estimate: decimal64.nullable(),
  })
  .strict();

/** A send-snapshot stream is complete (after its END frame): zfs send exited 0 after `bytes` bytes. */
export const snapshotSentReply = z.object({ kind: z.literal('snapshot-sent'), snapshot: snapshotName, bytes: decimal64 }).strict();

/** Error codes the agent reports in-band; PROTOCOL_* ones end the session. */
export const AGENT_ERROR_CODES = [
  'PROTOCOL_BAD_MESSAGE', 'PROTOCOL_UNEXPECTED_MESSAGE', 'PROTOCOL_FRAME_TOO_LARGE', 'PROTOCOL_BAD_FRAME',
  'PROTOCOL_TRUNCATED', 'PROTOCOL_VERSION_MISMATCH',
  'REQUEST_REFUSED', 'RECEIVE_ROOT_MISSING', 'ZFS_COMMAND_FAILED', 'AGENT_INTERNAL', 'SETTINGS_CONFLICT', 'SETTINGS_UNREADABLE',
] as const;

/** A request failed (or the session is over, for PROTOCOL_* codes). */
export const errorReply = z
  .object({ kind: z.literal('error'), code: z.enum(AGENT_ERROR_CODES), message: safeText(), stderr: stderrLines })
  .strict();

/** Schema of each message the agent may send, by its `kind`. */
export const replySchemas = {
  hello: helloReply,
  'inventory-batch': inventoryBatch,
  'inventory-end': inventoryEnd,
  'receive-ready': receiveReady,
  received: receivedReply,
  'receive-failed': receiveFailedReply,
  aborted: abortedReply,
  'settings-stored': settingsStoredReply,
  settings: settingsReply,
  'export-ready': exportReady,
  'export-hole': exportHole,
  exported: exportedReply,
  'send-ready': sendReady,
  'snapshot-sent': snapshotSentReply,
  error: errorReply,
} as const;

// Static types of the replies, inferred from the schemas above (one per message kind).
export type HelloReply = z.infer<typeof helloReply>;
export type DatasetInfo = z.infer<typeof datasetInfo>;
export type PointInfo = z.infer<typeof pointInfo>;
export type InventoryBatch = z.infer<typeof inventoryBatch>;
export type InventoryEnd = z.infer<typeof inventoryEnd>;
export type ReceiveReady = z.infer<typeof receiveReady>;
export type ReceivedReply = z.infer<typeof receivedReply>;
export type ReceiveFailedReply = z.infer<typeof receiveFailedReply>;
export type AbortedReply = z.infer<typeof abortedReply>;
export type ErrorReply = z.infer<typeof errorReply>;
export type SettingsStoredReply = z.infer<typeof settingsStoredReply>;
export type SettingsReply = z.infer<typeof settingsReply>;
export type ExportReadyReply = z.infer<typeof exportReady>;
export type ExportHoleReply = z.infer<typeof exportHole>;
export type ExportedReply = z.infer<typeof exportedReply>;
export type SendReadyReply = z.infer<typeof sendReady>;
export type SnapshotSentReply = z.infer<typeof snapshotSentReply>;
/** One of AGENT_ERROR_CODES. */
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];
/** Any message the agent may send. */
export type Reply =
  | HelloReply | InventoryBatch | InventoryEnd | ReceiveReady | ReceivedReply | ReceiveFailedReply | AbortedReply | ErrorReply
  | SettingsStoredReply | SettingsReply | ExportReadyReply | ExportHoleReply | ExportedReply | SendReadyReply | SnapshotSentReply;
