// What every handler gets: the ZFS runner, the receive root fixed by hello, a way to reply and a
// log line writer (stderr, which qrexec sends to the qube's journal).
import type { AgentZfs, ZfsOutput } from './zfs-runner.ts';
import type { Reply } from '../shared/protocol/schemas/replies.ts';
import type { FrameWriter } from '../shared/protocol/stream-io.ts';

/** Per-session state and services shared by the handlers. */
export interface AgentContext {
  zfs: AgentZfs;
  /** The receive root named at hello; null until hello succeeded. */
  root: string | null;
  /** The agent's version string, reported at hello. */
  version: string;
  /** Validates, encodes and writes one reply frame. */
  send(reply: Reply): Promise<void>;
  /** The frame writer behind send(), for the data frames of an export. */
  writer: FrameWriter;
  /** Writes one diagnostic line to the agent's stderr. */
  log(line: string): void;
  /** Aborted when dom0's input stream closes (EOF consumed, error, or destroyed by a signal handler). */
  inputClosed: AbortSignal;
  /**
   * The input's descriptor, when the agent can take unframed receives: it reads the input itself,
   * the descriptor is blocking, and its runner can start a zfs receive on it. Else null.
   */
  unframedFd: number | null;
  /**
   * The inventory listings of the receive root, started with hello's own questions (dom0's next
   * request is an inventory in nearly every session): used only by a request that comes right
   * after hello, and dropped by any other.
   */
  prefetch: { root: string; listing: Promise<InventoryListing> } | null;
  /**
   * Filesystems and volumes this session has seen exist: the last inventory's listing, the
   * placeholders it created or found, the datasets it received into. A full receive does not look
   * these up again as parents (a process start each, on the step's critical path); one destroyed in
   * this qube meanwhile makes that receive fail with ZFS's own message, and nothing else.
   */
  known: Set<string>;
}

/** The two `zfs list` runs behind an inventory: datasets, then snapshots and bookmarks. */
export type InventoryListing = [ZfsOutput, ZfsOutput];
