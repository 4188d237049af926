// `check` as text and as its --json document (the shape in SCENARIOS.md is a public interface).
import type { CheckResult } from '../commands/check.ts';
import type { ResolvedDesignation } from '../plan/types.ts';
import { countFindings, renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, plural, type Style } from './style.ts';

const SECTIONS = [
  { designation: 'include', title: 'Included (backed up)' },
  { designation: 'forgo', title: 'Forgone (not backed up unless another target needs them)' },
  { designation: 'void', title: 'Void (never backed up)' },
] as const;

function origin(d: ResolvedDesignation): string {
  return `${d.objectType === 'qube' ? `qube ${d.object}` : d.object === d.dataset ? 'dataset' : `dataset ${d.object}`}, group ${d.group}`;
}

// The human-readable check report.
export function renderCheck(result: CheckResult, style: Style): string {
  const r = printSafeDeep(result);
  const file = r.source.kind === 'file' ? r.source.path : null;
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
    if (qubes.length > 0) out.push(`  qubes:    ${style.yellow(qubes.join(', '))}`);
    if (datasets.length > 0) out.push(`  datasets: ${style.yellow(datasets.join(', '))}`);
  }
  if (r.targets) {
    const t = r.targets;
    out.push('', style.bold('Targets'));
    out.push(`  ${plural(t.snapshots, 'snapshot')} of ${plural(t.datasets, 'dataset')}: ${t.byKind.target} target, ${t.byKind.intermediate} intermediate, ${t.byKind.origin} origin`);
    if (t.pending === 0) out.push('  every target snapshot exists already');
    else out.push(`  ${plural(t.pending, 'snapshot')} not created yet${r.snapshotCreation ? ' (the snapshot command will create them)' : ' (snapshot-creation is off: create them yourself)'}`);
  } else if (r.job) {
    out.push('', style.bold('Targets'), '  not computed: the system could not be read (see the findings)');
  }
  out.push('', style.bold('Findings'), ...renderFindings(r.findings, file, style));
  out.push('', r.ok
    ? style.green(`OK: ${countFindings(r.findings)}.`) + (r.source.kind === 'file' && r.job ? ` Next: import ${r.source.path}` : '')
    : style.red(`Not OK: ${countFindings(r.findings)}.`) + ' Fix the errors and run check again.');
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
  };
}
