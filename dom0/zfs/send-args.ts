// argv of `zfs send` (full, incremental from a snapshot or bookmark, clone-from-origin, resume) and
// the parser of its parsable dry-run estimate. Thin: the caller decides what to send; this only
// refuses argv that could be misread by zfs (an option-looking name, a name without its dataset).
// Facts checked on OpenZFS 2.3.2 (test/unit/zfs/fixtures/send/README.md):
// - `-w` sets raw, compress, embed and large-block itself (zfs_main.c); adding -L/-c/-e to it is
//   accepted and changes nothing, so a raw send is just `-w`.
// - `-t TOKEN` takes every flag from the token; -L/-c/-e/-w given with it are accepted but only OR-ed
//   in, -i is refused ("invalid flags combined with -t"). So a resume is exactly `send -t TOKEN`.
import { QzbError } from '../../shared/errors.ts';
import { datasetNameProblem, componentProblem } from '../../shared/zfs-names.ts';
import { ImplausibleTokenError, tokenProblem } from './resume-token.ts';

/** The send flags of one receiving lineage (defined with the planner that chooses them). */
export type { SendFlags } from '../send/types.ts';
import type { SendFlags } from '../send/types.ts';

/** What one `zfs send` step sends. */
export interface SendSpec {
  /** Full snapshot name `pool/ds@snap`. */
  snapshot: string;
  /** null: full stream; `pool/ds@snap` or `pool/ds#bookmark`: incremental (`-i`); for a clone's
   *  first send the origin snapshot (`pool/origin@snap`). Always fully qualified. */
  from: string | null;
  flags: SendFlags;
}

/** Largest estimate believed (2^60 bytes = 1 EiB); anything above is a parse or ZFS oddity. */
export const MAX_ESTIMATE_BYTES = 1n << 60n;

function invalid(what: string): never {
  throw new QzbError('INTERNAL', `refusing to build zfs send argv: ${what}`);
}

// Validates `pool/ds@snap` (sep '@') or `pool/ds#bm` (sep '#') so it can only be read as that name.
function checkName(name: string, sep: '@' | '#', role: string): void {
  const i = name.indexOf(sep);
  if (i <= 0) invalid(`${role} ${JSON.stringify(name)} is not a full ${sep === '@' ? 'snapshot' : 'bookmark'} name`);
  const ds = name.slice(0, i);
  const problem = datasetNameProblem(ds) ?? componentProblem(name.slice(i + 1));
  if (problem !== null || name.slice(i + 1).includes('@') || name.slice(i + 1).includes('#')) {
    invalid(`${role} ${JSON.stringify(name)}: ${problem ?? 'more than one @/#'}`);
  }
}

function flagArgs(flags: SendFlags): string[] {
  if (flags.raw) return ['-w'];
  const out: string[] = [];
  if (flags.largeBlocks) out.push('-L');
  if (flags.compressed) out.push('-c');
  if (flags.embedded) out.push('-e');
  return out;
}

function sendTail(spec: SendSpec): string[] {
  checkName(spec.snapshot, '@', 'snapshot');
  const out = flagArgs(spec.flags);
  if (spec.from !== null) {
    checkName(spec.from, spec.from.includes('#') ? '#' : '@', 'incremental source');
    out.push('-i', spec.from);
  }
  out.push(spec.snapshot);
  return out;
}

// argv (without the binary) of one send step: `send [-w | -L -c -e] [-i FROM] SNAPSHOT`.
export function sendArgs(spec: SendSpec): string[] {
  return ['send', ...sendTail(spec)];
}

// argv of the parsable dry run of the same step (`send -n -v -P ...`): the estimate, nothing sent.
export function estimateArgs(spec: SendSpec): string[] {
  return ['send', '-n', '-v', '-P', ...sendTail(spec)];
}

// argv of the parsable dry run of every snapshot from FROM (exclusive) to LAST, one `incremental`
// line each (`send -n -v -P [flags] -I FROM LAST`); FROM must be a snapshot of LAST's dataset (ZFS
// refuses -I from a bookmark: "multiple snapshots cannot be sent from a bookmark").
export function estimateRangeArgs(from: string, last: string, flags: SendFlags): string[] {
  checkName(from, '@', 'range start');
  checkName(last, '@', 'range end');
  if (from.slice(0, from.indexOf('@')) !== last.slice(0, last.indexOf('@'))) invalid(`range ${from}..${last} spans two datasets`);
  return ['send', '-n', '-v', '-P', ...flagArgs(flags), '-I', from, last];
}

/** The key of one pair's estimate in parseRangeEstimate's map: full snapshot names. */
export const rangeKey = (from: string, to: string): string => `${from}>${to}`;

// The per-pair estimates of a range dry run, keyed rangeKey(FROM, TO) with full snapshot names. Recorded on
// 2.3.2 (fixtures/send/est-range.out): `incremental\t<from, short: b>\t<to, full: ds@c>\t<bytes>`
// per pair, then `size\t<total>`. A line that does not parse, or an implausible size, is left out.
export function parseRangeEstimate(stdout: string, dataset: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    if (f.length !== 4 || f[0] !== 'incremental' || !/^[0-9]{1,20}$/.test(f[3]!)) continue;
    const from = f[1]!.includes('@') ? f[1]! : `${dataset}@${f[1]!}`;
    const bytes = BigInt(f[3]!);
    if (bytes <= MAX_ESTIMATE_BYTES && f[2]!.startsWith(`${dataset}@`)) out.set(rangeKey(from, f[2]!), bytes);
  }
  return out;
}

// argv that resumes a cut send: `send -t TOKEN` (the token carries the flags; adding any is at
// best a no-op). Throws ImplausibleTokenError for a string that fails isPlausibleToken. The dry run
// of a resume is tokenDecodeArgs (resume-token.ts), whose stdout parseEstimate also reads.
export function resumeArgs(token: string): string[] {
  const problem = tokenProblem(token);
  if (problem !== null) throw new ImplausibleTokenError(problem);
  return ['send', '-t', token];
}

// The total estimate in bytes from `zfs send -n -v -P` stdout (its `size\tN` line, else the sum of
// the `full`/`incremental` lines), or null when there is none or it is not believable. Hints only.
export function parseEstimate(stdout: string): bigint | null {
  let size: bigint | null = null;
  let sum = 0n;
  let lines = 0;
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    const last = f[f.length - 1] ?? '';
    if (f[0] === 'size' && f.length === 2 && /^[0-9]{1,20}$/.test(last)) size = BigInt(last);
    else if (((f[0] === 'full' && f.length === 3) || (f[0] === 'incremental' && f.length === 4)) && /^[0-9]{1,20}$/.test(last)) {
      sum += BigInt(last);
      lines++;
    }
  }
  const total = size ?? (lines > 0 ? sum : null);
  return total !== null && total <= MAX_ESTIMATE_BYTES ? total : null;
}
