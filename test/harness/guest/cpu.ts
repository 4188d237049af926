// CPU time of one running process, sampled from /proc/<pid>/stat (the CLI's own user and system
// time, and that of the children it has waited for: zfs send, the qrexec launcher and what it ran).
// Sampled every 100 ms because the numbers vanish when the process is reaped; the last sample is
// at most that much short. Used by the send benchmark (dom0 CPU per GiB forwarded).
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux the VM runs). */
const TICK_MS = 10;

export interface CpuUsage {
  'user-ms': number;
  'sys-ms': number;
  'children-user-ms': number;
  'children-sys-ms': number;
}

/** utime, stime, cutime, cstime of a /proc/<pid>/stat line, in milliseconds; undefined if unreadable. */
export function parseProcStat(line: string): CpuUsage | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = line.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const n = [f[11], f[12], f[13], f[14]].map((x) => Number(x));
  if (n.some((x) => !Number.isSafeInteger(x) || x < 0)) return undefined;
  return { 'user-ms': n[0]! * TICK_MS, 'sys-ms': n[1]! * TICK_MS, 'children-user-ms': n[2]! * TICK_MS, 'children-sys-ms': n[3]! * TICK_MS };
}

/** Starts sampling pid; stop() returns the last sample (undefined if none could be read). */
export function sampleCpu(pid: number): { stop: () => CpuUsage | undefined } {
  let last: CpuUsage | undefined;
  const read = (): void => {
    try {
      last = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) ?? last;
    } catch {
      /* gone */
    }
  };
  const timer = setInterval(read, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}
