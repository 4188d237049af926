// The list the loader's checks append findings to: each code's severity comes from the table, and a
// hostile file cannot make the list grow without bound.
import { finding } from './findings.ts';
import type { Finding } from './findings.ts';
import type { Position } from './types.ts';
import { JOB_CODES } from './codes.ts';
import type { JobCode } from './codes.ts';

/** Most findings one load returns; a file with more is garbage, and the first ones say so. */
export const MAX_FINDINGS = 500;
/** Codes kept even past MAX_FINDINGS: each is added at most once and says why the rest stopped. */
const ALWAYS_KEPT: ReadonlySet<JobCode> = new Set(['YAML_TOO_COMPLEX']);

/** Collects findings for one load. */
export class Report {
  readonly findings: Finding[] = [];
  private dropped = 0;
  private readonly seen = new Set<string>();

  /** Adds a finding with the code's severity from JOB_CODES. */
  add(code: JobCode, message: string, pos?: Position, subject?: string, details?: Record<string, unknown>): void {
    // The same node reached twice through aliases gives the same finding twice: keep one.
    const key = `${code}\u0000${pos?.line ?? ''}:${pos?.column ?? ''}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.findings.length >= MAX_FINDINGS && !ALWAYS_KEPT.has(code)) {
      this.dropped++;
      return;
    }
    this.findings.push(finding(code, JOB_CODES[code].severity, message, { pos, subject, details }));
  }

  /** True when at least one finding with this code was added. */
  has(code: JobCode): boolean {
    return this.findings.some((f) => f.code === code);
  }

  /** The findings in file order (line, then column; unpositioned ones last), plus an overflow note. */
  sorted(): Finding[] {
    const out = this.findings
      .map((f, i) => ({ f, i }))
      .sort((a, b) => order(a.f) - order(b.f) || (a.f.column ?? 0) - (b.f.column ?? 0) || a.i - b.i)
      .map((x) => x.f);
    if (this.dropped > 0) {
      out.push(
        finding('TOO_MANY_FINDINGS', 'error', `${this.dropped} more problems were found but are not listed. Fix the ones above (is this really a job file?) and check again.`, {}),
      );
    }
    return out;
  }
}

function order(f: Finding): number {
  return f.line ?? Number.MAX_SAFE_INTEGER;
}
