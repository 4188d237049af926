// Byte counts from Linux's I/O accounting, for a `zfs send` that writes its stream straight into the
// receiver link (send-process.ts startZfsSendInto): no stream byte passes through this process, so
// the kernel is asked what zfs send wrote. `wchar` in /proc/<pid>/io counts the bytes a process
// passed to write calls, the kernel's own writes of a `zfs send` ioctl included (compared with
// `wc -c` on OpenZFS 2.3.2: the stream's length plus the byte libuv's spawn handshake writes in the
// child before exec, which the caller measures and takes off; 2.1 runs the same path in the send
// scenarios, but its counts were not compared byte for byte). A process's counts vanish when it is
// reaped, but the kernel adds them to the reaping parent's (wait_task_zombie), so they stay
// readable as this process's whole count minus its live threads' own.
import { readdirSync, readFileSync } from 'node:fs';

const WCHAR = /^wchar: (\d+)$/m;

/** The `wchar` of /proc/<path>/io, or null where it cannot be read (no /proc, a process gone). */
export function wcharAt(path: string): bigint | null {
  try {
    const m = WCHAR.exec(readFileSync(`/proc/${path}/io`, 'utf8'));
    return m ? BigInt(m[1]!) : null;
  } catch {
    return null;
  }
}

// What a child writes before it execs (libuv's spawn handshake): 1 byte on Node 18.18, 20.20 and
// 22.12 (measured). Read just after spawn() it is exact, unless the child already streamed (a loaded
// machine can keep this thread off the CPU that long); a stream's first write is larger than this
// bound (zfs send's BEGIN record alone is 312 bytes), so a read above it holds stream bytes, and the
// handshake is then the last exact one read in this process.
const HANDSHAKE_MAX = 64n;
let lastHandshake = 1n;

/** The handshake bytes in `read`, a child's wchar read just after spawn() (null: none could be read). */
export function handshakeIn(read: bigint | null): bigint {
  if (read === null) return 0n;
  if (read <= HANDSHAKE_MAX) {
    lastHandshake = read;
    return read;
  }
  return lastHandshake;
}

/**
 * What this process's reaped children (and its exited threads, which Node's never are while it
 * runs) have written in all: the whole process's `wchar` minus each live thread's own, read again
 * until no thread wrote in between (a worker thread may be writing a file). Null where /proc cannot tell.
 */
export function reapedWchar(): bigint | null {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = threadsWchar();
    const whole = wcharAt(`${process.pid}`);
    const after = threadsWchar();
    if (before === null || whole === null || after === null) return null;
    if (before === after) return whole - before;
  }
  return null;
}

function threadsWchar(): bigint | null {
  let sum = 0n;
  try {
    for (const tid of readdirSync(`/proc/${process.pid}/task`)) sum += wcharAt(`${process.pid}/task/${tid}`) ?? 0n;
  } catch {
    return null;
  }
  return sum;
}
