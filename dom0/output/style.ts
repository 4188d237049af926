// Terminal styling: colour only when writing to a terminal, never when NO_COLOR is set (non-empty)
// or TERM=dumb. Every renderer takes a Style so tests render plain text.
export interface Style {
  color: boolean;
  /** Terminal width in columns, when writing to a terminal (long lines wrap to it). */
  width?: number;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
}

function wrap(on: boolean, open: number, close: number): (s: string) => string {
  return on ? (s) => `\u001b[${open}m${s}\u001b[${close}m` : (s) => s;
}

// A style for a stream: colour when it is a TTY and the environment allows.
export function styleFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): Style {
  const on = stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
  const style = makeStyle(on);
  if (stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0) style.width = stream.columns;
  return style;
}

// A style with colour forced on or off.
export function makeStyle(color: boolean): Style {
  return {
    color,
    bold: wrap(color, 1, 22),
    dim: wrap(color, 2, 22),
    red: wrap(color, 31, 39),
    yellow: wrap(color, 33, 39),
    green: wrap(color, 32, 39),
    cyan: wrap(color, 36, 39),
  };
}

/** Plain text, for tests and pipes. */
export const PLAIN: Style = makeStyle(false);

// Left-aligns rows of cells into columns separated by two spaces (last column unpadded).
export function columns(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, visibleLength(c)); });
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c)))).join('  ').trimEnd());
}

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

// "1 error", "2 errors".
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}
