// The dom0 side of the protocol over any stream pair (a qrexec child's stdout/stdin, or in-memory
// streams in tests). Every frame from the agent is hostile until proven otherwise: frame limits,
// the msgpack subset, strict schemas, names inside the receive root, replies matched to the request
// in flight. Any violation is fatal: the link is marked failed and every later call throws it.
import { closeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { readFrames, FrameWriter } from '../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../shared/protocol/codec.ts';
import { FrameType } from '../../shared/protocol/frame.ts';
import { PROTOCOL_VERSION } from '../../shared/protocol/limits.ts';
import { requestSchemas, type Request } from '../../shared/protocol/schemas/requests.ts';
import { replySchemas, type Reply } from '../../shared/protocol/schemas/replies.ts';
import { isProtocolError, ProtocolError, ProtocolErrorCode, type ProtocolErrorCodeValue } from '../../shared/protocol/errors.ts';
import { isBelowRoot, pointDatasetWithinRoot } from '../../shared/protocol/confine.ts';
import { splitPointName } from '../../shared/protocol/schemas/common.ts';
import { chunkSettings, joinSettings } from '../../shared/protocol/settings-props.ts';
import { datasetNameProblem, poolOf } from '../../shared/zfs-names.ts';
import { QzbError } from '../../shared/errors.ts';
import { VERSION } from '../../shared/version.ts';
import { InventoryCollector } from './inventory.ts';
import { forwardStream, watchDirect, type DirectSource, type ForwardOutcome } from './forward.ts';
import { ReceiveFailedError, ReceiverRequestError } from './errors.ts';
import { DEFAULT_LINK_TIMEOUTS, stallError, timeoutError, timer, type LinkTimeouts } from './timeouts.ts';
import type { ReceiveHeader, ReceiveResult, ReceiverHello, ReceiverInventory } from './types.ts';

/** Replies read ahead of the caller before the reader pauses (backpressure on the agent). */
const MAX_QUEUED_REPLIES = 16;

/** Options for a client over an existing stream pair; the timeouts default to DEFAULT_LINK_TIMEOUTS. */
export interface ReceiverClientOptions extends Partial<LinkTimeouts> {
  /** Stops the transport (e.g. the qrexec child) after the output has been ended; awaited by close(). */
  stopTransport?: () => Promise<void>;
  /** Says why the peer closed (exit status, qrexec's message), for the PROTOCOL_PEER_CLOSED error. */
  describeClose?: () => Promise<string | null>;
  /** A new descriptor of the link's output for a process that writes into it (stdin-fifo.ts); absent: the output itself. */
  openWriter?: () => number;
}

/** Options for receive(). */
export interface ReceiveOptions {
  /** Called after each forwarded chunk with the total stream bytes forwarded so far. */
  onProgress?: (bytes: bigint) => void;
  /**
   * Cancels the receive (Ctrl-C, a stall watchdog): the source is destroyed and the link fails with
   * RECEIVER_CANCELLED, even when a write is blocked on a receiver that stopped reading. Call
   * close() next: the agent sees EOF (or is stopped) and ZFS keeps resumable partial state.
   */
  signal?: AbortSignal;
  /**
   * Send the stream unframed, straight into the agent's `zfs receive` (no copy in the agent), if
   * the agent offers it. For large streams: it costs the agent a `zfs get` for the GUID, and a
   * stream that stops short ends the session (after its result), as nothing can follow it.
   */
  unframed?: boolean;
  /**
   * Whether the process behind `source` succeeded (for `zfs send`: exit 0), once it has ended.
   * Needed unframed (else the stream goes framed): there is no END, so a source that ends because
   * its process died is a cut stream only this tells; the link is then ended so zfs receive sees it.
   */
  sourceOk?: Promise<boolean>;
  /**
   * Unframed only: starts the source writing into the link itself (its output becomes e.g. `zfs
   * send`'s stdout), so no stream byte passes through dom0's process. Called once the agent is
   * ready, when the link has a descriptor to give; otherwise the Readable `source` is forwarded.
   */
  direct?: (output: Writable | number) => DirectSource;
}

/** A data, END or ABORT frame of an export, queued in order with the control messages around it. */
type StreamPiece = { kind: '#data'; payload: Buffer } | { kind: '#end' } | { kind: '#abort' };
type Incoming = Reply | StreamPiece;
type Queued = { message: Incoming; taken: () => void };

/** One piece of an exported volume, in volume order: bytes, or a run of zero bytes. */
export type ExportPiece = { kind: 'data'; bytes: Buffer } | { kind: 'hole'; length: bigint };

/** Options for exportVolume(). */
export interface ExportOptions {
  /** The volsize the receiver must announce: the recorded size of the volume (exact). */
  volsize: bigint;
  /** The GUID the snapshot must have on the receiver (as recorded by send), when known. */
  guid?: bigint | null;
  /**
   * Takes each piece in order; the next piece is read only when this has resolved (backpressure
   * on the agent). Throwing abandons the export: the link fails (close it; the agent destroys its
   * clone when it sees the connection go).
   */
  write: (piece: ExportPiece) => Promise<void>;
  /** Called after each piece with the bytes (data plus holes) taken so far. */
  onProgress?: (bytes: bigint) => void;
}

/** A completed export. */
export interface ExportResult {
  snapshot: string;
  guid: bigint;
  bytes: bigint;
  holeBytes: bigint;
  /** The agent could not destroy its clone (it destroys it at its next export). */
  cloneLeft: string | null;
}

/** Options for sendSnapshot(). */
export interface SendSnapshotOptions {
  /** The volsize the receiver must announce (the recorded size of the volume). */
  volsize: bigint;
  /** The GUID the snapshot must have on the receiver (as recorded by send), when known. */
  guid: bigint | null;
  /** dom0's resume token of an interrupted receive of this stream, or null for the whole stream. */
  resumeToken: string | null;
  /** The most stream bytes accepted (a larger stream is a hostile one: the link fails). */
  maxBytes: bigint;
  /** Takes each chunk in order; the next is read only when this has resolved. Throwing abandons the stream. */
  write: (chunk: Buffer) => Promise<void>;
  /** Bytes so far, and the agent's estimate of the whole stream (a hint: null when it has none). */
  onProgress?: (bytes: bigint, estimate: bigint | null) => void;
}

/** Typed async access to one receiver agent session. One request at a time; hello() first. */
export class ReceiverClient {
  private readonly writer: FrameWriter;
  private readonly queue: Queued[] = [];
  private waiting: { resolve: (m: Incoming) => void; reject: (e: Error) => void } | null = null;
  private spaceWaiter: (() => void) | null = null;
  private failure: Error | null = null;
  private expecting = false;
  /** An export is in flight: data, END and ABORT frames from the agent are expected. */
  private streamingIn = false;
  private busy = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  private root: string | null = null;
  private agentUnframed = false;
  private readonly reader: Promise<void>;
  private readonly timeouts: LinkTimeouts;

  constructor(
    input: Readable,
    output: Writable,
    private readonly options: ReceiverClientOptions = {},
  ) {
    this.writer = new FrameWriter(output);
    this.timeouts = {
      replyTimeoutMs: options.replyTimeoutMs ?? DEFAULT_LINK_TIMEOUTS.replyTimeoutMs,
      inventoryTimeoutMs: options.inventoryTimeoutMs ?? DEFAULT_LINK_TIMEOUTS.inventoryTimeoutMs,
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_LINK_TIMEOUTS.stallTimeoutMs,
    };
    this.reader = this.pump(input);
  }

  /** The receive root fixed by hello(), or null before it. */
  get receiveRoot(): string | null {
    return this.root;
  }

  /** The fatal error that ended the link, or null while it is usable. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Opens the session: protocol version check, receive root, the receiver's ZFS and pool features. */
  hello(receiveRoot: string): Promise<ReceiverHello> {
    const problem = datasetNameProblem(receiveRoot);
    if (problem !== null) return Promise.reject(new QzbError('INVALID_DATASET_NAME', `invalid receive root ${JSON.stringify(receiveRoot)}: ${problem}`));
    return this.exchange(async () => {
      if (this.root !== null) throw new QzbError('RECEIVER_USAGE', 'hello() was already called on this link');
      const reply = await this.request({ kind: 'hello', protocol: PROTOCOL_VERSION, receiveRoot, client: `qubes-zfs-backup ${VERSION}` }, 'hello', 'answer hello');
      if (reply.protocol !== PROTOCOL_VERSION) throw this.fatal(ProtocolErrorCode.VERSION_MISMATCH, `the receiver speaks protocol ${reply.protocol}, dom0 speaks ${PROTOCOL_VERSION}`);
      if (reply.receiveRoot.name !== receiveRoot || reply.pool.name !== poolOf(receiveRoot)) {
        throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered hello for ${JSON.stringify(reply.receiveRoot.name)} instead of ${receiveRoot}`);
      }
      this.root = receiveRoot;
      this.agentUnframed = reply.unframed;
      return {
        protocol: reply.protocol,
        agent: reply.agent,
        zfsVersion: reply.zfsVersion,
        receiveRoot: reply.receiveRoot,
        pool: reply.pool,
        features: new Map(reply.pool.features.map((f) => [f.name, f.state])),
        unframed: reply.unframed,
      };
    });
  }

  /** Every dataset under the receive root with its snapshots and bookmarks (bounded, validated). */
  inventory(): Promise<ReceiverInventory> {
    return this.exchange(async () => {
      const root = this.requireRoot();
      const { replyTimeoutMs, inventoryTimeoutMs } = this.timeouts;
      const deadline = Date.now() + inventoryTimeoutMs;
      const collector = new InventoryCollector(root);
      // The first batch may take long (the agent lists everything first); later ones come at once.
      let reply = await this.request({ kind: 'inventory' }, ['inventory-batch', 'inventory-end'], 'finish the inventory', inventoryTimeoutMs);
      for (;;) {
        if (reply.kind === 'inventory-end') return collector.finish(reply);
        try {
          collector.add(reply);
        } catch (error) {
          throw this.failWith(error);
        }
        const left = deadline - Date.now();
        reply = left <= replyTimeoutMs
          ? await this.within(this.expect('inventory-batch', 'inventory-end'), Math.max(0, left), () => timeoutError('finish the inventory', inventoryTimeoutMs))
          : await this.within(this.expect('inventory-batch', 'inventory-end'), replyTimeoutMs, () => timeoutError('send the next inventory batch', replyTimeoutMs));
      }
    });
  }

  /**
   * Receives one stream: sends the header, waits until the agent has started `zfs receive`, then
   * forwards `source` (e.g. `zfs send`'s stdout) as data frames with backpressure, and END when
   * the source is done. If the agent reports a result early (zfs exited), forwarding stops and
   * `source` is destroyed (closing the pipe's read end); the caller stops its `zfs send`.
   * Resolves with the GUID of the snapshot the receiver created; throws ReceiveFailedError when zfs failed.
   *
   * `source` may be a function that returns the stream: it is called once the agent is ready, so
   * `zfs send` starts only then. A Readable passed directly gets a reader attached at once: Node
   * discards a child's unread stdout when the child exits, which loses small streams (an
   * incremental of an unchanged dataset) that `zfs send` finishes before the agent is ready.
   */
  receive(header: ReceiveHeader, source: Readable | (() => Readable), options: ReceiveOptions = {}): Promise<ReceiveResult> {
    const early = typeof source === 'function' ? null : holdUnread(source);
    return this.exchange(async () => {
      try {
        return await this.receiveStream(header, early, source as () => Readable, options);
      } catch (error) {
        // Refused or failed before the stream was used up: nobody will read it any more.
        if (early && !early.stream.readableEnded) early.stream.destroy();
        throw error;
      } finally {
        early?.release();
      }
    });
  }

  private async receiveStream(header: ReceiveHeader, given: { stream: Readable; release: () => void } | null, open: () => Readable, options: ReceiveOptions): Promise<ReceiveResult> {
    const root = this.requireRoot();
    if (!isBelowRoot(header.dataset, root)) throw new QzbError('RECEIVER_USAGE', `${header.dataset} is not below the receive root ${root}`);
    if (header.origin !== null && pointDatasetWithinRoot(header.origin, '@', root) === null) {
      throw new QzbError('RECEIVER_USAGE', `the origin ${header.origin} is not inside the receive root ${root}`);
    }
    const sourceOk = options.sourceOk;
    const unframed = options.unframed === true && this.agentUnframed && sourceOk !== undefined;
    this.checkNames(await this.request({ kind: 'receive', ...header, intoPlaceholder: header.intoPlaceholder ?? false, unframed }, 'receive-ready', 'start the receive'), header);
    // The hold's 'readable' listener would keep forwarding's 'data' listener from flowing.
    given?.release();
    const channel = unframed && options.direct ? this.handOffChannel() : null;
    let direct: DirectSource | null = null;
    try {
      direct = channel !== null ? options.direct!(channel) : null;
    } finally {
      // The process has its own copy now (or none was started).
      if (typeof channel === 'number') closeSync(channel);
    }
    const source = direct ? null : given?.stream ?? open();
    const point = `${header.dataset}@${header.snapshot}`;
    const { stallTimeoutMs } = this.timeouts;

    // The result may come before the stream ends (zfs exited): forwarding stops when it does. Only
    // a failure may come early: `received` before dom0 has sent END claims a stream never completed.
    // Unframed there is no END: zfs receive may finish reading (and the agent answer) a moment
    // before the source's end is seen here, so only a failure stops forwarding, and `received`
    // counts only for a stream forwarded whole.
    let endSent = false;
    const result = this.next().then((reply) => {
      if (reply.kind === 'received' || reply.kind === 'receive-failed') this.checkNames(reply, header);
      if (reply.kind === 'received' && !endSent && !unframed) throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver reported ${point} received before dom0 had sent the whole stream`);
      return reply;
    });
    result.catch(() => {});
    const failure = unframed ? result.then((r) => (r.kind === 'received' ? new Promise<never>(() => {}) : r)) : result;
    const forwarding = { signal: options.signal, onProgress: options.onProgress, stallMs: stallTimeoutMs, raw: unframed };
    const sent: ForwardOutcome & { ok?: boolean } = direct ? await watchDirect(direct, failure, forwarding) : await forwardStream(source!, this.writer, failure, forwarding);
    if (sent.cancelled) throw this.cancel(header);
    if (sent.stalled) throw this.failWith(stallError(point, 'accepted no stream data', stallTimeoutMs));
    endSent = sent.completed && sent.sourceError === null;
    if (unframed) {
      // Its end is only the stream's end if `zfs send` succeeded (a killed one ends its output too).
      if (endSent) endSent = direct ? sent.ok === true : await Promise.race([sourceOk!, failure.then(() => true, () => true)]);
      // A stream cut short cannot be followed by anything: EOF lets zfs receive fail (keeping
      // resumable state) and the agent answer, and the link is done after that answer.
      if (!endSent) this.writer.end();
    } else {
      // END or ABORT may wait on a full pipe; an agent that already answered need not read it.
      const closing = (endSent ? this.writer.writeEnd() : this.writer.writeAbort()).then(() => 'written' as const, () => 'written' as const);
      const answered = result.then(() => 'answered' as const, () => 'answered' as const);
      const watchdog = timer(stallTimeoutMs);
      try {
        if ((await Promise.race([closing, answered, watchdog.expired])) === 'expired') {
          throw this.failWith(stallError(point, `accepted no stream data (the ${endSent ? 'END' : 'ABORT'} frame)`, stallTimeoutMs));
        }
      } finally {
        watchdog.cancel();
      }
    }
    const reply = this.classify(await this.within(result, stallTimeoutMs, () => stallError(point, 'sent no result after the end of the stream', stallTimeoutMs)), ['received', 'receive-failed']);
    if (reply.kind !== 'received' && reply.kind !== 'receive-failed') {
      throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `unexpected ${reply.kind} after a receive`);
    }
    this.checkNames(reply, header);
    // (`received` all the same: zfs send wrote the whole stream, then failed; the caller sees that.)
    if (unframed && !endSent) this.failWith(new QzbError('RECEIVER_CLOSED', `the receiver link ended with the unframed stream of ${point}, which stopped short`));
    if (sent.sourceError !== null) throw sourceFailed(header, sent.sourceError);
    if (reply.kind === 'received') return { dataset: reply.dataset, snapshot: reply.snapshot, guid: BigInt(reply.guid), bytes: sent.bytes };
    // The agent ends the session after a failed unframed stream (the rest of it may be on the way).
    if (unframed) this.failWith(new QzbError('RECEIVER_CLOSED', `the receiver ended the session after the failed unframed receive of ${point}`));
    throw new ReceiveFailedError(reply.dataset, reply.snapshot, reply.exitCode, reply.stderr, reply.resumeToken, sent.bytes);
  }

  /** Where a direct source writes (ReceiveOptions.direct): a descriptor of the output, or the output itself; null: forward. */
  private handOffChannel(): Writable | number | null {
    const output = this.writer.handOff();
    if (output === null) return null;
    if (!this.options.openWriter) return output;
    try {
      return this.options.openWriter();
    } catch {
      return null;
    }
  }

  /** Discards the partial receive state of `dataset` (`zfs receive -A`); hadState false if there was none. */
  abort(dataset: string): Promise<{ hadState: boolean }> {
    return this.exchange(async () => {
      const root = this.requireRoot();
      if (!isBelowRoot(dataset, root)) throw new QzbError('RECEIVER_USAGE', `${dataset} is not below the receive root ${root}`);
      const reply = await this.request({ kind: 'abort', dataset }, 'aborted', 'answer abort');
      if (reply.dataset !== dataset) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered abort for ${JSON.stringify(reply.dataset)} instead of ${dataset}`);
      return { hadState: reply.hadState };
    });
  }

  /**
   * Stores a qube's settings document (canonical JSON bytes) as user properties of `snapshot`, a
   * received snapshot below the receive root; `alreadyStored` when the same document was there. A
   * different document already on the snapshot is refused (RECEIVER_SETTINGS_CONFLICT).
   */
  storeSettings(snapshot: string, bytes: Uint8Array, sha256: string): Promise<{ alreadyStored: boolean }> {
    return this.exchange(async () => {
      this.requireBelowRoot(snapshot);
      const chunks = chunkSettings(bytes);
      if (joinSettings(chunks).sha256 !== sha256) throw new QzbError('RECEIVER_USAGE', `the settings bytes for ${snapshot} do not have the SHA-256 given`);
      await this.send({ kind: 'store-settings', snapshot, sha256, chunks });
      const reply = await this.expect('settings-stored');
      if (reply.snapshot !== snapshot || reply.sha256 !== sha256) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered store-settings for ${JSON.stringify(reply.snapshot)} ${reply.sha256}`);
      return { alreadyStored: reply.alreadyStored };
    });
  }

  /**
   * Reads the settings document stored on `snapshot`: null when there is none; otherwise the bytes,
   * their SHA-256 computed here, and the SHA-256 the receiver's property claims (compare both with
   * the job state's record: the receiver is not trusted).
   */
  readSettings(snapshot: string): Promise<{ bytes: Buffer; sha256: string; storedSha256: string } | null> {
    return this.exchange(async () => {
      this.requireBelowRoot(snapshot);
      await this.send({ kind: 'read-settings', snapshot });
      const reply = await this.expect('settings');
      if (reply.snapshot !== snapshot) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered read-settings for ${JSON.stringify(reply.snapshot)} instead of ${snapshot}`);
      if (reply.sha256 === null) {
        if (reply.chunks.length > 0) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver sent settings chunks without a SHA-256 for ${snapshot}`);
        return null;
      }
      if (reply.chunks.length === 0) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver sent a settings SHA-256 without chunks for ${snapshot}`);
      const joined = joinSettings(reply.chunks);
      return { bytes: joined.bytes, sha256: joined.sha256, storedSha256: reply.sha256 };
    });
  }

  /**
   * Reads the bytes of one received volume snapshot below the receive root, in order, into
   * `options.write`; dom0 never interprets them. The agent's word is checked at every step: it must
   * announce exactly the expected volsize (and GUID, when given); data plus holes may never pass
   * it, and END must come exactly at it; every frame within the stall timeout.
   */
  exportVolume(snapshot: string, options: ExportOptions): Promise<ExportResult> {
    return this.exchange(async () => {
      this.requireBelowRoot(snapshot);
      const { replyTimeoutMs, stallTimeoutMs } = this.timeouts;
      this.streamingIn = true;
      try {
        const ready = await this.request({ kind: 'export', snapshot }, 'export-ready', 'expose the volume snapshot');
        if (ready.snapshot !== snapshot) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered export for ${JSON.stringify(ready.snapshot)} instead of ${snapshot}`);
        const volsize = BigInt(ready.volsize);
        const guid = BigInt(ready.guid);
        if (volsize !== options.volsize) {
          throw this.failWith(new QzbError('EXPORT_SIZE_MISMATCH', `the receiver announced ${volsize} bytes for ${snapshot}, but the volume's recorded size is ${options.volsize} bytes`));
        }
        if (options.guid !== undefined && options.guid !== null && guid !== options.guid) {
          throw this.failWith(new QzbError('EXPORT_GUID_MISMATCH', `${snapshot} has GUID ${guid} on the receiver, but send recorded ${options.guid}: it is not the snapshot that was backed up`));
        }
        let taken = 0n;
        let holes = 0n;
        const stalled = (): Error => stallError(snapshot, 'sent no export data', stallTimeoutMs);
        for (;;) {
          const piece = await this.within(this.nextIncoming(), stallTimeoutMs, stalled);
          if (piece.kind === '#end') break;
          if (piece.kind === '#abort') {
            const reply = this.classify(await this.within(this.next(), replyTimeoutMs, () => timeoutError('explain the aborted export', replyTimeoutMs)), []);
            throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent ${reply.kind} after aborting an export`);
          }
          let out: ExportPiece;
          if (piece.kind === '#data') {
            out = { kind: 'data', bytes: piece.payload };
            taken += BigInt(piece.payload.length);
          } else if (piece.kind === 'export-hole') {
            const length = BigInt(piece.bytes);
            if (length === 0n) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver sent an empty hole in the export of ${snapshot}`);
            out = { kind: 'hole', length };
            taken += length;
            holes += length;
          } else {
            throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent ${piece.kind} inside the export of ${snapshot}`);
          }
          if (taken > volsize) throw this.fatal(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver sent more than the announced ${volsize} bytes for ${snapshot}`);
          try {
            await options.write(out);
          } catch (error) {
            throw this.failWith(error);
          }
          options.onProgress?.(taken);
        }
        if (taken !== volsize) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the export of ${snapshot} ended after ${taken} of ${volsize} bytes`);
        this.streamingIn = false;
        const done = await this.within(this.expect('exported'), replyTimeoutMs, () => timeoutError('finish the export', replyTimeoutMs));
        if (done.snapshot !== snapshot || BigInt(done.bytes) !== volsize || BigInt(done.holeBytes) !== holes) {
          throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver's export summary for ${JSON.stringify(done.snapshot)} does not match what it sent`);
        }
        return { snapshot, guid, bytes: volsize, holeBytes: holes, cloneLeft: done.cloneLeft };
      } finally {
        this.streamingIn = false;
      }
    });
  }

  /**
   * A `zfs send` stream of one volume snapshot below the root (restore --zfs-receive): send-ready
   * (its volsize and GUID checked first), data frames to `write`, END, snapshot-sent with the same
   * byte count. An ABORT is followed by the agent's error, thrown as such (the link stays usable).
   */
  sendSnapshot(snapshot: string, options: SendSnapshotOptions): Promise<{ snapshot: string; guid: bigint; bytes: bigint }> {
    return this.exchange(async () => {
      this.requireBelowRoot(snapshot);
      const { replyTimeoutMs, stallTimeoutMs } = this.timeouts;
      this.streamingIn = true;
      try {
        const ready = await this.request({ kind: 'send-snapshot', snapshot, resumeToken: options.resumeToken }, 'send-ready', 'start zfs send');
        if (ready.snapshot !== snapshot) throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered send-snapshot for ${JSON.stringify(ready.snapshot)} instead of ${snapshot}`);
        const guid = BigInt(ready.guid);
        if (BigInt(ready.volsize) !== options.volsize) {
          throw this.failWith(new QzbError('EXPORT_SIZE_MISMATCH', `the receiver announced ${ready.volsize} bytes for ${snapshot}, but the volume's recorded size is ${options.volsize} bytes`));
        }
        if (options.guid !== null && guid !== options.guid) {
          throw this.failWith(new QzbError('EXPORT_GUID_MISMATCH', `${snapshot} has GUID ${guid} on the receiver, but send recorded ${options.guid}: it is not the snapshot that was backed up`));
        }
        const estimate = ready.estimate === null ? null : BigInt(ready.estimate);
        let taken = 0n;
        for (;;) {
          const piece = await this.within(this.nextIncoming(), stallTimeoutMs, () => stallError(snapshot, 'sent no stream data', stallTimeoutMs));
          if (piece.kind === '#end') break;
          if (piece.kind === '#abort') {
            const reply = this.classify(await this.within(this.next(), replyTimeoutMs, () => timeoutError('explain the aborted send', replyTimeoutMs)), []);
            throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent ${reply.kind} after aborting a send`);
          }
          if (piece.kind !== '#data') throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent ${piece.kind} inside the stream of ${snapshot}`);
          taken += BigInt(piece.payload.length);
          if (taken > options.maxBytes) throw this.fatal(ProtocolErrorCode.LIMIT_EXCEEDED, `the receiver sent more than ${options.maxBytes} stream bytes for ${snapshot}`);
          try {
            await options.write(piece.payload);
          } catch (error) {
            throw this.failWith(error);
          }
          options.onProgress?.(taken, estimate);
        }
        this.streamingIn = false;
        const done = await this.within(this.expect('snapshot-sent'), replyTimeoutMs, () => timeoutError('finish the send', replyTimeoutMs));
        if (done.snapshot !== snapshot || BigInt(done.bytes) !== taken) {
          throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver's summary of the stream of ${JSON.stringify(done.snapshot)} does not match what it sent`);
        }
        return { snapshot, guid, bytes: taken };
      } finally {
        this.streamingIn = false;
      }
    });
  }

  private requireBelowRoot(snapshot: string): void {
    const root = this.requireRoot();
    const parts = splitPointName(snapshot, '@');
    if (!parts || !isBelowRoot(parts.dataset, root)) throw new QzbError('RECEIVER_USAGE', `${snapshot} is not a snapshot below the receive root ${root}`);
  }

  /** Ends the session (EOF to the agent) and stops the transport. Safe to call more than once. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      this.writer.end();
      await this.options.stopTransport?.();
      await this.reader;
      this.failure ??= new QzbError('RECEIVER_CLOSED', 'the receiver link is closed');
    })();
    return this.closed;
  }

  /** Fails the link because a receive was cancelled; returns the error to throw. */
  private cancel(header: ReceiveHeader): Error {
    return this.failWith(new QzbError('RECEIVER_CANCELLED', `the receive of ${header.dataset}@${header.snapshot} was cancelled`, {
      hint: 'the receiver keeps resumable partial state; run send again to resume',
    }));
  }

  // ---- request/reply plumbing ----

  private async exchange<T>(body: () => Promise<T>): Promise<T> {
    if (this.failure) throw this.failure;
    if (this.busy) throw new QzbError('RECEIVER_BUSY', 'another receiver request is still running on this link');
    this.busy = true;
    this.expecting = true;
    try {
      return await body();
    } finally {
      this.expecting = false;
      this.busy = false;
      if (this.queue.length > 0) this.failWith(new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent an unsolicited ${this.queue[0]!.message.kind} message`));
    }
  }

  /**
   * Sends `request` and waits for its first reply, of one of `kinds`, for at most `ms` (the reply
   * timeout by default; the send counts too, as a full pipe waits on the agent). On expiry the
   * link fails with RECEIVER_TIMEOUT: the reply may still come, and nothing later is trusted.
   */
  private request<K extends Reply['kind']>(request: Request, kinds: K | K[], what: string, ms: number = this.timeouts.replyTimeoutMs): Promise<Extract<Reply, { kind: K }>> {
    const expected = Array.isArray(kinds) ? kinds : [kinds];
    return this.within((async () => {
      await this.send(request);
      return this.expect(...expected);
    })(), ms, () => timeoutError(what, ms));
  }

  /** `promise`, or the link's failure with `error()` once `ms` have passed. */
  private async within<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
    promise.catch(() => {});
    const watchdog = timer(ms);
    try {
      const outcome = await Promise.race([promise, watchdog.expired.then(() => EXPIRED)]);
      if (outcome === EXPIRED) throw this.failWith(error());
      return outcome as T;
    } finally {
      watchdog.cancel();
    }
  }

  private requireRoot(): string {
    if (this.root === null) throw new QzbError('RECEIVER_USAGE', 'call hello() before any other request');
    return this.root;
  }

  private async send(request: Request): Promise<void> {
    const frame = encodeMessage(requestSchemas, request);
    try {
      await this.writer.writeFrame(frame);
    } catch (error) {
      // The reader usually knows more (the agent's last message, the child's exit status).
      await Promise.race([this.reader, new Promise((r) => setTimeout(r, 1000))]);
      throw this.failure ?? this.failWith(error);
    }
  }

  /** The next reply, which must be of one of `kinds` (an error reply is thrown as such). */
  private async expect<K extends Reply['kind']>(...kinds: K[]): Promise<Extract<Reply, { kind: K }>> {
    return this.classify(await this.next(), kinds) as Extract<Reply, { kind: K }>;
  }

  private classify(reply: Reply, kinds: readonly string[]): Reply {
    if (reply.kind === 'error') {
      if (reply.code.startsWith('PROTOCOL_')) {
        throw this.failWith(new ProtocolError(reply.code as ProtocolErrorCodeValue, `the receiver ended the session: ${reply.message}`));
      }
      throw new ReceiverRequestError(reply.code, reply.message, reply.stderr);
    }
    if (!kinds.includes(reply.kind)) throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent ${reply.kind} where ${kinds.join(' or ')} was expected`);
    return reply;
  }

  private checkNames(reply: { dataset: string; snapshot: string }, header: ReceiveHeader): void {
    if (reply.dataset !== header.dataset || reply.snapshot !== header.snapshot) {
      throw this.fatal(ProtocolErrorCode.BAD_MESSAGE, `the receiver answered for ${JSON.stringify(`${reply.dataset}@${reply.snapshot}`)} instead of ${header.dataset}@${header.snapshot}`);
    }
  }

  /** The next control message; a data, END or ABORT frame here is a protocol violation. */
  private async next(): Promise<Reply> {
    const message = await this.nextIncoming();
    if (message.kind.startsWith('#')) throw this.fatal(ProtocolErrorCode.UNEXPECTED_MESSAGE, 'the receiver sent a data, END or ABORT frame where a control message was due');
    return message as Reply;
  }

  private nextIncoming(): Promise<Incoming> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.queue.shift();
    if (queued) {
      queued.taken();
      this.spaceWaiter?.();
      return Promise.resolve(queued.message);
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  private async pump(input: Readable): Promise<void> {
    try {
      for await (const frame of readFrames(input)) {
        let message: Incoming;
        if (frame.type !== FrameType.CONTROL) {
          if (!this.streamingIn) throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, 'the receiver sent a data, END or ABORT frame outside an export');
          message = frame.type === FrameType.DATA ? { kind: '#data', payload: frame.payload } : frame.type === FrameType.END ? { kind: '#end' } : { kind: '#abort' };
        } else {
          message = decodeMessage(replySchemas, frame.payload);
        }
        if (!this.expecting) throw new ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, `the receiver sent an unsolicited ${message.kind} message`);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w.resolve(message);
          continue;
        }
        this.queue.push({ message, taken: () => {} });
        while (this.queue.length >= MAX_QUEUED_REPLIES && this.failure === null) {
          await new Promise<void>((resolve) => (this.spaceWaiter = resolve));
          this.spaceWaiter = null;
        }
      }
      const detail = this.closing ? null : await this.options.describeClose?.().catch(() => null);
      this.failWith(new ProtocolError(ProtocolErrorCode.PEER_CLOSED, `the receiver closed the connection${detail ? ` (${detail})` : ''}`));
    } catch (error) {
      this.failWith(error);
    } finally {
      if (!input.destroyed) input.destroy();
    }
  }

  private fatal(code: ProtocolErrorCodeValue, message: string): Error {
    return this.failWith(new ProtocolError(code, message));
  }

  /** Marks the link failed with `error` (the first failure wins) and returns the recorded failure. */
  private failWith(error: unknown): Error {
    if (this.failure === null) {
      this.failure = this.closing && isProtocolError(error) && error.code === ProtocolErrorCode.PEER_CLOSED
        ? new QzbError('RECEIVER_CLOSED', 'the receiver link is closed')
        : error instanceof Error ? error : new ProtocolError(ProtocolErrorCode.BAD_FRAME, String(error));
      this.waiting?.reject(this.failure);
      this.waiting = null;
      this.spaceWaiter?.();
      this.writer.end();
    }
    return this.failure;
  }
}

/** What within() races against, distinct from any reply. */
const EXPIRED: unique symbol = Symbol('expired');

/** Attaches a no-op 'readable' listener so Node keeps a child's stdout when the child exits unread. */
function holdUnread(stream: Readable): { stream: Readable; release: () => void } {
  const noop = (): void => {};
  stream.on('readable', noop);
  return { stream, release: () => stream.off('readable', noop) };
}

function sourceFailed(header: ReceiveHeader, error: unknown): QzbError {
  return new QzbError('SEND_STREAM_FAILED', `the stream for ${header.dataset}@${header.snapshot} failed while it was being forwarded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
