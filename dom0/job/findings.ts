// Findings: what `check` reports. Job-file problems are values, never exceptions, so one run can
// report all of them at once.
import type { Position } from './types.ts';

export type Severity = 'error' | 'warning' | 'info';

/** A catalogue entry for a finding code: its usual severity and a one-line meaning. */
export interface CodeInfo {
  severity: Severity;
  meaning: string;
}

export interface Finding {
  /** Stable code from SPEC §3 (e.g. 'NESTED_DESIGNATION'); scripts match on it. */
  code: string;
  severity: Severity;
  /** A sentence a person understands without the spec, saying what to change. */
  message: string;
  line?: number;
  column?: number;
  /** The object, group, dataset or field concerned. */
  subject?: string;
  /** Extra structured detail for --json (lists of datasets, qubes, …). */
  details?: Record<string, unknown>;
}

export function finding(
  code: string,
  severity: Severity,
  message: string,
  where: { pos?: Position | undefined; subject?: string | undefined; details?: Record<string, unknown> } = {},
): Finding {
  const f: Finding = { code, severity, message };
  if (where.pos) {
    f.line = where.pos.line;
    f.column = where.pos.column;
  }
  if (where.subject !== undefined) f.subject = where.subject;
  if (where.details !== undefined) f.details = where.details;
  return f;
}

/** A command's typed error as an error finding: its code, its message and, in brackets, its hint. */
export function errorFinding(e: { code: string; message: string; hint?: string | undefined }): Finding {
  return finding(e.code, 'error', `${e.message}${e.hint ? ` (${e.hint})` : ''}`);
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
