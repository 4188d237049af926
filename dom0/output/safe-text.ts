// Text that is safe to print on a terminal: every string that reaches stdout or stderr (messages,
// findings, hints, names, paths; from the receiver, a job file or the system) passes through here,
// so no control byte, bidi override or invisible character can rewrite what the user sees, and no
// single message can flood the screen. Used by every renderer in dom0/output/ and by the CLI's
// error printing; later commands (send, verify, settings) use the same functions.

/** Longest one message, name or other field may be when printed (UTF-16 units), before elision. */
export const MAX_MESSAGE_CHARS = 2000;
/** Longest exact zfs command line printed (`snapshot --dry-run` batches many snapshots into one). */
export const MAX_COMMAND_CHARS = 256 * 1024;

// C0/C1 controls and DEL (Cc), format characters (Cf: bidi embeddings, overrides and isolates,
// zero-width space/joiners, LRM/RLM, word joiner, invisible operators, BOM, soft hyphen, tags),
// line and paragraph separators (Zl, Zp) and lone surrogates (Cs).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
// The same, but a line feed is kept (for multi-line text such as a whole rendered report).
const UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
// The colour sequences dom0/output/style.ts emits, and nothing else.
// eslint-disable-next-line no-control-regex
const SGR = /(\u001b\[[0-9;]*m)/;

/** True when `s` holds a character that printSafe would escape. */
export function hasUnsafeChars(s: string): boolean {
  return UNSAFE.test(s);
}

// `\x1b` for code points below 0x100, `\u202e` up to 0xFFFF, `\u{e0041}` beyond.
function escapeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

const cutMarker = (n: number): string => `… [${n} more characters cut]`;

// Characters left for text when `total` must be cut to `max`: the marker fits inside `max`, so a
// cut result is never longer than `max` and cutting it again changes nothing. (A tiny `max`, as in
// tests, keeps all its room and the marker comes on top.)
function room(total: number, max: number): number {
  const marker = cutMarker(total).length;
  return max >= 4 * marker ? max - marker : max;
}

// Cuts `s` to at most `max` UTF-16 units (never inside a surrogate pair) with a marker saying how much went.
function bound(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = room(s.length, max);
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}${cutMarker(s.length - end)}`;
}

// The escaped form of `head`, at most `limit` long, and how many of its UTF-16 units it shows.
function escapeUpTo(head: string, limit: number): { out: string; used: number } {
  let out = '';
  let used = 0;
  for (const c of head) {
    const shown = UNSAFE.test(c) ? escapeChar(c) : c;
    if (out.length + shown.length > limit) break;
    out += shown;
    used += c.length;
  }
  return { out, used };
}

/**
 * One message, name or field made printable: unsafe characters (including tab and line breaks)
 * shown escaped (`\x1b`, `\u202e`), the result at most `max` characters, ending in an elision
 * marker ("… [N more characters cut]") when cut. Applying it twice gives the same text.
 */
export function printSafe(s: string, max: number = MAX_MESSAGE_CHARS): string {
  const text = typeof s === 'string' ? s : String(s);
  // Look only at what can be shown: a 500 KB message costs no more than a 2 000-character one.
  const head = text.length > max ? text.slice(0, max + 1) : text;
  if (!UNSAFE.test(head)) return bound(text, max);
  const whole = escapeUpTo(head, max);
  if (whole.used === text.length) return whole.out;
  const cut = escapeUpTo(head, room(text.length, max));
  return `${cut.out}${cutMarker(text.length - cut.used)}`;
}

/** Multi-line text made printable: as printSafe for each line (each at most `maxLine`), line feeds kept. */
export function printSafeLines(text: string, maxLine: number = Infinity): string {
  if (maxLine === Infinity) return text.replace(UNSAFE_BUT_LF, escapeChar);
  return text.split('\n').map((line) => printSafe(line, maxLine)).join('\n');
}

/**
 * The last guard before a write to stdout/stderr: escapes every unsafe character of a rendered
 * report except line feeds and, when `color` is on, the SGR colour sequences the Style emitted.
 * Renderers have already made their fields safe (printSafeDeep); this catches anything missed.
 */
export function terminalSafe(text: string, color: boolean): string {
  if (!color) return printSafeLines(text);
  return text.split(SGR).map((part, i) => (i % 2 === 1 ? part : printSafeLines(part))).join('');
}

/**
 * A copy of a command result with every string (and object key) made printable by printSafe;
 * bigints, numbers, booleans and null unchanged. Strings in an array under the key `commands`
 * (exact zfs command lines) are bounded at MAX_COMMAND_CHARS instead. Renderers call this first.
 */
export function printSafeDeep<T>(value: T): T {
  return deep(value, MAX_MESSAGE_CHARS, 0) as T;
}

function deep(v: unknown, max: number, depth: number): unknown {
  if (typeof v === 'string') return printSafe(v, max);
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (v instanceof Date) return v;
  if (Array.isArray(v)) return v.map((x) => deep(x, max, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[printSafe(k)] = deep(x, k === 'commands' && Array.isArray(x) ? MAX_COMMAND_CHARS : MAX_MESSAGE_CHARS, depth + 1);
  }
  return out;
}

/** A string bounded for a JSON document (JSON.stringify escapes its control characters itself). */
export function boundForJson(s: string, max: number = MAX_MESSAGE_CHARS): string {
  return bound(s, max);
}

/**
 * Serialised JSON with the characters JSON.stringify leaves raw but a terminal would act on (DEL,
 * C1 controls, bidi and invisible format characters, U+2028/U+2029) written as `\uXXXX` escapes:
 * still the same JSON value. Only valid on JSON.stringify output (those characters occur only
 * inside strings there).
 */
export function escapeJsonInvisibles(json: string): string {
  // Raw line feeds in JSON.stringify output are its indentation (those in strings are escaped).
  return json.replace(UNSAFE_BUT_LF, (c) => {
    let out = '';
    for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
