// Long output that stays readable: text wrapped to the terminal width with a hanging indent, and
// lists inline while short, one item per line past a few.
import type { Style } from './style.ts';

/** Width used when the output is not a terminal (pipes, files, tests). */
export const DEFAULT_WIDTH = 100;

/** Lists longer than this are printed one item per line. */
export const INLINE_LIST_MAX = 4;

// The width to wrap at for a style (its terminal's columns, or DEFAULT_WIDTH), never below 40.
export function widthOf(style: Style): number {
  return Math.max(40, style.width ?? DEFAULT_WIDTH);
}

function visible(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

// Wraps `text` (after `first`, already on the line) at spaces so no line exceeds `width`; later
// lines start with `indent`. A word longer than a line (a long dataset name) is never split.
export function wrapText(first: string, text: string, indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = first;
  let fresh = true;
  for (const word of text.split(' ')) {
    if (!fresh && visible(line) + 1 + visible(word) > width) {
      lines.push(line);
      line = indent + word;
      continue;
    }
    line += (fresh ? '' : ' ') + word;
    fresh = false;
  }
  lines.push(line);
  return lines;
}

// A labelled list: `label a, b, c` on one line while it is short and fits, otherwise the label on
// its own line and one item per line under it.
export function itemList(label: string, items: readonly string[], indent: string, width: number, paint: (s: string) => string = (s) => s): string[] {
  const inline = `${indent}${label}${paint(items.join(', '))}`;
  if (items.length <= INLINE_LIST_MAX && visible(inline) <= width) return [inline];
  return [`${indent}${label.trimEnd()}`, ...items.map((i) => `${indent}  ${paint(i)}`)];
}
