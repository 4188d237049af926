// Findings decided by the target list: the incremental base (`since`), target snapshots that do not
// exist yet, and qubes whose volumes cannot be snapshotted right now.
import type { Finding } from '../job/findings.ts';
import { finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { ZfsDataset, ZfsSnapshot } from '../inventory/types.ts';
import type { Base } from './chains.ts';
import { fieldInvalid } from './job-fields.ts';
import type { DatasetIndex } from './dataset-index.ts';
import type { DesignationMaps } from './designation-map.ts';
import type { QubesLayout } from './qubes-layout.ts';
import type { Target } from './types.ts';

/** What one target dataset's chain found about `since` and the target snapshot. */
export interface ChainFacts {
  dataset: ZfsDataset;
  base: Base | null;
  target: ZfsSnapshot | undefined;
  /** Qubes driver snapshots progressive left out between the base and the target. */
  driverSnapshotsSkipped: number;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? `1 ${one}` : `${n} ${many}`;
}

// Every target-level finding, in a stable order.
export function targetFindings(
  job: Job,
  index: DatasetIndex,
  layout: QubesLayout,
  maps: DesignationMaps,
  facts: readonly ChainFacts[],
  targets: readonly Target[],
): Finding[] {
  const out: Finding[] = [];
  if (facts.length === 0) {
    if (maps.include.size > 0) {
      out.push(
        finding(
          'NO_TARGETS',
          'error',
          'The include designations hold nothing that can be backed up: every dataset in them is void, a transient ' +
            'qube volume (volatile, or the root of an app qube or disposable) or a Qubes work dataset. Include the ' +
            'qubes or datasets that hold your data (an app qube\'s data is its private volume; its root comes from its template).',
          { pos: job.positions['include-groups'] },
        ),
      );
    }
    return out;
  }
  // A field the loader marked invalid holds a placeholder: findings about it would be noise.
  const targetOk = !fieldInvalid(job, 'scope.target-snapshot');
  if (targetOk && !fieldInvalid(job, 'scope.since') && !fieldInvalid(job, 'scope.progressive')) out.push(...sinceFindings(job, facts));
  if (targetOk) {
    out.push(...pendingFindings(job, facts));
    out.push(...driverSnapshotFindings(facts));
    out.push(...inUseFindings(index, layout, targets));
  }
  return out;
}

function sinceFindings(job: Job, facts: readonly ChainFacts[]): Finding[] {
  const { since, targetSnapshot } = job.scope;
  if (since === 'beginning') return [];
  const pos = job.positions['scope.since'];
  const out: Finding[] = [];
  const withBase = facts.filter((f) => f.base !== null);
  if (withBase.length === 0) {
    const bm = ' If this is your first backup to this receiver, set since: beginning; otherwise';
    out.push(
      finding(
        'SINCE_NOT_FOUND',
        'error',
        `since is ${since}, but none of the ${plural(facts.length, 'dataset', 'datasets')} in the backup has a snapshot ` +
          `${since} or bookmark #${since.slice(1)}.${bm} check the label of your previous backup's target snapshot.`,
        { pos, subject: since },
      ),
    );
    return out;
  }
  const missing = facts.filter((f) => f.base === null).map((f) => f.dataset.name);
  if (missing.length > 0) {
    out.push(
      finding(
        'SINCE_MISSING_SOME',
        'info',
        `${plural(missing.length, 'dataset has', 'datasets have')} no ${since} and will be sent in full (or as a clone ` +
          `of ${missing.length === 1 ? 'its' : 'their'} origin): ${missing.join(', ')}. That is expected for datasets new ` +
          `since your last backup. If one of them was in it, its ${since} snapshot has been deleted and the receiver ` +
          `will refuse the full send (it already has that dataset): back it up to a fresh receiver dataset instead.`,
        { pos, details: { datasets: missing } },
      ),
    );
  }
  const after = facts.filter((f) => f.base !== null && f.target !== undefined && f.base.createtxg >= f.target.createtxg);
  if (after.length > 0) {
    const names = after.map((f) => f.dataset.name);
    out.push(
      finding(
        'SINCE_AFTER_TARGET',
        'error',
        `On ${names.join(', ')}, ${since} was created after ${targetSnapshot} (or at the same time), but since must be an ` +
          `older snapshot than target-snapshot. Check that the two labels are not swapped, and that since names your ` +
          `previous backup.`,
        { pos, details: { datasets: names } },
      ),
    );
  }
  return out;
}

// progressive: yes leaves the Qubes driver's own snapshots out (SPEC §4.5); say how many, and where.
function driverSnapshotFindings(facts: readonly ChainFacts[]): Finding[] {
  const skipped = facts.filter((f) => f.driverSnapshotsSkipped > 0);
  if (skipped.length === 0) return [];
  const total = skipped.reduce((n, f) => n + f.driverSnapshotsSkipped, 0);
  const names = skipped.map((f) => f.dataset.name);
  return [
    finding(
      'DRIVER_SNAPSHOTS_LEFT_OUT',
      'info',
      `progressive leaves out ${plural(total, 'snapshot', 'snapshots')} of the Qubes storage driver (@qubes-clean-*, ` +
        `@qubes:*) on ${names.join(', ')}: qubesd creates and deletes them at every qube start and stop, so they are ` +
        'never intermediates (an origin of a clone is still sent).',
      { details: { datasets: names, count: total } },
    ),
  ];
}

function pendingFindings(job: Job, facts: readonly ChainFacts[]): Finding[] {
  const pending = facts.filter((f) => f.target === undefined).map((f) => f.dataset.name);
  if (pending.length === 0) return [];
  const label = job.scope.targetSnapshot;
  const allowed = job.allowedBehaviours.snapshotCreation;
  const out: Finding[] = [
    finding(
      'TARGET_SNAPSHOT_PENDING',
      'info',
      `${plural(pending.length, 'dataset does', 'datasets do')} not have ${label} yet: ${pending.join(', ')}. ` +
        (allowed
          ? 'The snapshot command will create them (snapshot-creation is allowed).'
          : 'snapshot-creation is not allowed, so you must create them yourself before sending.'),
      { pos: job.positions['scope.target-snapshot'], details: { datasets: pending, creationAllowed: allowed } },
    ),
  ];
  if (!allowed && !fieldInvalid(job, 'allowed-behaviours.snapshot-creation')) {
    out.push(
      finding(
        'SNAPSHOT_CREATION_DISABLED',
        'warning',
        `${plural(pending.length, 'target snapshot is', 'target snapshots are')} missing and allowed-behaviours.snapshot-creation ` +
          `is no: ${pending.map((p) => p + label).join(', ')}. Create them (zfs snapshot), or set snapshot-creation: yes ` +
          `so the snapshot command creates them.`,
        { pos: job.positions['allowed-behaviours.snapshot-creation'], details: { datasets: pending } },
      ),
    );
  }
  return out;
}

// A qube is in use when it is not Halted or one of its volumes still has org.qubes:dirty=on; that
// only matters for target snapshots still to be taken.
function inUseFindings(index: DatasetIndex, layout: QubesLayout, targets: readonly Target[]): Finding[] {
  const pendingByQube = new Map<string, string[]>();
  for (const t of targets) {
    if (t.exists || t.kind !== 'target') continue;
    // A qube's volumes and its root dataset are snapshotted together, so both wait for it.
    const q = layout.volumeByVid.get(t.dataset)?.qube.name ?? layout.qubeByRoot.get(t.dataset);
    if (q === undefined) continue;
    const list = pendingByQube.get(q) ?? [];
    list.push(t.dataset);
    pendingByQube.set(q, list);
  }
  const out: Finding[] = [];
  for (const [q, datasets] of pendingByQube) {
    const qube = layout.qubeByName.get(q);
    if (!qube) continue;
    const dirty = datasets.filter((d) => index.byName.get(d)?.qubesDirty === 'on');
    const running = qube.state !== 'Halted';
    if (!running && dirty.length === 0) continue;
    const why = running
      ? `is ${qube.state}`
      : `is Halted, but Qubes has not finished stopping its volumes (org.qubes:dirty=on on ${dirty.join(', ')})`;
    const todo = running
      ? `Shut it down (qvm-shutdown --wait ${q}) and run snapshot again`
      : `Wait a few seconds and run snapshot again; if it stays dirty, start and cleanly shut down the qube`;
    out.push(
      finding(
        'QUBE_IN_USE',
        'warning',
        `Qube ${q} ${why}, so its target snapshots (${datasets.join(', ')}) cannot be taken yet. ${todo}; other qubes ` +
          `can be snapshotted meanwhile.`,
        { subject: q, details: { state: qube.state, datasets, dirty } },
      ),
    );
  }
  return out;
}

