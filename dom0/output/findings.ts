// Findings as text: errors first, then warnings, then info; each with file:line:col, severity,
// code and message, so every problem is visible at once. The severity words are the ones --json
// uses (error, warning, info). Messages wrap to the terminal width; the same failure on several
// subjects (one per snapshot) is printed once, with the list of what it affects.
import type { Finding, Severity } from '../job/findings.ts';
import { printSafe } from './safe-text.ts';
import { plural, type Style } from './style.ts';
import { itemList, widthOf, wrapText } from './wrap.ts';

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Continuation lines of a finding start under its code. */
const HANG = ' '.repeat(11);

// Sorts findings by severity, then by position.
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || (a.line ?? 1e9) - (b.line ?? 1e9) || (a.column ?? 0) - (b.column ?? 0));
}

function label(severity: Severity, style: Style): string {
  if (severity === 'error') return style.red(style.bold('error  '));
  if (severity === 'warning') return style.yellow('warning');
  return style.cyan('info   ');
}

// One finding: its head line with the message wrapped under it, then its hint and command, if any.
export function renderFinding(f: Finding, file: string | null, style: Style): string[] {
  const width = widthOf(style);
  const where = f.line !== undefined ? `${file ?? ''}${file ? ':' : 'line '}${f.line}${f.column !== undefined ? `:${f.column}` : ''}` : '';
  // printSafe is idempotent on fields a renderer has already made safe; it guards callers that have not.
  const head = `  ${label(f.severity, style)}  ${where ? style.dim(printSafe(where)) + '  ' : ''}${style.bold(printSafe(f.code))}  `;
  const lines = wrapText(head, printSafe(f.message), HANG, width);
  const hint = f.details?.hint;
  if (typeof hint === 'string' && hint !== '') lines.push(...wrapText(HANG, printSafe(hint), HANG, width));
  // A command to run, on a line of its own and never wrapped, so that it can be copied and pasted.
  const command = f.details?.command;
  if (typeof command === 'string' && command !== '') lines.push(`${HANG}${printSafe(command)}`);
  return lines;
}

// The key under which findings are the same failure: one code and severity, no position, and the
// same message once the subject is taken out of it.
function sameFailureKey(f: Finding): string | null {
  if (f.line !== undefined || f.subject === undefined || f.subject === '' || !f.message.includes(f.subject)) return null;
  return `${f.severity}\u0000${f.code}\u0000${f.message.split(f.subject).join('\u0000')}`;
}

// Groups findings that are the same failure on different subjects, keeping the sorted order.
export function groupFindings(findings: readonly Finding[]): Finding[][] {
  const groups: Finding[][] = [];
  const byKey = new Map<string, Finding[]>();
  for (const f of sortFindings(findings)) {
    const key = sameFailureKey(f);
    const group = key === null ? undefined : byKey.get(key);
    if (group) {
      group.push(f);
      continue;
    }
    const fresh = [f];
    groups.push(fresh);
    if (key !== null) byKey.set(key, fresh);
  }
  return groups;
}

// The qubes a group of findings concerns (details.qube), for "the same for … (qubes a, b)".
function qubesOf(group: readonly Finding[]): string[] {
  return [...new Set(group.map((f) => f.details?.qube).filter((q): q is string => typeof q === 'string'))];
}

// Every finding, sorted, the same failure once; or a line saying there are none.
export function renderFindings(findings: readonly Finding[], file: string | null, style: Style): string[] {
  if (findings.length === 0) return ['  (none)'];
  const width = widthOf(style);
  return groupFindings(findings).flatMap((group) => {
    const [first, ...rest] = group as [Finding, ...Finding[]];
    const lines = renderFinding(first, file, style);
    if (rest.length === 0) return lines;
    const qubes = qubesOf(group);
    const tail = qubes.length > 0 ? ` (${qubes.length === 1 ? 'qube' : 'qubes'} ${qubes.join(', ')})` : '';
    lines.push(...itemList(`the same for ${rest.length} more${tail}: `, rest.map((f) => f.subject ?? ''), HANG, width));
    return lines;
  });
}

// "2 errors, 1 warning, 3 info".
export function countFindings(findings: readonly Finding[]): string {
  const n = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  return `${plural(n('error'), 'error')}, ${plural(n('warning'), 'warning')}, ${n('info')} info`;
}
