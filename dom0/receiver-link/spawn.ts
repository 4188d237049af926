// Starts the qrexec call to the receiver qube and wraps it in a ReceiverClient. The child gets an
// allow-listed environment, argv arrays only, and a stop sequence: close its stdin, wait, SIGTERM,
// wait, SIGKILL. Its stderr (qrexec messages, and the agent's log) is kept as a short, sanitised
// tail for diagnostics and never printed raw: it comes from the receiver qube.
import { execa } from 'execa';
import { ReceiverClient } from './client.ts';
import { QzbError } from '../../shared/errors.ts';
import { toSafeText } from '../../shared/protocol/schemas/common.ts';
import type { LinkTimeouts } from './timeouts.ts';
import { makeStdinFifo, type PreparedPipe } from './stdin-fifo.ts';

/** The qrexec service the agent is installed as. */
export const RECEIVER_SERVICE = 'qubes.ZfsBackupReceive';

/** The qrexec client in dom0 (QZB_QREXEC_CLIENT overrides it, for tests and local launchers). */
export const DEFAULT_QREXEC_CLIENT = '/usr/lib/qubes/qrexec-client';

/** Most bytes of the child's stderr kept for diagnostics. */
export const MAX_STDERR_TAIL = 4096;

/** Qube names as Qubes allows them: a letter, then letters, digits, '_', '.', '-' (31 at most). */
const QUBE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;

/** The program and argv of the qrexec call to `qube`. */
export function receiverCommand(qube: string, env: NodeJS.ProcessEnv = process.env): { file: string; args: string[] } {
  if (!QUBE_NAME.test(qube) || qube === 'dom0') {
    throw new QzbError('INVALID_QUBE_NAME', `${JSON.stringify(qube)} is not a valid receiver qube name`);
  }
  return { file: env.QZB_QREXEC_CLIENT || DEFAULT_QREXEC_CLIENT, args: ['-d', qube, `root:QUBESRPC ${RECEIVER_SERVICE} dom0`] };
}

/** The child's environment: PATH, LC_ALL=C and the QZB_* test hooks; nothing else of dom0's. */
export function receiverEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { PATH: env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('QZB_') && value !== undefined) out[key] = value;
  }
  return out;
}

/** Options for connectReceiver(); the link timeouts default to DEFAULT_LINK_TIMEOUTS. */
export interface ConnectOptions extends Partial<LinkTimeouts> {
  env?: NodeJS.ProcessEnv;
  /** Called with the command line before it runs (--verbose). */
  onCommand?: (line: string) => void;
  /** Wait after closing the child's stdin before SIGTERM (ms). */
  graceMs?: number;
  /** Wait after SIGTERM before SIGKILL (ms). */
  termMs?: number;
  /** A stdin pipe made ahead (used if ready, else one is made now). */
  prepared?: PreparedPipe;
}

/** A running qrexec call: the client plus what is known about the child process. */
export interface ReceiverLink {
  client: ReceiverClient;
  /** The last lines the child wrote to stderr, sanitised. */
  stderrTail(): string[];
  /** Resolves when the child has exited, with its exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  /** The child's process id (for diagnostics and tests). */
  pid: number | undefined;
}

/**
 * What qrexec-client's own exit statuses mean for this call (qubes-facts.md §3): 125, it could not
 * reach the qube (not running, or it went away); 127, the qube has no such service. `qube` is the
 * job's validated receiver name.
 */
const QREXEC_EXIT_MEANINGS: Record<number, (qube: string) => string> = {
  125: (qube) => `the receiver qube ${qube} could not be reached (is it running? start it with qvm-start ${qube}, then run the command again)`,
  127: (qube) => `the receiver qube ${qube} has no qubes.ZfsBackupReceive service (install the receiver agent there: see receiver/README.md)`,
};

/** Spawns the qrexec call to `qube` and returns a client over it (call hello() next, close() at the end). */
export function connectReceiver(qube: string, options: ConnectOptions = {}): ReceiverLink {
  const env = options.env ?? process.env;
  const { file, args } = receiverCommand(qube, env);
  options.onCommand?.([file, ...args].map((a) => (/^[A-Za-z0-9_./:=-]+$/.test(a) ? a : `'${a}'`)).join(' '));
  // stdin a pipe where one can be made (stdin-fifo.ts: zfs send can then write into it directly).
  const fifo = makeStdinFifo(env, options.prepared?.take() ?? null);
  const child = execa(file, args, {
    env: receiverEnv(env), extendEnv: false, reject: false, buffer: false, stdin: fifo ? fifo.childFd : 'pipe', stdout: 'pipe', stderr: 'pipe', cleanup: true,
  });
  fifo?.childStarted();
  const input = fifo ? fifo.output : child.stdin!;
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    tail = (tail + text).slice(-MAX_STDERR_TAIL);
  });
  const stderrEnded = new Promise<void>((resolve) => child.stderr!.once('close', () => resolve()));
  input.on('error', () => {}); // EPIPE when the child is gone; the client reports the closed link.
  // From 'exit', not execa's result, which loses the exit code after an EPIPE on stdin.
  let spawnError: string | null = null;
  let signalled: string | null = null;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code: number | null, signal: string | null) => {
      signalled = signal;
      resolve(code);
    });
    child.once('error', (error: Error) => {
      spawnError = error.message;
      resolve(null);
    });
  });
  child.catch(() => {});
  const stopTransport = (): Promise<void> => stopChild({ stdin: input, kill: (signal, o) => { child.kill(signal, o); return true; } }, exited, options.graceMs ?? 10_000, options.termMs ?? 3_000);
  // Why the connection closed: the child's exit status and its last stderr line (sanitised).
  const describeClose = async (): Promise<string | null> => {
    const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 500))]);
    await Promise.race([stderrEnded, new Promise((r) => setTimeout(r, 200))]);
    if (spawnError !== null) return `cannot run ${file}: ${toSafeText(spawnError, 200)}`;
    if (code === 'running') return null;
    const last = tail.split('\n').filter(Boolean).at(-1);
    const raw = `${file} exited ${code === null ? `by ${signalled ?? 'a signal'}` : `with status ${code}`}${last ? `: ${toSafeText(last, 200)}` : ''}`;
    const meaning = QREXEC_EXIT_MEANINGS[code ?? -1];
    return meaning ? `${meaning(qube)}; ${raw}` : raw;
  };
  const { replyTimeoutMs, inventoryTimeoutMs, stallTimeoutMs } = options;
  const client = new ReceiverClient(child.stdout!, input, {
    stopTransport, describeClose, replyTimeoutMs, inventoryTimeoutMs, stallTimeoutMs, ...(fifo ? { openWriter: fifo.openWriter } : {}),
  });
  return {
    client,
    exited,
    pid: child.pid,
    stderrTail: () => tail.split('\n').filter(Boolean).slice(-20).map((l) => toSafeText(l, 300)),
  };
}

/** close stdin → wait graceMs → SIGTERM → wait termMs → SIGKILL → wait. */
export async function stopChild(child: { stdin: { end(): void } | null; kill(signal: NodeJS.Signals, options?: { forceKillAfterTimeout?: number | false }): boolean }, exited: Promise<unknown>, graceMs: number, termMs: number): Promise<void> {
  child.stdin?.end();
  if (await settlesWithin(exited, graceMs)) return;
  child.kill('SIGTERM', { forceKillAfterTimeout: false });
  if (await settlesWithin(exited, termMs)) return;
  child.kill('SIGKILL');
  await exited;
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    }, () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
