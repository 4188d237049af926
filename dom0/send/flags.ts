// Send flags per receiving lineage (SPEC §6) and the match of a resume token against a planned step.
// Encrypted sources go raw (-w: the receiver only ever holds ciphertext); everything else goes with
// -L -c, and -e only where the receiver can take embedded blocks (not into an encrypted root).
import type { ZfsDataset } from '../inventory/types.ts';
import type { LineageRecord } from '../metadata/types.ts';
import type { DecodedToken, ReceiverDatasetView, ReceiverView, SendFlags, SendStep } from './types.ts';

const on = (r: ReceiverView, feature: string): boolean => {
  const s = r.features.get(feature);
  return s === 'enabled' || s === 'active';
};

// The lineage's flags: the recorded ones, or fresh ones for its first send; a string says why not.
export function chooseFlags(src: ZfsDataset, recorded: LineageRecord | undefined, receiver: ReceiverView, live: ReceiverDatasetView | undefined): SendFlags | string {
  if (recorded) {
    if (recorded.raw !== src.encrypted) {
      return `${src.name} was sent ${recorded.raw ? 'raw (encrypted)' : 'unencrypted'} before, but it is ${src.encrypted ? 'encrypted' : 'not encrypted'} now: raw and non-raw streams cannot be mixed on one receiving dataset. Send it to a new receiver.dataset.`;
    }
    return { raw: recorded.raw, largeBlocks: recorded.largeBlocks, compressed: recorded.compressed, embedded: recorded.embedded };
  }
  if (src.encrypted) {
    if (live && live.snapshots.length > 0 && live.encryption === 'off') {
      return `${src.name} is encrypted, but ${live.name} on the receiver is not: it was received unencrypted (not raw), and a raw stream cannot be added to it. Send it to a new receiver.dataset.`;
    }
    return { raw: true, largeBlocks: false, compressed: false, embedded: false };
  }
  const encryptedRoot = receiver.rootEncryption !== null && receiver.rootEncryption !== 'off';
  return {
    raw: false,
    largeBlocks: on(receiver, 'large_blocks'),
    compressed: on(receiver, 'lz4_compress'),
    embedded: on(receiver, 'embedded_data') && !encryptedRoot,
  };
}

// Why a token's recorded flags cannot come from a send with `flags`, or null when they can. The
// token holds the stream's feature flags, which the kernel derives (dmu_send.c setup_featureflags,
// checked on real tokens in test/unit/zfs/fixtures/send/): COMPRESSED = -c or -w; RAW = -w of an
// encrypted dataset; LARGE_BLOCKS = (-L or -w) and the dataset has had a block > 128 KiB;
// EMBED_DATA = (-e or -w), an unencrypted dataset, the pool feature active. So rawok and compressok
// must match exactly; largeblockok/embedok may be missing although asked for, but never present
// when not asked for.
export function tokenFlagsProblem(token: DecodedToken['flags'], flags: SendFlags): string | null {
  if (token.rawok !== flags.raw) return token.rawok ? 'the token is of a raw (-w) send' : 'the token is not of a raw (-w) send';
  if (token.compressok !== (flags.compressed || flags.raw)) return token.compressok ? 'the token is of a compressed (-c) send' : 'the token is not of a compressed (-c) send';
  if (token.largeblockok && !(flags.largeBlocks || flags.raw)) return 'the token is of a large-block (-L) send';
  if (token.embedok && !(flags.embedded || flags.raw)) return 'the token is of an embedded-data (-e) send';
  return null;
}

// Why a decoded token does not belong to `step`, or null when resuming it sends exactly this step:
// the same snapshot and GUIDs, and stream flags this lineage produces.
export function tokenMismatch(t: DecodedToken, step: SendStep): string | null {
  if (t.toname !== step.snapshot) return `it is for ${t.toname}`;
  if (t.toguid !== step.guid) return `it is for GUID ${t.toguid}, not ${step.guid}`;
  const from = step.stream === 'full' ? null : step.fromGuid;
  if (t.fromguid !== from) return from === null ? 'it is an incremental stream, this step is full' : t.fromguid === null ? 'it is a full stream, this step is incremental' : `it is incremental from GUID ${t.fromguid}, this step from ${from}`;
  return tokenFlagsProblem(t.flags, step.flags);
}
