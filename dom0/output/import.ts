// `import` as text and JSON.
import type { ImportResult } from '../commands/import.ts';
import { describeProgress } from '../commands/import.ts';
import { countFindings, renderFindings } from './findings.ts';
import { printSafe, printSafeDeep } from './safe-text.ts';
import type { Style } from './style.ts';

// The human-readable import report.
export function renderImport(result: ImportResult, fileArg: string, style: Style): string {
  const r = printSafeDeep(result);
  const file = printSafe(fileArg);
  const out: string[] = [];
  if (r.action === 'refused') {
    out.push(style.bold('Findings'), ...renderFindings(r.findings, file, style), '');
    out.push(style.red(`Not imported: ${countFindings(r.findings)}. Fix the errors (check ${file}) and import again.`));
    return out.join('\n') + '\n';
  }
  if (r.findings.some((f) => f.severity !== 'info')) {
    out.push(style.bold('Findings'), ...renderFindings(r.findings.filter((f) => f.severity !== 'info'), file, style), '');
  }
  if (r.action === 'unchanged') out.push(`Job ${r.job} is already imported from identical content (sha256 ${r.sha256}); nothing changed.`);
  else if (r.action === 'replaced') out.push(style.green(`Replaced job ${r.job} with ${file}`) + ` (sha256 ${r.sha256}); discarded ${describeProgress(r.discarded ?? { pending: 0, snapshotted: 0, sent: 0, verified: 0 })}.`);
  else out.push(style.green(`Imported job ${r.job} from ${file}`) + ` (sha256 ${r.sha256}) into ${r.dir ?? ''}.`);
  if (r.action !== 'unchanged') out.push(`Next: qubes-zfs-backup calc ${r.job}, then qubes-zfs-backup snapshot ${r.job}`);
  return out.join('\n') + '\n';
}

// The --json document.
export function importJson(r: ImportResult): unknown {
  return r;
}
