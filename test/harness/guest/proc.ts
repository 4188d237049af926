// Running processes inside the test VM: argv arrays only, LC_ALL=C for zfs, bounded output.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { constants } from 'node:os';
import { sampleCpu } from './cpu.ts';
import { openPipe } from '../../../dom0/receiver-link/stdin-fifo.ts';
import type { CpuUsage } from './cpu.ts';

export const ZFS = existsSync('/usr/sbin/zfs') ? '/usr/sbin/zfs' : '/sbin/zfs';
export const ZPOOL = existsSync('/usr/sbin/zpool') ? '/usr/sbin/zpool' : '/sbin/zpool';
export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_OUTPUT = 16 * 1024 * 1024;

export interface ProcResult {
  exit: number;
  signal?: string;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ProcOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Called once the child is spawned (interrupts and faults need its pid). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs argv to completion; never throws for a non-zero exit (the caller decides). */
export function run(argv: string[], opts: ProcOptions = {}): Promise<ProcResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? '/tmp',
      env: opts.env ?? { PATH: BASE_PATH, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n[harness] killed after ${opts.timeoutMs} ms\n`;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      resolve({ exit: 127, stdout, stderr: stderr + String(e), ms: Date.now() - t0 });
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const sig = signal ?? undefined;
      const exit = code ?? (sig ? 128 + ((constants.signals as Record<string, number>)[sig] ?? 0) : 1);
      resolve({ exit, ...(sig ? { signal: sig } : {}), stdout, stderr, ms: Date.now() - t0 });
    });
    opts.onSpawn?.(child);
  });
}

export interface PipeResult {
  sendExit: number;
  receiveExit: number;
  stderr: string;
  ms: number;
  /** The producer's CPU time (sampled; see cpu.ts). */
  sendCpu?: CpuUsage;
}

/**
 * Runs `producer | consumer` (argv arrays, no shell): the harness's raw zfs send | zfs receive. The
 * two are joined by a pipe(2) as a shell makes it (openPipe, the one dom0 uses for the qrexec call):
 * Node gives children socket pairs, and libzfs relays a `zfs send` into anything but a pipe through
 * a pipe and a thread of its own (one more copy: 1.46x slower in the test VM), which would handicap
 * the raw baseline.
 */
export function runPipe(producer: string[], consumer: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<PipeResult> {
  const t0 = Date.now();
  const env = opts.env ?? { PATH: BASE_PATH, LC_ALL: 'C' };
  const cwd = opts.cwd ?? '/tmp';
  return new Promise((resolve) => {
    let stderr = '';
    const collect = (tag: string) => (d: string): void => {
      if (stderr.length < MAX_OUTPUT) stderr += d.split('\n').map((l) => (l ? `${tag}: ${l}` : l)).join('\n');
    };
    const { readFd, writeFd } = openPipe({ PATH: BASE_PATH });
    let a: ChildProcess;
    let b: ChildProcess;
    try {
      a = spawn(producer[0]!, producer.slice(1), { cwd, env, stdio: ['ignore', writeFd, 'pipe'] });
      b = spawn(consumer[0]!, consumer.slice(1), { cwd, env, stdio: [readFd, 'pipe', 'pipe'] });
    } finally {
      // The children hold their ends now: the consumer sees EOF when the producer's end closes.
      closeSync(readFd);
      closeSync(writeFd);
    }
    const cpu = a.pid ? sampleCpu(a.pid) : undefined;
    a.stderr!.setEncoding('utf8').on('data', collect('send'));
    b.stderr!.setEncoding('utf8').on('data', collect('receive'));
    b.stdout!.resume();
    const status = (child: ChildProcess): Promise<number> =>
      new Promise((res) => {
        child.on('error', () => res(127));
        child.on('close', (code: number | null, signal: NodeJS.Signals | null) => res(code ?? (signal ? 128 + ((constants.signals as Record<string, number>)[signal] ?? 0) : 1)));
      });
    void Promise.all([status(a), status(b)]).then(([sendExit, receiveExit]) => {
      const sendCpu = cpu?.stop();
      resolve({ sendExit, receiveExit, stderr, ms: Date.now() - t0, ...(sendCpu ? { sendCpu } : {}) });
    });
  });
}

export class CommandFailed extends Error {
  constructor(readonly argv: string[], readonly result: ProcResult) {
    super(`${argv.join(' ')} failed (exit ${result.exit}): ${result.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
  }
}

/** Runs argv and throws CommandFailed on a non-zero exit. */
export async function must(argv: string[], opts: ProcOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.exit !== 0) throw new CommandFailed(argv, r);
  return r.stdout;
}

export const zfs = (...args: string[]): Promise<string> => must([ZFS, ...args]);
export const zfsTry = (...args: string[]): Promise<ProcResult> => run([ZFS, ...args]);
export const zpool = (...args: string[]): Promise<string> => must([ZPOOL, ...args]);

/** `-o k=v` arguments for zfs create/clone. */
export function optionArgs(options: Record<string, string>): string[] {
  return Object.entries(options).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}
