// A client for the Qubes Admin API on the qubesd Unix socket (what qubesadmin's QubesLocal does):
// write "<method>+<arg> dom0 name <dest>\0", shut down the write side, read the whole reply.
// Replies: "0\0" + payload on success; "2\0" type "\0" traceback "\0" format "\0" args… on error.
import net from 'node:net';
import { QzbError } from '../../shared/errors.ts';
import { quoteArgv } from '../../shared/shell.ts';

/** Default qubesd socket; QZB_QUBESD_SOCKET overrides it (tests use a fake qubesd). */
export const DEFAULT_QUBESD_SOCKET = '/var/run/qubesd.sock';

/** Largest reply we accept from one call (real replies are a few KiB). */
export const MAX_ADMIN_REPLY_BYTES = 16 * 1024 * 1024;

/** How long one call may take before we give up. */
export const ADMIN_CALL_TIMEOUT_MS = 60_000;

// The socket path from the environment, or the default.
export function qubesdSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.QZB_QUBESD_SOCKET || DEFAULT_QUBESD_SOCKET;
}

/** qubesd answered a call with an exception (e.g. QubesVMNotFoundError). */
export class AdminApiError extends QzbError {
  constructor(
    readonly method: string,
    readonly dest: string,
    readonly excType: string,
    readonly excMessage: string,
  ) {
    super('QUBES_API_ERROR', `Qubes Admin API call ${method} on ${dest} failed: ${excType}${excMessage ? `: ${excMessage}` : ''}`, {
      hint: 'If a qube was created or removed meanwhile, run the command again; otherwise see journalctl -u qubesd.',
    });
  }
}

/** qubesd closed the connection without a reply: it does that for a ProtocolError (e.g. a method
 *  this Qubes release does not have) and for PermissionDenied (qubes/api/__init__.py `respond`). */
export class AdminApiRefused extends QzbError {
  constructor(
    readonly method: string,
    readonly dest: string,
  ) {
    super('QUBES_API_REFUSED', `qubesd refused ${method} on ${dest} (it closed the connection without a reply: a method this Qubes release does not have, a bad argument, or permission denied)`, {
      hint: 'See journalctl -u qubesd for the reason.',
    });
  }
}

// Per-call options (socket path, --verbose hook, timeout).
export interface AdminCallOptions {
  socketPath?: string;
  /** Write each call as a copy-pasteable line before making it (--verbose). */
  onCommand?: (line: string) => void;
  timeoutMs?: number;
  /** The call's payload (admin.vm.Create's "name=… label=…", property.Set's value, …). */
  payload?: string;
}

// The request header bytes for one call (names are checked: they end up in qubesd's parser). An
// argument may hold `+`: the device calls join backend, port and device id with it.
export function encodeRequest(method: string, dest: string, arg = ''): Buffer {
  if (!/^[A-Za-z0-9_.]+$/.test(method)) throw new QzbError('INTERNAL', `invalid Admin API method ${JSON.stringify(method)}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(dest)) throw new QzbError('INTERNAL', `invalid Admin API destination ${JSON.stringify(dest)}`);
  if (!/^[A-Za-z0-9_.:+-]*$/.test(arg)) throw new QzbError('INTERNAL', `invalid Admin API argument ${JSON.stringify(arg)}`);
  return Buffer.from(`${method}+${arg} dom0 name ${dest}\0`, 'utf8');
}

// Applies qubesd's "%s"-style format string to its arguments (as qubesadmin does).
function formatMessage(format: string, args: string[]): string {
  let i = 0;
  return format.replace(/%[sr]/g, () => args[i++] ?? '');
}

// Decodes one reply: the payload on success, an AdminApiError on an exception reply.
export function decodeReply(reply: Buffer, method: string, dest: string): string {
  if (reply.length === 0) throw new AdminApiRefused(method, dest);
  if (reply.length >= 2 && reply[0] === 0x30 && reply[1] === 0) return reply.subarray(2).toString('utf8');
  if (reply.length >= 2 && reply[0] === 0x32 && reply[1] === 0) {
    const parts = reply.subarray(2).toString('utf8').split('\0');
    const [excType = 'unknown', , format = '', ...rest] = parts;
    // Arguments are each followed by a NUL: the last split element is the empty tail.
    const args = rest.length > 0 && rest[rest.length - 1] === '' ? rest.slice(0, -1) : rest;
    throw new AdminApiError(method, dest, excType, formatMessage(format, args));
  }
  throw new QzbError('QUBES_API_PROTOCOL', `unexpected reply from qubesd to ${method} on ${dest} (${reply.length} bytes, starting ${JSON.stringify(reply.subarray(0, 16).toString('latin1'))})`);
}

function connectError(err: NodeJS.ErrnoException, socketPath: string, method: string): QzbError {
  const why = err.code === 'ENOENT' ? 'the socket does not exist'
    : err.code === 'EACCES' ? 'permission denied'
    : err.code === 'ECONNREFUSED' ? 'nothing is listening on it'
    : err.message;
  return new QzbError('QUBESD_UNREACHABLE', `cannot reach the Qubes Admin API at ${socketPath} (${why}) while calling ${method}`, {
    hint: err.code === 'EACCES'
      ? 'Run this tool as root in dom0 (sudo -i first).'
      : 'Run this tool in dom0, as root, with qubesd running (check with: systemctl status qubesd).',
    cause: err,
  });
}

// The same call as a qubesd-query command line that runs as printed in dom0 (-e: empty payload, so it
// does not wait for stdin; -c only when the socket is not the default). Names are checked by
// encodeRequest; the socket path is quoted for a shell.
export function qubesdQueryLine(method: string, dest: string, arg: string, socketPath: string): string {
  const connect = socketPath === DEFAULT_QUBESD_SOCKET ? [] : ['-c', socketPath];
  return quoteArgv(['qubesd-query', ...connect, '-e', 'dom0', method, dest, ...(arg ? [arg] : [])]);
}

// Makes one Admin API call and returns the payload text.
export function adminCall(method: string, dest: string, arg = '', options: AdminCallOptions = {}): Promise<string> {
  const socketPath = options.socketPath ?? qubesdSocketPath();
  const request = options.payload === undefined ? encodeRequest(method, dest, arg) : Buffer.concat([encodeRequest(method, dest, arg), Buffer.from(options.payload, 'utf8')]);
  options.onCommand?.(options.payload === undefined
    ? qubesdQueryLine(method, dest, arg, socketPath)
    : `${quoteArgv(['printf', '%s', options.payload])} | ${qubesdQueryLine(method, dest, arg, socketPath).replace(' -e ', ' ')}`);
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let connected = false;
    const socket = net.createConnection({ path: socketPath });
    const finish = (err: Error | null, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    const timer = setTimeout(() => {
      finish(new QzbError('QUBESD_TIMEOUT', `qubesd did not answer ${method} on ${dest} within ${Math.round((options.timeoutMs ?? ADMIN_CALL_TIMEOUT_MS) / 1000)} s`, {
        hint: 'Check that qubesd is running and not stuck (journalctl -u qubesd).',
      }));
    }, options.timeoutMs ?? ADMIN_CALL_TIMEOUT_MS);
    socket.on('connect', () => {
      connected = true;
      socket.end(request);
    });
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ADMIN_REPLY_BYTES) {
        finish(new QzbError('QUBES_API_PROTOCOL', `qubesd's reply to ${method} on ${dest} exceeds ${MAX_ADMIN_REPLY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(connected
        ? new QzbError('QUBES_API_PROTOCOL', `the connection to qubesd broke during ${method} on ${dest}: ${err.message}`, { cause: err })
        : connectError(err, socketPath, method));
    });
    socket.on('end', () => {
      try {
        finish(null, decodeReply(Buffer.concat(chunks), method, dest));
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}
