// computeTargets: designations → backup targets (SPEC §4.3–4.8) and the target-level findings.
// Table-driven: a small system, a job, and the exact target list ("kind snapshot send").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobSpec } from './fixtures.ts';
import { mkJob, sys } from './fixtures.ts';
import { computeTargets } from '../../../dom0/plan/targets.ts';
import { resolveDesignations } from '../../../dom0/plan/resolve.ts';
import type { Run } from './helpers.ts';
import { codes, lines, only, plan } from './helpers.ts';

interface Case {
  name: string;
  system: string;
  job: JobSpec;
  /** Exactly these targets, in order (see helpers.lines). */
  targets?: string[];
  /** Exactly these computeTargets findings ("CODE/severity", any order). */
  findings?: string[];
  check?: (r: Run) => void;
}

const TEMPLATE = 'qube fedora TemplateVM';
const FORGO_T = { t: 'qubes: fedora' };

const cases: Case[] = [
  {
    name: "an app qube: its root dataset and private; root and volatile are transient (even while it runs)",
    system: `${TEMPLATE}\nqube work AppVM template=fedora state=Running @bk`,
    job: { include: { q: 'qubes: work' }, forgo: FORGO_T },
    targets: ['target tank/qubes/work@bk full', 'target tank/qubes/work/private@bk full'],
    findings: [],
    check: (r) => {
      assert.deepEqual(
        r.tgt.excluded.map((e) => `${e.reason} ${e.dataset} ${e.by ?? ''}`),
        ['transient tank/qubes/work/root work', 'transient tank/qubes/work/volatile work'],
      );
      const t = r.tgt.targets[1]!;
      assert.equal(t.exists, true);
      assert.equal(typeof t.guid, 'bigint');
      assert.equal(t.designation, 'tank/qubes/work');
      assert.equal(t.qube, 'work');
    },
  },
  {
    name: 'a template: root and private are both persistent targets',
    system: `${TEMPLATE} @bk`,
    job: { include: { t: 'qubes: fedora' } },
    targets: ['target tank/qubes/fedora@bk full', 'target tank/qubes/fedora/private@bk full', 'target tank/qubes/fedora/root@bk full'],
  },
  {
    name: 'only a disposable included: NO_TARGETS',
    system: `${TEMPLATE}\nqube dvm AppVM template=fedora\nqube disp12 DispVM template=dvm state=Running`,
    job: { include: { q: 'qubes: disp12' }, forgo: { t: 'qubes: fedora dvm' } },
    check: (r) => {
      assert.deepEqual(r.tgt.targets, []);
      assert.equal(only(r.tgt.findings, 'NO_TARGETS').severity, 'error');
    },
  },
  {
    name: 'an include of a transient volume or a work dataset: INCLUDE_WITHOUT_TARGETS (and NO_TARGETS)',
    system: `${TEMPLATE}\nqube work AppVM template=fedora state=Running\nds tank/qubes/.tmp/x volume`,
    job: { include: { d: 'datasets: tank/qubes/work/volatile tank/qubes/.tmp' }, forgo: { q: 'qubes: fedora' } },
    findings: ['INCLUDE_WITHOUT_TARGETS/warning', 'INCLUDE_WITHOUT_TARGETS/warning', 'NO_TARGETS/error'],
    check: (r) => {
      const [a, b] = r.tgt.findings.filter((f) => f.code === 'INCLUDE_WITHOUT_TARGETS');
      assert.match(a!.message, /transient qube volume/);
      assert.match(b!.message, /work datasets/);
    },
  },
  {
    name: 'void inside include: the void subtree is left out; driver work datasets and %recv too',
    system: `
      ${TEMPLATE} @bk
      qube work AppVM template=fedora @bk
      qube vault AppVM template=fedora @bk
      qube backup AppVM template=fedora state=Running
      ds tank/qubes/.tmp/tank_qubes_work_private volume @bk
      ds tank/qubes/.exported/tank_qubes_work_private/abcdefgh volume @bk
      ds tank/qubes/.importing/x volume @bk
      ds tank/qubes/vault/%recv volume @bk
      snap tank/qubes @bk
      snap tank/qubes/backup @bk
      snap tank/qubes/backup/private @bk`,
    job: { include: { all: 'datasets: tank/qubes' }, void: { v: 'qubes: vault backup' } },
    targets: [
      'target tank/qubes@bk full',
      'target tank/qubes/fedora@bk full',
      'target tank/qubes/fedora/private@bk full',
      'target tank/qubes/fedora/root@bk full',
      'target tank/qubes/work@bk full',
      'target tank/qubes/work/private@bk full',
    ],
    check: (r) => {
      const ex = r.tgt.excluded.map((e) => `${e.reason} ${e.dataset}`).sort();
      assert.deepEqual(ex, [
        'driver-work tank/qubes/.exported',
        'driver-work tank/qubes/.exported/tank_qubes_work_private',
        'driver-work tank/qubes/.exported/tank_qubes_work_private/abcdefgh',
        'driver-work tank/qubes/.importing',
        'driver-work tank/qubes/.importing/x',
        'driver-work tank/qubes/.tmp',
        'driver-work tank/qubes/.tmp/tank_qubes_work_private',
        'void tank/qubes/backup',
        'void tank/qubes/backup/private',
        'void tank/qubes/backup/root',
        'void tank/qubes/backup/volatile',
        'void tank/qubes/vault',
        'void tank/qubes/vault/%recv',
        'void tank/qubes/vault/private',
      ]);
    },
  },
  {
    name: 'since found: incremental; missing on some: SINCE_MISSING_SOME lists them',
    system: `ds tank/a @prev @bk\nds tank/b @bk`,
    job: { include: { d: 'datasets: tank/a tank/b' }, since: '@prev' },
    targets: ['target tank/a@bk incr tank/a@prev', 'target tank/b@bk full'],
    findings: ['SINCE_MISSING_SOME/info'],
    check: (r) => assert.deepEqual(only(r.tgt.findings, 'SINCE_MISSING_SOME').details?.['datasets'], ['tank/b']),
  },
  {
    name: 'since nowhere: SINCE_NOT_FOUND',
    system: `ds tank/a @bk\nds tank/b @bk`,
    job: { include: { d: 'datasets: tank/a tank/b' }, since: '@prev' },
    findings: ['SINCE_NOT_FOUND/error'],
    check: (r) => assert.equal(only(r.tgt.findings, 'SINCE_NOT_FOUND').line, 4),
  },
  {
    name: 'a bookmark #since is a base with progressive: no',
    system: `ds tank/a #prev @bk`,
    job: { include: { d: 'datasets: tank/a' }, since: '@prev' },
    targets: ['target tank/a@bk incr tank/a#prev'],
    findings: [],
  },
  {
    name: 'a bookmark #since starts a progressive send too (zfs send -i ds#bm ds@snap), the rest follow',
    system: `ds tank/a #prev @x @bk`,
    job: { include: { d: 'datasets: tank/a' }, since: '@prev', progressive: true },
    targets: ['intermediate tank/a@x incr tank/a#prev', 'target tank/a@bk incr tank/a@x'],
    findings: [],
  },
  {
    name: 'since created after the target: SINCE_AFTER_TARGET',
    system: `ds tank/a @bk @prev`,
    job: { include: { d: 'datasets: tank/a' }, since: '@prev' },
    findings: ['SINCE_AFTER_TARGET/error'],
  },
  {
    name: 'progressive: every snapshot between base and target by createtxg, not by name',
    system: `ds tank/a @old @prev @zz @mm @aa @bk @later`,
    job: { include: { d: 'datasets: tank/a' }, since: '@prev', progressive: true },
    targets: [
      'intermediate tank/a@zz incr tank/a@prev',
      'intermediate tank/a@mm incr tank/a@zz',
      'intermediate tank/a@aa incr tank/a@mm',
      'target tank/a@bk incr tank/a@aa',
    ],
    findings: [],
  },
  {
    name: 'progressive with no base: the oldest snapshot goes full, the rest follow',
    system: `ds tank/a @s1 @s2 @bk`,
    job: { include: { d: 'datasets: tank/a' }, progressive: true },
    targets: ['intermediate tank/a@s1 full', 'intermediate tank/a@s2 incr tank/a@s1', 'target tank/a@bk incr tank/a@s2'],
  },
  {
    name: "progressive leaves the Qubes driver's own snapshots out (SPEC §4.5) and says so",
    system: `${TEMPLATE}\nqube work AppVM template=fedora @prev\nsnap tank/qubes/work/private @qubes:before-start:1700000000.000001 @mine @qubes-clean-abcdefgh`,
    job: { include: { q: 'qubes: work' }, forgo: FORGO_T, since: '@prev', progressive: true },
    targets: [
      'target tank/qubes/work@bk incr tank/qubes/work@prev pending',
      'intermediate tank/qubes/work/private@mine incr tank/qubes/work/private@prev',
      'target tank/qubes/work/private@bk incr tank/qubes/work/private@mine pending',
    ],
    findings: ['DRIVER_SNAPSHOTS_LEFT_OUT/info', 'TARGET_SNAPSHOT_PENDING/info'],
    check: (r) => assert.deepEqual(only(r.tgt.findings, 'DRIVER_SNAPSHOTS_LEFT_OUT').details, { datasets: ['tank/qubes/work/private'], count: 2 }),
  },
  {
    name: 'pending target snapshot: TARGET_SNAPSHOT_PENDING (creation allowed), the target comes last',
    system: `ds tank/a @s1\nds tank/b @bk`,
    job: { include: { d: 'datasets: tank/a tank/b' }, progressive: true },
    targets: ['intermediate tank/a@s1 full', 'target tank/a@bk incr tank/a@s1 pending', 'target tank/b@bk full'],
    findings: ['TARGET_SNAPSHOT_PENDING/info'],
    check: (r) => {
      const f = only(r.tgt.findings, 'TARGET_SNAPSHOT_PENDING');
      assert.deepEqual(f.details, { datasets: ['tank/a'], creationAllowed: true });
      assert.match(f.message, /will create/);
      const t = r.tgt.targets[1]!;
      assert.equal(t.exists, false);
      assert.equal(t.guid, undefined);
    },
  },
  {
    name: 'pending with snapshot-creation: no: SNAPSHOT_CREATION_DISABLED warning too',
    system: `ds tank/a`,
    job: { include: { d: 'datasets: tank/a' }, snapshotCreation: false },
    findings: ['SNAPSHOT_CREATION_DISABLED/warning', 'TARGET_SNAPSHOT_PENDING/info'],
    check: (r) => assert.match(only(r.tgt.findings, 'SNAPSHOT_CREATION_DISABLED').message, /tank\/a@bk/),
  },
  {
    name: 'QUBE_IN_USE: a running qube with pending target snapshots',
    system: `${TEMPLATE}\nqube work AppVM template=fedora state=Running\nqube vault AppVM template=fedora state=Running @bk`,
    job: { include: { q: 'qubes: work vault' }, forgo: FORGO_T },
    findings: ['QUBE_IN_USE/warning', 'TARGET_SNAPSHOT_PENDING/info'],
    check: (r) => {
      const f = only(r.tgt.findings, 'QUBE_IN_USE');
      assert.equal(f.subject, 'work');
      assert.match(f.message, /qvm-shutdown --wait work/);
      assert.deepEqual(f.details?.['datasets'], ['tank/qubes/work', 'tank/qubes/work/private']);
    },
  },
  {
    name: 'QUBE_IN_USE: halted, but org.qubes:dirty is still on',
    system: `${TEMPLATE}\nqube work AppVM template=fedora dirty=on`,
    job: { include: { q: 'qubes: work' }, forgo: FORGO_T },
    findings: ['QUBE_IN_USE/warning', 'TARGET_SNAPSHOT_PENDING/info'],
    check: (r) => assert.match(only(r.tgt.findings, 'QUBE_IN_USE').message, /dirty=on on tank\/qubes\/work\/private/),
  },
  {
    name: 'honour-origins: yes: a qvm-cloned qube keeps its (forgone) origin as an origin target',
    system: `${TEMPLATE}\nqube work AppVM template=fedora\nqube work2 AppVM template=fedora cloneof=work @bk`,
    job: { include: { q: 'qubes: work2' }, forgo: { t: 'qubes: fedora work' }, honourOrigins: true },
    targets: [
      'origin tank/qubes/work/private@qubes-clean-aaaaaaac full',
      'target tank/qubes/work2@bk full',
      'target tank/qubes/work2/private@bk clone tank/qubes/work/private@qubes-clean-aaaaaaac',
    ],
    findings: [],
    check: (r) => {
      assert.equal(r.tgt.targets[0]!.kind, 'origin');
      assert.equal(r.tgt.targets[0]!.designation, 'tank/qubes/work2');
    },
  },
  {
    name: 'honour-origins: no: the clone is sent full',
    system: `${TEMPLATE}\nqube work AppVM template=fedora\nqube work2 AppVM template=fedora cloneof=work @bk`,
    job: { include: { q: 'qubes: work2' }, forgo: { t: 'qubes: fedora work' } },
    targets: ['target tank/qubes/work2@bk full', 'target tank/qubes/work2/private@bk full'],
  },
  {
    name: "honour-origins: yes but the origin's dataset is void: silently a full send",
    system: `${TEMPLATE}\nqube work AppVM template=fedora\nqube work2 AppVM template=fedora cloneof=work @bk`,
    job: { include: { q: 'qubes: work2' }, forgo: FORGO_T, void: { v: 'qubes: work' }, honourOrigins: true },
    targets: ['target tank/qubes/work2@bk full', 'target tank/qubes/work2/private@bk full'],
    check: (r) => assert.equal(r.tgt.targets[1]!.note, undefined),
  },
  {
    name: 'origins of origins, recursively; origins before clones even when names sort the other way',
    system: `
      ds tank/z/base @o1
      ds tank/m/mid origin=tank/z/base@o1 @o2
      ds tank/a/leaf origin=tank/m/mid@o2 @bk`,
    job: { include: { d: 'datasets: tank/a' }, forgo: { f: 'datasets: tank/z tank/m' }, honourOrigins: true },
    targets: [
      'target tank/a@bk full pending',
      'origin tank/z/base@o1 full',
      'origin tank/m/mid@o2 clone tank/z/base@o1',
      'target tank/a/leaf@bk clone tank/m/mid@o2',
    ],
  },
  {
    name: 'an included origin dataset: the origin snapshot joins its chain (progressive: no)',
    system: `
      ds tank/src @o1 @bk
      ds tank/dst origin=tank/src@o1 @bk`,
    job: { include: { d: 'datasets: tank/src tank/dst' }, honourOrigins: true },
    targets: ['origin tank/src@o1 full', 'target tank/src@bk incr tank/src@o1', 'target tank/dst@bk clone tank/src@o1'],
  },
  {
    name: 'an included origin dataset with progressive: the origin is already an intermediate',
    system: `
      ds tank/src @prev @o1 @bk
      ds tank/dst origin=tank/src@o1 @bk`,
    job: { include: { d: 'datasets: tank/src tank/dst' }, honourOrigins: true, progressive: true, since: '@prev' },
    targets: [
      'intermediate tank/src@o1 incr tank/src@prev',
      'target tank/src@bk incr tank/src@o1',
      'target tank/dst@bk clone tank/src@o1',
    ],
    findings: ['SINCE_MISSING_SOME/info'],
  },
  {
    name: 'an origin older than its dataset\'s base cannot be appended: full send with a note',
    system: `
      ds tank/src @o1 @prev @bk
      ds tank/dst origin=tank/src@o1 @bk`,
    job: { include: { d: 'datasets: tank/src tank/dst' }, honourOrigins: true, since: '@prev' },
    targets: ['target tank/dst@bk full', 'target tank/src@bk incr tank/src@prev'],
    check: (r) => assert.match(r.tgt.targets[0]!.note ?? '', /older than tank\/src@prev/),
  },
  {
    name: 'a clone that already has since needs no origin',
    system: `
      ds tank/src @o1
      ds tank/dst origin=tank/src@o1 @prev @bk`,
    job: { include: { d: 'datasets: tank/dst' }, forgo: { f: 'datasets: tank/src' }, honourOrigins: true, since: '@prev' },
    targets: ['target tank/dst@bk incr tank/dst@prev'],
  },
  {
    name: "a standalone created from a template: its root's origin is the template's root@qubes-clean",
    system: `${TEMPLATE}\nds tank/qubes/sa/root volume origin=tank/qubes/fedora/root@qubes-clean-aaaaaaaa @bk\nds tank/qubes/sa/private volume @bk\nsnap tank/qubes/sa @bk`,
    job: { include: { d: 'datasets: tank/qubes/sa' }, forgo: FORGO_T, honourOrigins: true },
    targets: [
      'origin tank/qubes/fedora/root@qubes-clean-aaaaaaaa full',
      'target tank/qubes/sa@bk full',
      'target tank/qubes/sa/private@bk full',
      'target tank/qubes/sa/root@bk clone tank/qubes/fedora/root@qubes-clean-aaaaaaaa',
    ],
  },
  {
    name: "a running app qube's root (a clone of the template) is never a target, nor is its origin",
    system: `${TEMPLATE}\nqube work AppVM template=fedora state=Running`,
    job: { include: { q: 'qubes: work' }, forgo: FORGO_T, honourOrigins: true, progressive: true },
    targets: [
      'target tank/qubes/work@bk full pending',
      'target tank/qubes/work/private@bk full pending',
    ],
  },
  {
    name: 'an origin in another, forgone subtree is sent first although its name sorts later',
    system: `ds tank/x/o @o1\nds tank/b origin=tank/x/o@o1 @bk`,
    job: { include: { d: 'datasets: tank/b' }, forgo: { f: 'datasets: tank/x' }, honourOrigins: true },
    targets: ['origin tank/x/o@o1 full', 'target tank/b@bk clone tank/x/o@o1'],
  },
];

function cycleRun(): Run {
  const s = sys('ds tank/y @bk\nds tank/y/o @o1 @bk');
  s.zfs.datasets.find((d) => d.name === 'tank/y')!.origin = 'tank/y/o@o1';
  const job = mkJob({ include: { d: 'datasets: tank/y' }, honourOrigins: true });
  const res = resolveDesignations(job, s.qubes, s.zfs);
  const tgt = computeTargets(job, res.designations, s.qubes, s.zfs);
  return { res, tgt, findings: [...res.findings, ...tgt.findings] };
}

for (const c of cases) {
  test(c.name, () => {
    const r = plan(c.system, c.job);
    if (c.targets) assert.deepEqual(lines(r.tgt.targets), c.targets);
    if (c.findings) assert.deepEqual(codes(r.tgt.findings), [...c.findings].sort(), JSON.stringify(r.tgt.findings, null, 1));
    c.check?.(r);
  });
}

test('an origin below its own clone (possible after renames) cannot be honoured: full with a note', () => {
  const r = cycleRun();
  assert.deepEqual(lines(r.tgt.targets), ['target tank/y@bk full', 'target tank/y/o@bk full']);
  assert.match(r.tgt.targets[0]!.note ?? '', /lies inside it/);
});

test('fields the loader marked invalid produce no findings about their placeholder values', () => {
  const s = sys('ds tank/a');
  const job = mkJob({ include: { d: 'datasets: tank/a' }, since: '', snapshotCreation: false, receiver: '' });
  job.invalid = ['scope.since', 'allowed-behaviours', 'receiver.qube'];
  const res = resolveDesignations(job, s.qubes, s.zfs);
  const tgt = computeTargets(job, res.designations, s.qubes, s.zfs);
  assert.deepEqual(codes([...res.findings, ...tgt.findings]), ['QUBE_UNDESIGNATED/warning', 'TARGET_SNAPSHOT_PENDING/info']);
  job.invalid = ['scope.target-snapshot'];
  assert.deepEqual(codes(computeTargets(job, res.designations, s.qubes, s.zfs).findings), []);
});

test('a longer origin cycle through two renamed clones is broken deterministically', () => {
  // tank/p is a clone of tank/q/o@s, tank/q a clone of tank/p/o@s: each origin lies below the other clone.
  const s = sys('ds tank/p @bk\nds tank/p/o @s @bk\nds tank/q @bk\nds tank/q/o @s @bk');
  s.zfs.datasets.find((d) => d.name === 'tank/p')!.origin = 'tank/q/o@s';
  s.zfs.datasets.find((d) => d.name === 'tank/q')!.origin = 'tank/p/o@s';
  const job = mkJob({ include: { d: 'datasets: tank/p tank/q' }, honourOrigins: true });
  const res = resolveDesignations(job, s.qubes, s.zfs);
  const { targets } = computeTargets(job, res.designations, s.qubes, s.zfs);
  const pos = new Map(targets.map((t, i) => [t.snapshot, i]));
  for (const t of targets) {
    if (t.send.type === 'clone') assert.ok(pos.get(t.send.origin)! < pos.get(t.snapshot)!, `${t.send.origin} before ${t.snapshot}`);
  }
  assert.ok(targets.some((t) => t.note?.includes('cycle')));
  assert.deepEqual(codes(res.findings), []);
});
