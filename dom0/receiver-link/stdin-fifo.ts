// The qrexec call's stdin as a pipe (a FIFO in a private directory), not the socket pair Node gives a
// child. A large stream then goes from `zfs send` into that pipe itself: libzfs writes a pipe
// directly, but relays any other descriptor through a pipe of its own and a splice() thread
// (lzc_send_wrapper), one more copy of every byte (in the test VM a socket pair costs 1.46x a pipe).
// Node has no pipe() call, so the pipe is a FIFO made by coreutils' mkfifo in a private directory,
// opened, and removed at once (nothing is left behind, even by a killed CLI):
//   - the child's end is opened read-only and blocking (after a writer exists, so the open returns);
//   - dom0's own end, for frames, is a net.Socket over a write-only descriptor of its own;
//   - a descriptor for `zfs send` is opened through /proc/self/fd (the FIFO has no name any more)
//     read-write: an open that cannot block, whatever the child did, and a blocking descriptor (the
//     kernel's writes of a zfs send must not meet EAGAIN).
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A FIFO for the child's stdin. */
export interface StdinFifo {
  /** The child's end (pass it in stdio[0], then call childStarted()). */
  childFd: number;
  /** dom0's end. */
  output: Socket;
  /** Closes this process's copy of the child's end once the child has it. */
  childStarted(): void;
  /** A new blocking descriptor of the pipe for a process that writes into it (close it once that process has it). */
  openWriter(): number;
}

/** The two ends of a pipe (blocking descriptors of this process). */
export interface PipeEnds {
  readFd: number;
  writeFd: number;
}

const mkfifoEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' });

// Opens both ends of the FIFO at `fifo` (its directory is removed by the caller).
function openEnds(fifo: string): PipeEnds {
  // A non-blocking read open returns at once; with that reader there, the write open does too;
  // then the blocking read end can be opened, and the first one closed.
  const probe = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const writeFd = openSync(fifo, constants.O_WRONLY);
    try {
      return { readFd: openSync(fifo, constants.O_RDONLY), writeFd };
    } catch (e) {
      closeSync(writeFd);
      throw e;
    }
  } finally {
    closeSync(probe);
  }
}

/**
 * A pipe: both ends of a FIFO made in a private directory that is removed before this returns
 * (nothing is left behind). Blocking descriptors; throws where no FIFO can be made.
 */
export function openPipe(env: NodeJS.ProcessEnv = process.env): PipeEnds {
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-link-'));
  try {
    const fifo = path.join(dir, 'stdin');
    execFileSync('mkfifo', ['-m', '600', fifo], { env: mkfifoEnv(env), stdio: 'ignore' });
    return openEnds(fifo);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** openPipe without blocking this process while mkfifo runs (a process start: ~0.3 s under emulation). */
export async function openPipeAsync(env: NodeJS.ProcessEnv = process.env): Promise<PipeEnds> {
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-link-'));
  // A process that exits meanwhile (Ctrl-C while the job is read) still leaves nothing behind.
  const atExit = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', atExit);
  try {
    const fifo = path.join(dir, 'stdin');
    await new Promise<void>((resolve, reject) => {
      execFile('mkfifo', ['-m', '600', fifo], { env: mkfifoEnv(env) }, (error) => (error ? reject(error) : resolve()));
    });
    return openEnds(fifo);
  } finally {
    process.removeListener('exit', atExit);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A pipe made ahead of the qrexec call, while the command does other work. take() hands it over
 * if it is ready (else null: the caller makes one then) and never again; a pipe nobody took, or
 * that became ready after take(), is closed by release() or on arrival.
 */
export class PreparedPipe {
  private ends: PipeEnds | null = null;
  private closed = false;
  /** Resolves once the attempt is over (made, closed on arrival, or failed); never rejects. */
  readonly settled: Promise<void>;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.settled = openPipeAsync(env).then(
      (ends) => {
        if (this.closed) closeEnds(ends);
        else this.ends = ends;
      },
      () => {}, // no mkfifo: connectReceiver's own attempt falls back to a socket pair
    );
  }

  take(): PipeEnds | null {
    const ends = this.ends;
    this.ends = null;
    this.closed = true;
    return ends;
  }

  release(): void {
    const ends = this.take();
    if (ends) closeEnds(ends);
  }
}

function closeEnds(ends: PipeEnds): void {
  closeSync(ends.readFd);
  closeSync(ends.writeFd);
}

/**
 * Makes the FIFO (or uses `prepared`, a pipe made ahead), or returns null where it cannot be made
 * (no mkfifo): the caller uses a socket pair.
 */
export function makeStdinFifo(env: NodeJS.ProcessEnv = process.env, prepared: PipeEnds | null = null): StdinFifo | null {
  let pipe: PipeEnds;
  try {
    pipe = prepared ?? openPipe(env);
  } catch {
    return null;
  }
  const { readFd: childFd, writeFd } = pipe;
  const output = new Socket({ fd: writeFd, readable: false, writable: true });
  let childClosed = false;
  return {
    childFd,
    output,
    childStarted: () => {
      if (!childClosed) closeSync(childFd);
      childClosed = true;
    },
    openWriter: () => openSync(`/proc/self/fd/${writeFd}`, constants.O_RDWR),
  };
}
