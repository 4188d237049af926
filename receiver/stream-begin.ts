// The GUID a `zfs send` stream carries: its first record is DRR_BEGIN, whose drr_toguid ZFS gives
// the snapshot it receives (dmu_recv_end_sync sets ds_guid from it, which is why a replica's GUIDs
// equal the source's). Reading it from the bytes the agent forwards anyway saves the `zfs get guid`
// process after every receive. Layout (zfs_ioctl.h, dmu_replay_record): drr_type u32 @0 (0 =
// BEGIN), drr_payloadlen u32 @4, drr_magic u64 @8, versioninfo @16, creation_time @24, objset type
// u32 @32, flags u32 @36, drr_toguid u64 @40. The sender's byte order; drr_magic tells which.
// Anything else (a short stream, another magic) gives null, and the agent asks zfs instead.

/** DMU_BACKUP_MAGIC. */
const BACKUP_MAGIC = 0x2f5bacbacn;
/** Bytes needed: the record header and drr_begin up to and including drr_toguid. */
const NEEDED = 48;

/** Collects a stream's first bytes and reads DRR_BEGIN's drr_toguid from them. */
export class StreamBegin {
  private readonly head = Buffer.alloc(NEEDED);
  private fill = 0;

  /** Feeds the next piece of the stream (only the first NEEDED bytes are kept). */
  push(piece: Buffer): void {
    if (this.fill >= NEEDED) return;
    const take = Math.min(NEEDED - this.fill, piece.length);
    piece.copy(this.head, this.fill, 0, take);
    this.fill += take;
  }

  /** drr_toguid as a decimal string, or null when the stream did not start with a DRR_BEGIN record. */
  toguid(): string | null {
    if (this.fill < NEEDED) return null;
    for (const le of [true, false]) {
      const u32 = (at: number): number => (le ? this.head.readUInt32LE(at) : this.head.readUInt32BE(at));
      const u64 = (at: number): bigint => (le ? this.head.readBigUInt64LE(at) : this.head.readBigUInt64BE(at));
      if (u32(0) !== 0 || u64(8) !== BACKUP_MAGIC) continue;
      const guid = u64(40);
      return guid === 0n ? null : guid.toString();
    }
    return null;
  }
}
