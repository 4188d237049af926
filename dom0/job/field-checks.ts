// Checks on the values of the reserved fields: the job name, the two snapshot labels (and that they
// differ), the receiver qube and dataset. Returns the paths whose values failed.
import type { Fields } from './fields.ts';
import type { Report } from './report.ts';
import { SINCE_BEGINNING, datasetProblem, jobNameProblem, labelProblem, qubeNameProblem } from './values.ts';

/** Reports invalid values of the reserved fields; returns the paths of those values. */
export function checkFieldValues(report: Report, f: Fields): Set<string> {
  const bad = new Set<string>();
  const check = (path: string, code: Parameters<Report['add']>[0], problem: (v: string) => string | null): void => {
    const v = f.text.get(path);
    if (v === undefined) return;
    const p = problem(v);
    if (p === null) return;
    report.add(code, p, f.positions[path], v);
    bad.add(path);
  };

  check('name', 'INVALID_NAME', jobNameProblem);
  check('scope.target-snapshot', 'INVALID_SNAPSHOT_LABEL', (v) => labelProblem(v, 'target-snapshot'));
  check('scope.since', 'INVALID_SNAPSHOT_LABEL', (v) => (v === SINCE_BEGINNING ? null : labelProblem(v, 'since')));
  check('receiver.dataset', 'INVALID_DATASET_NAME', (v) => {
    const p = datasetProblem(v);
    return p === null ? null : `\`receiver.dataset\`: ${p}`;
  });

  const qube = f.text.get('receiver.qube');
  if (qube === 'dom0' || qube === 'Domain-0') {
    report.add('RECEIVER_IS_DOM0', '`receiver.qube` is dom0, but the backup must be received by a separate qube (an app, disposable or standalone qube with ZFS) that has the backup disk attached.', f.positions['receiver.qube'], qube);
    bad.add('receiver.qube');
  } else {
    check('receiver.qube', 'INVALID_QUBE_NAME', (v) => {
      const p = qubeNameProblem(v);
      return p === null ? null : `\`receiver.qube\`: ${p}`;
    });
  }

  const target = f.text.get('scope.target-snapshot');
  const since = f.text.get('scope.since');
  if (target !== undefined && target === since && !bad.has('scope.since')) {
    report.add('TARGET_EQUALS_SINCE', `\`since\` and \`target-snapshot\` are both ${JSON.stringify(target)}, so there would be nothing new to send. Set \`since\` to the target snapshot of your previous backup to this receiver (or beginning), and \`target-snapshot\` to the new label.`, f.positions['scope.since'], target);
    bad.add('scope.since');
  }
  return bad;
}
