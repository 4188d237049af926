// `check` as text and as its --json document (the shape in SCENARIOS.md is a public interface).
import type { CheckResult } from '../commands/check.ts';
import type { Finding } from '../job/findings.ts';
import type { ResolvedDesignation } from '../plan/types.ts';
import { countFindings, renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, plural, type Style } from './style.ts';
import { itemList, widthOf, wrapText } from './wrap.ts';

const SECTIONS = [
  { designation: 'include', title: 'Included (backed up)' },
  { designation: 'forgo', title: 'Forgone (not backed up unless another target needs them)' },
  { designation: 'void', title: 'Void (never backed up)' },
] as const;

function origin(d: ResolvedDesignation): string {
  return `${d.objectType === 'qube' ? `qube ${d.object}` : d.object === d.dataset ? 'dataset' : `dataset ${d.object}`}, group ${d.group}`;
}

const SOURCE_NAMES = { qubesd: 'Qubes Admin API (qubesd)', zfs: 'zfs' } as const;

// Why the system part is missing: --file-only, the job file could not be understood, or every
// failure to read qubesd or zfs, each with its hint.
function systemNotChecked(r: CheckResult, style: Style): string[] {
  const width = widthOf(style);
  if (r.fileOnly) {
    return ['', style.bold('System: not read (--file-only)'),
      ...wrapText('  ', 'Designations, omissions and targets need the system: run check without --file-only, as root in dom0.', '  ', width)];
  }
  if (r.systemFailures.length === 0) {
    return ['', style.bold('System: not checked'), '  the job file could not be understood, so it was not checked against the system'];
  }
  const out = ['', style.bold(`System: not checked (${plural(r.systemFailures.length, 'failure')} reading it)`),
    ...wrapText('  ', 'The designations, omissions and targets need the system, so they are not shown.', '  ', width)];
  for (const f of r.systemFailures) {
    const source = f.subject === 'qubesd' || f.subject === 'zfs' ? SOURCE_NAMES[f.subject] : 'system';
    out.push(...wrapText(`  ${style.red('error')}  ${style.bold(f.code)}  `, `${source}: ${f.message}`, '         ', width));
    const hint = f.details?.hint;
    if (typeof hint === 'string') out.push(...wrapText('         ', hint, '         ', width));
  }
  return out;
}

// The last line: the verdict, keeping the job file's own state apart from the system's.
function verdict(r: CheckResult, fileFindings: Finding[], style: Style): string {
  const next = r.source.kind === 'file' && r.job ? ` Next: import ${r.source.path}` : '';
  if (r.ok && r.fileOnly) return style.green(`OK: the job file is sound (${countFindings(fileFindings)}).`) + ' The system was not checked (--file-only).';
  if (r.ok) return style.green(`OK: ${countFindings(r.findings)}.`) + next;
  const fileHasErrors = fileFindings.some((f) => f.severity === 'error');
  if (r.systemFailures.length > 0 && !fileHasErrors) {
    return style.red('Not OK: the system could not be read, so the job was not checked against it.') +
      ` The job file itself has no errors (${countFindings(fileFindings)}). Fix the failures above and run check again.`;
  }
  const also = r.systemFailures.length > 0 ? ' The system could not be read either (see above).' : '';
  return style.red(`Not OK: ${countFindings(fileFindings)}.`) + ' Fix the errors and run check again.' + also;
}

// The human-readable check report.
export function renderCheck(result: CheckResult, style: Style): string {
  const r = printSafeDeep(result);
  const file = r.source.kind === 'file' ? r.source.path : null;
  const width = widthOf(style);
  const fileFindings = r.findings.filter((f) => f.details?.system !== true);
  const out: string[] = [];
  out.push(style.bold(`Checking ${r.source.kind === 'file' ? r.source.path : `imported job ${r.job ?? ''}`}${r.job && r.source.kind === 'file' ? ` (job ${r.job})` : ''}`));
  if (r.systemChecked) {
    for (const s of SECTIONS) {
      const ds = r.designations.filter((d) => d.designation === s.designation);
      out.push('', style.bold(`${s.title}: ${ds.length}`));
      if (ds.length === 0) out.push('  (none)');
      else out.push(...columns(ds.map((d) => [d.dataset, style.dim(`← ${origin(d)}`)])));
    }
    out.push('', style.bold('Not designated (forgo by default: not backed up)'));
    const { qubes, datasets } = r.undesignated;
    if (qubes.length === 0 && datasets.length === 0) out.push('  (nothing: every qube and dataset is designated)');
    if (qubes.length > 0) out.push(...itemList('qubes:    ', qubes, '  ', width, style.yellow));
    if (datasets.length > 0) out.push(...itemList('datasets: ', datasets, '  ', width, style.yellow));
  } else {
    out.push(...systemNotChecked(r, style));
  }
  if (r.targets) {
    const t = r.targets;
    out.push('', style.bold('Targets'));
    out.push(`  ${plural(t.snapshots, 'snapshot')} of ${plural(t.datasets, 'dataset')}: ${t.byKind.target} target, ${t.byKind.intermediate} intermediate, ${t.byKind.origin} origin`);
    if (t.pending === 0) out.push('  every target snapshot exists already');
    else out.push(`  ${plural(t.pending, 'snapshot')} not created yet${r.snapshotCreation ? ' (the snapshot command will create them)' : ' (snapshot-creation is off: create them yourself)'}`);
  }
  out.push('', style.bold(r.systemChecked ? 'Findings' : 'Findings in the job file'), ...renderFindings(fileFindings, file, style));
  out.push('', ...wrapText('', verdict(r, fileFindings, style), '', width));
  return out.join('\n') + '\n';
}

// The --json document: {ok, job, source, findings, designations, undesignated, targets}.
export function checkJson(r: CheckResult): unknown {
  return {
    ok: r.ok,
    job: r.job,
    source: r.source,
    findings: r.findings,
    designations: r.designations.map((d) => ({ dataset: d.dataset, designation: d.designation, object: d.object, objectType: d.objectType, group: d.group })),
    undesignated: r.undesignated,
    targets: r.targets,
    systemChecked: r.systemChecked,
    fileOnly: r.fileOnly,
  };
}
