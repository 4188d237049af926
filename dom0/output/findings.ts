// Findings as text: errors first, then warnings, then notes; each with file:line:col, severity,
// code and message, so every problem is visible at once.
import type { Finding, Severity } from '../job/findings.ts';
import { printSafe } from './safe-text.ts';
import { plural, type Style } from './style.ts';

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

// Sorts findings by severity, then by position.
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || (a.line ?? 1e9) - (b.line ?? 1e9) || (a.column ?? 0) - (b.column ?? 0));
}

function label(severity: Severity, style: Style): string {
  if (severity === 'error') return style.red(style.bold('error  '));
  if (severity === 'warning') return style.yellow('warning');
  return style.cyan('note   ');
}

// One finding on one line (plus an indented detail list when it has one).
export function renderFinding(f: Finding, file: string | null, style: Style): string[] {
  const where = f.line !== undefined ? `${file ?? ''}${file ? ':' : 'line '}${f.line}${f.column !== undefined ? `:${f.column}` : ''}` : '';
  // Idempotent on fields a renderer has already made safe; guards callers that have not.
  const head = `  ${label(f.severity, style)}  ${where ? style.dim(printSafe(where)) + '  ' : ''}${style.bold(printSafe(f.code))}  ${printSafe(f.message)}`;
  return [head];
}

// Every finding, sorted, or a line saying there are none.
export function renderFindings(findings: readonly Finding[], file: string | null, style: Style): string[] {
  if (findings.length === 0) return ['  (none)'];
  return sortFindings(findings).flatMap((f) => renderFinding(f, file, style));
}

// "2 errors, 1 warning, 3 notes".
export function countFindings(findings: readonly Finding[]): string {
  const n = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  return `${plural(n('error'), 'error')}, ${plural(n('warning'), 'warning')}, ${plural(n('info'), 'note')}`;
}
