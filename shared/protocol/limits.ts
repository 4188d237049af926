// Hard limits of the dom0 <-> receiver protocol. Every one is checked on receipt, before any
// allocation that depends on the peer's word, and every breach is fatal to the session.

/** The protocol version both peers must speak; `hello` carries it and a mismatch ends the session. */
export const PROTOCOL_VERSION = 2;

/** Bytes of a frame header: a 4-byte big-endian payload length, then a 1-byte frame type. */
export const FRAME_HEADER_BYTES = 5;

/** Largest payload of a control frame (one msgpack message). */
export const MAX_CONTROL_FRAME = 1024 * 1024;

/** Largest payload of a data frame (one chunk of a `zfs send` stream). */
export const MAX_DATA_CHUNK = 1024 * 1024;

/** Deepest nesting of arrays/maps accepted inside one control message. */
export const MAX_MESSAGE_DEPTH = 8;

/** Most keys accepted in one msgpack map (our largest message object has far fewer). */
export const MAX_MAP_KEYS = 32;

/** Most elements accepted in one msgpack array (inventory batches are the longest lists). */
export const MAX_LIST_LENGTH = 10_000;

/** Longest free-text string (messages, `zfs` stderr lines, version lines). */
export const MAX_TEXT_LENGTH = 1024;

/** Most lines of `zfs` stderr carried in one error reply. */
export const MAX_STDERR_LINES = 20;

/** Most lines of `zfs version` output carried in `hello`. */
export const MAX_VERSION_LINES = 8;

/** Longest `receive_resume_token` accepted (real ones are a few hundred characters). */
export const MAX_RESUME_TOKEN_LENGTH = 8192;

/** Most datasets one inventory may report in total (dom0 stops reading beyond this). */
export const MAX_INVENTORY_DATASETS = 50_000;

/** Most snapshots + bookmarks one inventory may report in total. */
export const MAX_INVENTORY_SNAPSHOTS = 1_000_000;

/** Most datasets or snapshots in one inventory batch message. */
export const MAX_INVENTORY_BATCH = 2_000;

/** Most inventory-batch messages in one inventory (our agent needs under 2 000 at the limits; empty batches are refused). */
export const MAX_INVENTORY_MESSAGES = 10_000;

/**
 * The memory budget of one inventory in dom0, in accounted bytes: every name, origin, encryption
 * value and resume token by its length (twice that for text beyond Latin-1), plus a fixed cost per
 * entry below. Without it a schema-valid inventory (50 000 datasets with 8 KiB tokens, a million
 * 255-character snapshot names) cost dom0 about 1.8 GB. At the budget dom0's RSS peaks at about
 * 4–5× this (garbage of decoding and validation, which V8 collects late); receiver/README.md has
 * the measured figures. It still holds ~230 000 snapshots of 64-character names.
 */
export const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;

/** Accounted bytes per dataset besides its strings (its object, bigints, map entry, lists). */
export const INVENTORY_DATASET_OVERHEAD = 512;

/** Accounted bytes per snapshot or bookmark besides its name (its object, label, bigints, set entry: ~220 measured). */
export const INVENTORY_POINT_OVERHEAD = 224;
