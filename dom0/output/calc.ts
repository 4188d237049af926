// `calc` as a table and as its --json document (shape in SCENARIOS.md).
import type { CalcResult } from '../commands/calc.ts';
import type { SendType } from '../plan/types.ts';
import { countFindings, renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, plural, type Style } from './style.ts';

// "full", "incremental from X", "clone of X".
export function describeSend(send: SendType): string {
  if (send.type === 'full') return 'full';
  if (send.type === 'incremental') return `incremental from ${send.from}`;
  return `clone of ${send.origin}`;
}

// The human-readable target list.
export function renderCalc(result: CalcResult, style: Style): string {
  const r = printSafeDeep(result);
  const out: string[] = [style.bold(`Job ${r.job}${r.label ? `, target snapshot ${r.label}` : ''}: ${plural(r.targets.length, 'backup target')}, in send order`)];
  if (r.targets.length > 0) {
    const rows = [['SNAPSHOT', 'KIND', 'EXISTS', 'STATE', 'SEND'].map((h) => style.dim(h))];
    for (const t of r.targets) {
      rows.push([t.snapshot, t.kind, t.exists ? 'yes' : style.yellow('no'), t.state, describeSend(t.send)]);
    }
    out.push(...columns(rows));
  }
  // Notes belong to `check`; calc shows what could change the targets.
  const shown = r.findings.filter((f) => f.severity !== 'info');
  if (shown.length > 0) out.push('', style.bold('Findings'), ...renderFindings(shown, null, style));
  if (!r.ok) out.push('', style.red(`${countFindings(r.findings)}: run check ${r.job} for details.`));
  return out.join('\n') + '\n';
}

// The --json document: {job, label, ok, targets: [{dataset, snapshot, kind, send, exists, state}], findings}.
export function calcJson(r: CalcResult): unknown {
  return { job: r.job, label: r.label, ok: r.ok, targets: r.targets, findings: r.findings };
}
