// Shell quoting for the command lines the tool prints (--verbose, --dry-run, hints): each line is
// meant to be pasted into dom0's root shell (bash) and run exactly as printed, on one line.

const SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

// Quotes one word: bare when it is safe, '…' otherwise, and bash's $'…' when it holds control
// characters (a newline or escape sequence must neither break the line nor reach the terminal raw).
export function shellQuote(word: string): string {
  if (SAFE.test(word)) return word;
  if (!CONTROL.test(word)) return `'${word.replace(/'/g, `'\\''`)}'`;
  let out = '';
  for (const ch of word) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\\' || ch === "'") out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `$'${out}'`;
}

// Quotes an argv as one command line.
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
