// Job file text → one YAML document with a line counter, or findings saying why not. Guards the
// yaml package against inputs that could exhaust memory or the stack before it ever sees them.
import { Composer, Lexer, LineCounter, Parser } from 'yaml';
import type { Document } from 'yaml';
import type { Position } from './types.ts';
import type { Report } from './report.ts';

/** Largest job file accepted, in UTF-8 bytes (the seed's example is under 1 KiB). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Deepest bracket nesting (`[`, `{`) accepted; the yaml composer recurses once per level. */
export const MAX_FLOW_DEPTH = 64;
/** Widest run of indentation and block indicators (`- `, `? `, `: `) at the start of a line. */
export const MAX_LINE_INDENT = 256;
/** Most YAML syntax errors reported one by one. */
export const MAX_SYNTAX_FINDINGS = 20;

/** A parsed document, or null when the file is unusable (the report says why). */
export interface Source {
  doc: Document.Parsed | null;
  lines: LineCounter;
}

/** Parses `text` as YAML 1.1 (so yes/no/on/off are booleans, as in the seed's PyYAML). */
export function parseSource(input: string, report: Report): Source {
  const lines = new LineCounter();
  // A byte-order mark is not part of line 1 as an editor shows it.
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const bytes = utf8Length(text, MAX_FILE_BYTES);
  if (bytes > MAX_FILE_BYTES) {
    report.add('FILE_TOO_LARGE', `The job file is larger than ${MAX_FILE_BYTES} bytes (1 MiB). A job file is a few kilobytes; check that you passed the right file.`);
    return { doc: null, lines };
  }
  if (!isPrintable(text, report) || !nestingIsSane(text, report) || !flowDepthIsSane(text, report)) return { doc: null, lines };

  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  // uniqueKeys is off: the package's check is quadratic; duplicate keys are found in nodes.ts.
  const composer = new Composer({ version: '1.1', uniqueKeys: false });
  const docs = [...composer.compose(tokens), ...composer.end()];
  const at = (offset: number): Position => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };

  const first = docs[0];
  if (!first || first.contents === null || (docs.length === 1 && isBlank(first))) {
    if (first && first.errors.length > 0) return { doc: syntaxErrors(docs, text, at, report), lines };
    report.add('EMPTY_FILE', 'The job file is empty. Start from the example job file in the README.', { line: 1, column: 1 });
    return { doc: null, lines };
  }
  if (docs.some((d) => d.errors.length > 0)) return { doc: syntaxErrors(docs, text, at, report), lines };
  for (const d of docs) {
    for (const w of d.warnings) {
      report.add('YAML_UNSUPPORTED', `${firstLine(w.message)}. A job file uses plain YAML values; remove the tag or put the value in quotes.`, at(w.pos[0]));
    }
  }
  for (const d of docs) {
    if (d.directives?.yaml.explicit && d.directives.yaml.version !== '1.1') {
      const offset = Math.max(0, text.indexOf('%YAML'));
      report.add('YAML_UNSUPPORTED', `Job files are read as YAML 1.1, where yes and no are yes/no values, but this file asks for YAML ${d.directives.yaml.version}. Remove the %YAML line.`, at(offset));
    }
  }
  if (docs.length > 1) {
    const second = docs[1];
    const start = second?.range[0] ?? 0;
    report.add('MULTIPLE_DOCUMENTS', `The file holds ${docs.length} YAML documents (separated by '---'); a job file is exactly one. Only the first is checked: delete the others or move them to their own files.`, at(start));
  }
  return { doc: first, lines };
}

function syntaxErrors(docs: Document.Parsed[], text: string, at: (o: number) => Position, report: Report): null {
  // One error per line: the parser's recovery often reports the same fault several ways.
  const lines = new Set<number>();
  let reported = 0;
  let more = 0;
  for (const e of docs.flatMap((d) => d.errors)) {
    const pos = at(e.pos[0]);
    if (lines.has(pos.line)) continue;
    lines.add(pos.line);
    if (reported++ >= MAX_SYNTAX_FINDINGS) {
      more++;
      continue;
    }
    report.add('YAML_SYNTAX', `The file is not valid YAML here: ${firstLine(e.message)}.${syntaxHint(e.code, text, e.pos[0])}`, pos);
  }
  if (more > 0) report.add('YAML_SYNTAX', `${more} more lines have YAML syntax errors; fix the ones above first.`);
  return null;
}

// A hint for the mistakes a job file's author is most likely to make.
function syntaxHint(code: string, text: string, offset: number): string {
  const rest = text.slice(offset, offset + 1);
  if (code === 'TAB_AS_INDENT' || rest === '\t') return ' YAML does not allow tabs for indentation: use spaces.';
  if (rest === '@' || rest === '`') {
    return ` A value that starts with '${rest}' must be in quotes, for example target-snapshot: "@backup-2025-04-14".`;
  }
  if (code === 'BAD_INDENT' || code === 'MISSING_CHAR') return ' Check the indentation: keys of one section must line up, and list items start with "- ".';
  return '';
}

function isBlank(doc: Document.Parsed): boolean {
  const c = doc.contents as unknown as { value?: unknown; items?: unknown } | null;
  return c === null || (c.items === undefined && (c.value === null || c.value === undefined));
}

function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}

// UTF-8 length of `s`, stopping early once it exceeds `limit`.
function utf8Length(s: string, limit: number): number {
  if (s.length > limit) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
    if (n > limit) return n;
  }
  return n;
}

// YAML (and the seed's PyYAML) accepts only printable characters: tab, newlines and the printable
// Unicode ranges. Anything else means binary data or a corrupted file.
const NON_PRINTABLE = /[^\t\n\r\x20-\x7E\x85\xA0-\uD7FF\uD800-\uDFFF\uE000-\uFFFD]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isPrintable(text: string, report: Report): boolean {
  const m = NON_PRINTABLE.exec(text);
  if (m === null) return true;
  const before = text.slice(0, m.index);
  const line = before.split('\n').length;
  const column = m.index - before.lastIndexOf('\n');
  const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  report.add('YAML_SYNTAX', `The file contains the control or invalid character U+${code} here, which YAML does not allow. A job file is plain text: check that this is the right file, or remove the character.`, { line, column });
  return false;
}

// Refuses indentation nested deep enough to make the yaml composer recurse towards the stack limit
// (a stack overflow inside V8's regexp compiler is a fatal out-of-memory, not a catchable error).
// Bracket nesting, the other way to recurse, is flowDepthIsSane below.
function nestingIsSane(text: string, report: Report): boolean {
  let lineStart = true;
  let indent = 0;
  let line = 1;
  let column = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    column++;
    if (c === '\n') {
      line++;
      column = 0;
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      const next = text[i + 1];
      if (c === ' ' || c === '\t' || ((c === '-' || c === '?' || c === ':') && (next === ' ' || next === '\t'))) {
        if (++indent > MAX_LINE_INDENT) {
          report.add('NESTING_TOO_DEEP', `Line ${line} is indented or nested more than ${MAX_LINE_INDENT} levels deep; a job file needs a handful. Check that this is a job file.`, { line, column });
          return false;
        }
        continue;
      }
      lineStart = false;
    }
  }
  return true;
}

// Synthetic lexer tokens (document start, flow error end, scalar marker): not in the source text.
const LEXER_MARKERS = new Set(['\u0002', '\u0018', '\u001f']);

// Refuses bracket (`[`, `{`) nesting deeper than MAX_FLOW_DEPTH, counted on the yaml package's
// own lexer tokens, so brackets inside quoted strings and comments are not counted and none that
// the parser will nest on are missed. The lexer is iterative; only the composer recurses.
function flowDepthIsSane(text: string, report: Report): boolean {
  // Fewer brackets in all than the limit cannot nest past it: skip the lexer for real job files.
  let open = 0;
  for (let i = 0; i < text.length && open <= MAX_FLOW_DEPTH; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) open++;
  }
  if (open <= MAX_FLOW_DEPTH) return true;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > MAX_FLOW_DEPTH) {
        const before = text.slice(0, offset);
        const line = before.split('\n').length;
        const column = offset - before.lastIndexOf('\n');
        report.add('NESTING_TOO_DEEP', `Brackets are nested more than ${MAX_FLOW_DEPTH} levels deep here; a job file needs two at most. Check that this is a job file.`, { line, column });
        return false;
      }
    } else if ((token === ']' || token === '}') && depth > 0) depth--;
    if (!LEXER_MARKERS.has(token)) offset += token.length;
  }
  return true;
}
