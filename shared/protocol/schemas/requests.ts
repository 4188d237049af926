// Messages dom0 sends to the receiver agent. Strict objects: an unknown key is a bad message.
import { z } from 'zod';
import { datasetName, datasetType, labelName, resumeToken, safeText, snapshotName } from './common.ts';
import { MAX_SETTINGS_CHUNKS, SETTINGS_CHUNK_RE } from '../settings-props.ts';

/** First message of every session: dom0's protocol version and the receive root for the session. */
export const helloRequest = z
  .object({
    kind: z.literal('hello'),
    protocol: z.number().int().min(0).max(65535),
    receiveRoot: datasetName,
    client: safeText(64),
  })
  .strict();

/** Asks for every dataset under the receive root with its snapshots and bookmarks. */
export const inventoryRequest = z.object({ kind: z.literal('inventory') }).strict();

/**
 * Announces one `zfs receive`; once the agent is ready, data frames and then END (or ABORT) follow,
 * or with `unframed` the stream's bytes as they are, read by `zfs receive` itself.
 */
export const receiveRequest = z
  .object({
    kind: z.literal('receive'),
    /** The receiving dataset (a full name strictly below the receive root). */
    dataset: datasetName,
    /** The snapshot label the stream creates (the agent receives into dataset@snapshot). */
    snapshot: labelName,
    /** What the stream holds: decides the receive options (canmount only applies to filesystems). */
    type: datasetType,
    stream: z.enum(['full', 'incremental', 'clone']),
    /** For a clone stream, the origin snapshot on the receiver (below the root); else null. */
    origin: snapshotName.nullable(),
    /** A raw (`zfs send -w`) stream. */
    raw: z.boolean(),
    /** The stream resumes partial state (`zfs send -t`). */
    resume: z.boolean(),
    /**
     * The plan expects `dataset` to exist as the agent's own placeholder (a full filesystem stream
     * only). The agent re-checks that itself and only then passes `-F`, the one exception to never
     * -F; it refuses the request when a check fails. False: -F is never passed.
     */
    intoPlaceholder: z.boolean(),
    /**
     * The stream follows receive-ready unframed, and the agent hands its input to `zfs receive` as
     * stdin (no copy through the agent). Nothing else may follow on the input until the result: a
     * stream that stops short cannot be told from what comes after it, so dom0 then closes its end
     * (ZFS keeps resumable state) and the agent ends the session after a failure. Only when hello
     * said `unframed`.
     */
    unframed: z.boolean(),
  })
  .strict()
  .refine((r) => (r.stream === 'clone') === (r.origin !== null), 'origin is required for a clone stream and only for one');

/** Discards the partial receive state of one dataset (`zfs receive -A`). */
export const abortRequest = z.object({ kind: z.literal('abort'), dataset: datasetName }).strict();

/** A hex SHA-256. */
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex SHA-256');

/** Stores a qube's settings document as user properties of one received snapshot (below the root). */
export const storeSettingsRequest = z
  .object({
    kind: z.literal('store-settings'),
    snapshot: snapshotName,
    /** SHA-256 of the chunks joined; the agent checks it before setting anything. */
    sha256: sha256Hex,
    chunks: z.array(z.string().regex(SETTINGS_CHUNK_RE, 'a chunk is 1 to 8000 printable ASCII characters')).min(1).max(MAX_SETTINGS_CHUNKS),
  })
  .strict();

/** Reads back the settings document stored on one snapshot (below the root). */
export const readSettingsRequest = z.object({ kind: z.literal('read-settings'), snapshot: snapshotName }).strict();

/**
 * Asks for the bytes of one received volume snapshot (below the receive root). The agent exposes
 * them read-only through a temporary clone of its own and answers export-ready, then data frames
 * and export-hole messages in order, then END (or ABORT and an error), then exported.
 */
export const exportRequest = z.object({ kind: z.literal('export'), snapshot: snapshotName }).strict();

/**
 * Asks for a `zfs send` stream of one received volume snapshot (below the receive root), for
 * `restore --zfs-receive`: the agent answers send-ready, then the stream in data frames, then END
 * and snapshot-sent (or ABORT and an error). With `resumeToken` (of dom0's partial receive) the
 * agent resumes that stream, after checking the token names this snapshot.
 */
export const sendSnapshotRequest = z.object({ kind: z.literal('send-snapshot'), snapshot: snapshotName, resumeToken: resumeToken.nullable() }).strict();

/** Schema of each message dom0 may send, by its `kind`. */
export const requestSchemas = {
  hello: helloRequest,
  inventory: inventoryRequest,
  receive: receiveRequest,
  abort: abortRequest,
  'store-settings': storeSettingsRequest,
  'read-settings': readSettingsRequest,
  export: exportRequest,
  'send-snapshot': sendSnapshotRequest,
} as const;

// Static types of the requests, inferred from the schemas above (one per message kind).
export type HelloRequest = z.infer<typeof helloRequest>;
export type InventoryRequest = z.infer<typeof inventoryRequest>;
export type ReceiveRequest = z.infer<typeof receiveRequest>;
export type AbortRequest = z.infer<typeof abortRequest>;
export type StoreSettingsRequest = z.infer<typeof storeSettingsRequest>;
export type ReadSettingsRequest = z.infer<typeof readSettingsRequest>;
export type ExportRequest = z.infer<typeof exportRequest>;
export type SendSnapshotRequest = z.infer<typeof sendSnapshotRequest>;
/** Any message dom0 may send. */
export type Request = HelloRequest | InventoryRequest | ReceiveRequest | AbortRequest | StoreSettingsRequest | ReadSettingsRequest | ExportRequest | SendSnapshotRequest;
