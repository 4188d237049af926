// What every command function receives: the adapters (so tests can pass fakes) and the settings
// the CLI resolved. Commands return data; they never print or exit.
import type { Finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { QubesInventory, ZfsInventory, ZfsSnapshot } from '../inventory/types.ts';
import type { ResolvedDesignation, Target } from '../plan/types.ts';
import type { ReceiverClient } from '../receiver-link/client.ts';
import type { DecodedToken, SendFlags } from '../send/types.ts';
import type { Readable, Writable } from 'node:stream';

/** The pure core, injected so commands can be tested without the other modules' fixtures. */
export interface Core {
  loadJob(text: string): { job: Job | null; findings: Finding[] };
  resolveDesignations(job: Job, qubes: QubesInventory, zfs: ZfsInventory): { designations: ResolvedDesignation[]; findings: Finding[] };
  computeTargets(job: Job, designations: ResolvedDesignation[], qubes: QubesInventory, zfs: ZfsInventory): { targets: Target[]; findings: Finding[] };
}

/** The adapters that touch the system. */
export interface SystemAdapters {
  collectZfs(): Promise<ZfsInventory>;
  collectQubes(): Promise<QubesInventory>;
  createSnapshots(names: readonly string[]): Promise<void>;
  listSnapshots(names: readonly string[]): Promise<ZfsSnapshot[]>;
  /** `snapshot --content-hash` (dom0/zfs/content-hash.ts); absent where it cannot run. */
  contentHash?: ContentHashAdapters;
  /** One Admin API call (settings capture and comparison); absent in tests that need none. */
  adminApi?: (method: string, dest: string, arg?: string, payload?: string) => Promise<string>;
}

/** Reading a volume snapshot's bytes in dom0 through a temporary clone, and removing leftovers. */
export interface ContentHashAdapters {
  hash(snapshot: string, options: { expectGuid: bigint; onProgress?: (p: { snapshot: string; done: bigint; total: bigint }) => void }): Promise<{ sha256: string; bytes: bigint }>;
  /** Removes hashing clones a crashed run left (only our own marked ones); returns them. */
  cleanup(): Promise<{ clone: string; snapshot: string }[]>;
}

/** What one `zfs send` should stream: a snapshot (full, or from a base), or a resume token. */
export type SendSource =
  | { snapshot: string; from: string | null; flags: SendFlags }
  | { token: string };

/** A running `zfs send`. */
export interface SendProcess {
  stdout: Readable;
  /** Kills it, closes the pipe's read end, then waits (a send blocked on a full pipe cannot hang). */
  stop(): Promise<void>;
  /** Its exit, with the last lines of its stderr. */
  done: Promise<{ exitCode: number | null; signal: string | null; stderrTail: string[] }>;
}

/** A running `zfs send` whose stdout is the receiver link itself (no byte passes through dom0's process). */
export interface SendIntoProcess {
  /** Stream bytes written so far (the kernel's count). */
  written(): bigint;
  /** Kills it, then waits. */
  stop(): Promise<void>;
  /** Its exit, with the last lines of its stderr and the stream bytes it wrote in all. */
  done: Promise<{ exitCode: number | null; signal: string | null; stderrTail: string[]; bytes: bigint }>;
}

/** A connection to the receiver agent (the qrexec call). */
export interface ReceiverConnection {
  client: Pick<ReceiverClient, 'hello' | 'inventory' | 'receive' | 'abort' | 'close' | 'storeSettings' | 'readSettings'>
    // restore only (fakes for send/verify need not have them)
    & Partial<Pick<ReceiverClient, 'exportVolume' | 'sendSnapshot' | 'failed'>>;
  /** The qrexec child's last stderr lines, sanitised (diagnostics only). */
  stderrTail(): string[];
}

/** The adapters `send` and `verify` use beyond SystemAdapters. */
export interface SendAdapters {
  connectReceiver(qube: string): ReceiverConnection;
  /**
   * Starts making what the next connectReceiver needs (its stdin pipe) while the command does other
   * work; returns a release for one that ends up unused. Absent: connectReceiver makes it then.
   */
  prepareConnection?(): () => void;
  /** `zfs send -nvP -t TOKEN` in dom0, parsed; throws a QzbError when it cannot be decoded. */
  decodeToken(token: string): Promise<DecodedToken>;
  /** `zfs send -nvP …`: the stream size estimate (a hint), or null. */
  estimate(source: SendSource): Promise<bigint | null>;
  /** `zfs send -nvP -I FROM LAST`: estimates per snapshot pair, keyed `FROM>TO` (hints); absent: one estimate per step. */
  estimateRange?(from: string, last: string, flags: SendFlags): Promise<Map<string, bigint>>;
  startSend(source: SendSource): SendProcess;
  /** `zfs send` with the link's `output` as its stdout; absent where it cannot run (then every byte is forwarded). */
  startSendInto?(source: SendSource, output: Writable | number): SendIntoProcess;
  /** `zfs bookmark SNAPSHOT BOOKMARK`. */
  createBookmark(snapshot: string, bookmark: string): Promise<void>;
}

// Everything a command function gets.
export interface Context {
  core: Core;
  system: SystemAdapters;
  /** Present where send/verify can run (the CLI wires the real ones). */
  send?: SendAdapters;
  /** The resolved metadata directory (may not exist: commands that need it check). */
  metadataDir: string;
  cwd: string;
  now(): Date;
  /** A progress or notice line for the user (stderr); never data. */
  notice(line: string): void;
}
