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

// Why a decoded token does not belong to `step`, or null when resuming it sends exactly this step.
// The token's stream flags may only be ones the lineage allows (ZFS sets large-block and embedded
// only when the dataset uses them); raw must be equal.
export function tokenMismatch(t: DecodedToken, step: SendStep): string | null {
  if (t.toname !== step.snapshot) return `it is for ${t.toname}`;
  if (t.toguid !== step.guid) return `it is for GUID ${t.toguid}, not ${step.guid}`;
  const from = step.stream === 'full' ? null : step.fromGuid;
  if (t.fromguid !== from) return from === null ? 'it is an incremental stream, this step is full' : t.fromguid === null ? 'it is a full stream, this step is incremental' : `it is incremental from GUID ${t.fromguid}, this step from ${from}`;
  if (t.flags.rawok !== step.flags.raw) return t.flags.rawok ? 'it is a raw stream, this lineage is not raw' : 'it is not raw, this lineage is raw';
  if (t.flags.largeblockok && !step.flags.largeBlocks) return 'it uses large blocks, which this lineage does not';
  if (t.flags.embedok && !step.flags.embedded) return 'it uses embedded blocks, which this lineage does not';
  if (t.flags.compressok && !step.flags.compressed) return 'it is compressed, which this lineage is not';
  return null;
}
