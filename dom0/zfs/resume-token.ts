// Receive-resume tokens: a strict check of the string before it ever becomes a `zfs` argument, and
// the parser of `zfs send -n -v -P -t TOKEN` (the token's contents as ZFS itself decodes them).
// The token comes from the receiver and is hostile input (SPEC §6): nothing here guesses.
//
// Shape (OpenZFS dsl_dataset.c get_receive_resume_stats_impl, the same since 0.7, so 2.1 and 2.3):
//   "%u-%llx-%llx-%s" = <version 1>-<fletcher4 word 0 of the payload, hex>-<unpacked nvlist length,
//   hex>-<zlib(XDR nvlist) as lowercase hex, 2 digits a byte>. Real 2.3.2 tokens: 218-320 characters
//   (fixtures/send/token-*.txt); the nvlist holds a name of at most 255 characters and a few numbers.
// Dump (2.3.2, stdout, fixtures/send/dump-*.out): "resume token contents:", "nvlist version: 0",
//   "\t<key> = <value>" lines (numbers as 0x hex, flags as "= 1" only when set), then, only when the
//   send could proceed, `full\t<to>\t<size>` or `incremental\t<from>\t<to>\t<size>` and `size\t<n>`.
//   When it cannot (source snapshot gone), the contents are still printed, the estimate lines are
//   not, stderr says "cannot resume send: ..." and the exit code is 255 (send-errors.ts).
import { inflateSync } from 'node:zlib';
import { QzbError } from '../../shared/errors.ts';
import { componentProblem, datasetNameProblem } from '../../shared/zfs-names.ts';
import { runZfs, ZfsCommandError, type ZfsRunOptions } from './runner.ts';
import { classifySendFailure, type SendFailure } from './send-errors.ts';

/** Longest token accepted. Real ones are ~220-320 characters; 4096 leaves room for 255-character names. */
export const MAX_TOKEN_LENGTH = 4096;
/** Largest unpacked nvlist accepted (the token's third field). */
const MAX_PACKED_LENGTH = 16 * 1024;

const TOKEN_SHAPE = /^1-([0-9a-f]{1,16})-([0-9a-f]{1,8})-((?:[0-9a-f]{2})+)$/;

// Why `s` is not a plausible resume token, or null: shape, length, checksum and zlib payload are
// checked as ZFS would (zfs_send_resume_token_to_nvlist); the nvlist itself is left to ZFS.
export function tokenProblem(s: string): string | null {
  if (s.length > MAX_TOKEN_LENGTH) return `longer than ${MAX_TOKEN_LENGTH} characters`;
  const m = TOKEN_SHAPE.exec(s);
  if (m === null) return 'not of the form 1-<hex checksum>-<hex length>-<hex payload>';
  const [, checksum, packedLength, payload] = m as unknown as [string, string, string, string];
  const packedLen = parseInt(packedLength, 16);
  if (packedLen === 0 || packedLen > MAX_PACKED_LENGTH) return `implausible payload length ${packedLen}`;
  const bytes = Buffer.from(payload, 'hex');
  if (fletcher4Word0(bytes) !== BigInt(`0x${checksum}`)) return 'checksum mismatch';
  try {
    const unpacked = inflateSync(bytes, { maxOutputLength: MAX_PACKED_LENGTH });
    if (unpacked.length !== packedLen) return 'payload length mismatch';
  } catch {
    return 'payload does not decompress';
  }
  return null;
}

// True when `s` may be passed to `zfs send -t` (tokenProblem found nothing).
export function isPlausibleToken(s: string): boolean {
  return tokenProblem(s) === null;
}

// Word 0 of fletcher-4 over the little-endian 32-bit words (a trailing partial word is ignored,
// as in fletcher_4_native_varsize on x86: Qubes and its qubes are x86-64).
function fletcher4Word0(bytes: Buffer): bigint {
  let a = 0n;
  for (let i = 0; i + 4 <= bytes.length; i += 4) a += BigInt(bytes.readUInt32LE(i));
  return a & 0xffff_ffff_ffff_ffffn;
}

/** A token string that failed isPlausibleToken: never given to zfs. */
export class ImplausibleTokenError extends QzbError {
  constructor(problem: string) {
    super('RESUME_TOKEN_IMPLAUSIBLE', `the receiver's resume token is not a valid ZFS resume token (${problem})`);
  }
}

function assertPlausible(token: string): void {
  const problem = tokenProblem(token);
  if (problem !== null) throw new ImplausibleTokenError(problem);
}

// argv that decodes a token without sending: `send -n -v -P -t TOKEN` (throws ImplausibleTokenError).
export function tokenDecodeArgs(token: string): string[] {
  assertPlausible(token);
  return ['send', '-n', '-v', '-P', '-t', token];
}

/** The flags recorded in a token: those of the stream's features, not of the command line (see README). */
export interface TokenFlags {
  largeblockok: boolean;
  embedok: boolean;
  compressok: boolean;
  rawok: boolean;
}

// The match of a token's flags with a lineage's is a decision of the send planner (pure).
export { tokenFlagsProblem } from '../send/flags.ts';

/** A token's contents as printed by `zfs send -n -v -P -t`. */
export interface TokenDump {
  /** The snapshot being sent, `pool/ds@snap` (as named on the sender when the token was made). */
  toname: string;
  toguid: bigint;
  /** Present exactly for incremental (and clone) streams. */
  fromguid: bigint | null;
  object?: bigint;
  offset?: bigint;
  /** Stream bytes already received. */
  bytes: bigint | null;
  flags: TokenFlags;
  /** From the estimate line (only when the send can resume): the `from` ZFS resolved
   *  (`pool/ds@snap`, or `pool/ds#bm` when only the bookmark is left), null for a full stream. */
  fromname: string | null;
  /** Bytes still to send (the `size` line), null when ZFS printed no estimate (cannot resume). */
  size: bigint | null;
}

/** `zfs send -nvP -t` output this parser does not know: never guessed at. */
export class TokenDumpError extends QzbError {
  constructor(what: string, line?: string) {
    super('RESUME_TOKEN_DUMP_UNPARSABLE', `unexpected \`zfs send -nvP -t\` output: ${what}${line === undefined ? '' : ` in ${JSON.stringify(line.slice(0, 200))}`}`, {
      hint: 'This zfs version may print something this tool does not know. Run with --verbose and report the output.',
    });
  }
}

const HEX64 = /^0x[0-9a-f]{1,16}$/;
const NUMBER_KEYS = new Set(['fromguid', 'object', 'offset', 'bytes', 'toguid']);
const FLAG_KEYS = new Set(['largeblockok', 'embedok', 'compressok', 'rawok']);

function isSnapshotName(name: string): boolean {
  const i = name.indexOf('@');
  return i > 0 && datasetNameProblem(name.slice(0, i)) === null && componentProblem(name.slice(i + 1)) === null && !/[@#]/.test(name.slice(i + 1));
}

// Parses `zfs send -n -v -P -t TOKEN` stdout. Unknown keys (e.g. a redacted or saved send),
// duplicates, a missing toname/toguid, or estimate lines that contradict the contents throw
// TokenDumpError.
export function parseTokenDump(stdout: string): TokenDump {
  const lines = stdout.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'resume token contents:') throw new TokenDumpError('no "resume token contents:" header', lines[0] ?? '');
  if (lines[1] !== 'nvlist version: 0') throw new TokenDumpError('no "nvlist version: 0" line', lines[1] ?? '');
  const numbers = new Map<string, bigint>();
  const flags: TokenFlags = { largeblockok: false, embedok: false, compressok: false, rawok: false };
  let toname: string | null = null;
  let i = 2;
  for (; i < lines.length && lines[i]!.startsWith('\t'); i++) {
    const line = lines[i]!;
    const m = /^\t([a-z_]+) = (.*)$/.exec(line);
    if (m === null) throw new TokenDumpError('a content line not of the form "\\t<key> = <value>"', line);
    const [, key, value] = m as unknown as [string, string, string];
    if (numbers.has(key) || (key === 'toname' && toname !== null) || (FLAG_KEYS.has(key) && flags[key as keyof TokenFlags])) {
      throw new TokenDumpError(`duplicate ${key}`, line);
    }
    if (NUMBER_KEYS.has(key)) {
      if (!HEX64.test(value)) throw new TokenDumpError(`${key} is not a 64-bit hex number`, line);
      numbers.set(key, BigInt(value));
    } else if (FLAG_KEYS.has(key)) {
      if (value !== '1') throw new TokenDumpError(`flag ${key} is not "1"`, line);
      flags[key as keyof TokenFlags] = true;
    } else if (key === 'toname') {
      if (!isSnapshotName(value)) throw new TokenDumpError('toname is not a snapshot name', line);
      toname = value;
    } else {
      throw new TokenDumpError(`unknown token field ${key}`, line);
    }
  }
  const toguid = numbers.get('toguid');
  if (toname === null || toguid === undefined) throw new TokenDumpError('toname or toguid missing');
  const fromguid = numbers.get('fromguid') ?? null;
  const rest = lines.slice(i);
  let fromname: string | null = null;
  let size: bigint | null = null;
  if (rest.length > 0) {
    const est = rest[0]!.split('\t');
    const sizeLine = rest[1]?.split('\t');
    const num = (s: string | undefined): bigint | null => (s !== undefined && /^[0-9]{1,20}$/.test(s) ? BigInt(s) : null);
    if (fromguid === null && est.length === 3 && est[0] === 'full' && est[1] === toname && num(est[2]) !== null) {
      size = num(est[2]);
    } else if (fromguid !== null && est.length === 4 && est[0] === 'incremental' && est[2] === toname && num(est[3]) !== null) {
      fromname = est[1]!;
      if (!isSnapshotName(fromname) && !/^[^@#]+#[^@#]+$/.test(fromname)) throw new TokenDumpError('the incremental source is not a snapshot or bookmark name', rest[0]);
      size = num(est[3]);
    } else {
      throw new TokenDumpError('an estimate line that does not match the token', rest[0]);
    }
    if (rest.length > 2 || (sizeLine !== undefined && (sizeLine.length !== 2 || sizeLine[0] !== 'size' || num(sizeLine[1]) === null))) {
      throw new TokenDumpError('unexpected lines after the estimate', rest.slice(1).join(' / '));
    }
    if (sizeLine !== undefined) size = num(sizeLine[1]);
  }
  const dump: TokenDump = { toname, toguid, fromguid, bytes: numbers.get('bytes') ?? null, flags, fromname, size };
  const object = numbers.get('object');
  const offset = numbers.get('offset');
  if (object !== undefined) dump.object = object;
  if (offset !== undefined) dump.offset = offset;
  return dump;
}

/** What decoding a token on the source found. */
export type TokenDecodeResult =
  /** ZFS can resume it: `zfs send -t` would start (the caller still compares it with the plan). */
  | { status: 'resumable'; dump: TokenDump }
  /** ZFS decoded it but cannot send it (the snapshot or the incremental source is gone). */
  | { status: 'not-resumable'; dump: TokenDump; failure: SendFailure }
  /** ZFS refused the token itself ("resume token is corrupt (...)"). */
  | { status: 'corrupt'; failure: SendFailure };

// Decodes a token with `zfs send -n -v -P -t` (one zfs call). Throws ImplausibleTokenError before
// running anything for a malformed string, TokenDumpError for output it does not know, and
// ZfsCommandError for any other failure.
export async function decodeResumeToken(token: string, options: ZfsRunOptions = {}): Promise<TokenDecodeResult> {
  const args = tokenDecodeArgs(token);
  const r = await runZfs(args, { ...options, allowExitCodes: [255] });
  if (r.exitCode === 0) {
    const dump = parseTokenDump(r.stdout);
    if (dump.size === null) throw new TokenDumpError('no estimate line although zfs succeeded');
    return { status: 'resumable', dump };
  }
  const failure = classifySendFailure({ exitCode: r.exitCode, signal: null, stderr: r.stderr });
  if (failure === null) throw new ZfsCommandError(['zfs', ...args], r.exitCode, r.stderr);
  if (failure.kind === 'token-corrupt') return { status: 'corrupt', failure };
  if (failure.kind === 'resume-to-missing' || failure.kind === 'resume-to-replaced' || failure.kind === 'resume-from-missing') {
    return { status: 'not-resumable', dump: parseTokenDump(r.stdout), failure };
  }
  // Exit 255 with a message we do not know: the same error as any other unexpected failure.
  throw new ZfsCommandError(['zfs', ...args], r.exitCode, r.stderr);
}
