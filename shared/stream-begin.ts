// The GUID a `zfs send` stream carries: its first record is DRR_BEGIN, whose drr_toguid ZFS gives
// the snapshot it receives (dmu_recv_end_sync sets ds_guid from it, which is why a replica's GUIDs
// equal the source's). Reading it from the bytes the agent forwards anyway saves the `zfs get guid`
// process after every receive. Layout (zfs_ioctl.h, dmu_replay_record): drr_type u32 @0 (0 =
// BEGIN), drr_payloadlen u32 @4, drr_magic u64 @8, versioninfo @16, creation_time @24, objset type
// u32 @32, flags u32 @36, drr_toguid u64 @40, drr_fromguid u64 @48. The sender's byte order;
// drr_magic tells which. Anything else (a short stream, another magic) gives null, and the agent
// asks zfs instead. Shared: restore --zfs-receive checks in dom0 that the backup qube's stream is a
// single full snapshot stream of the expected GUID before zfs receive sees a byte of it.

/** DMU_BACKUP_MAGIC. */
const BACKUP_MAGIC = 0x2f5bacbacn;
/** Bytes needed for the GUID: the record header and drr_begin up to and including drr_toguid. */
const NEEDED = 48;
/** Bytes kept: up to and including drr_fromguid. */
const KEPT = 56;

/** What DRR_BEGIN says about a stream. */
export interface BeginRecord {
  toguid: bigint;
  fromguid: bigint;
  /** DMU_GET_STREAM_HDRTYPE(drr_versioninfo): 1 a substream (one snapshot), 2 a compound stream (-R, -p). */
  hdrtype: number;
}

/** Collects a stream's first bytes and reads DRR_BEGIN's drr_toguid from them. */
export class StreamBegin {
  private readonly head = Buffer.alloc(KEPT);
  private fill = 0;

  /** Feeds the next piece of the stream (only the first NEEDED bytes are kept). */
  push(piece: Buffer): void {
    if (this.fill >= KEPT) return;
    const take = Math.min(KEPT - this.fill, piece.length);
    piece.copy(this.head, this.fill, 0, take);
    this.fill += take;
  }

  /** Bytes taken so far (at most 56). */
  get filled(): number {
    return this.fill;
  }

  /** drr_toguid as a decimal string, or null when the stream did not start with a DRR_BEGIN record. */
  toguid(): string | null {
    const r = this.read(NEEDED);
    return r === null || r.toguid === 0n ? null : r.toguid.toString();
  }

  /** The DRR_BEGIN fields, or null before 56 bytes or when the stream does not start with DRR_BEGIN. */
  record(): BeginRecord | null {
    return this.read(KEPT);
  }

  private read(needed: number): BeginRecord | null {
    if (this.fill < needed) return null;
    for (const le of [true, false]) {
      const u32 = (at: number): number => (le ? this.head.readUInt32LE(at) : this.head.readUInt32BE(at));
      const u64 = (at: number): bigint => (le ? this.head.readBigUInt64LE(at) : this.head.readBigUInt64BE(at));
      if (u32(0) !== 0 || u64(8) !== BACKUP_MAGIC) continue;
      return { toguid: u64(40), fromguid: needed >= KEPT ? u64(48) : 0n, hdrtype: Number(u64(16) & 3n) };
    }
    return null;
  }
}
