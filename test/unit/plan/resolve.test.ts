// resolveDesignations: objects → designations (SPEC §4.1–4.2) and the findings decided against the
// live system. Table-driven: each case is a small system, a job, and what must come out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobSpec } from './fixtures.ts';
import { DESKTOP, mkJob, sys } from './fixtures.ts';
import { resolveDesignations } from '../../../dom0/plan/resolve.ts';
import { computeTargets } from '../../../dom0/plan/targets.ts';
import { PLAN_CODES } from '../../../dom0/plan/codes.ts';
import type { Run } from './helpers.ts';
import { codes, only, plan } from './helpers.ts';

interface Case {
  name: string;
  system: string;
  job: JobSpec;
  /** Exactly these resolve-step findings ("CODE/severity", any order). */
  findings?: string[];
  /** Exactly these designations ("include tank/qubes/work"), in order. */
  designations?: string[];
  check?: (r: Run) => void;
}

const HALTED_DESKTOP = `
  ds tank/dom0 @a
  qube fedora TemplateVM
  qube work AppVM template=fedora @a
  qube vault AppVM template=fedora @a
  qube backup AppVM template=fedora state=Running
`;

const cases: Case[] = [
  {
    name: 'a qube becomes <container>/<qube>, a dataset member is its own designation',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora' } },
    findings: [],
    designations: ['include tank/qubes/work', 'include tank/qubes/vault', 'include tank/dom0', 'forgo tank/qubes/fedora'],
    check: (r) => {
      const work = r.res.designations[0]!;
      assert.deepEqual(
        { object: work.object, objectType: work.objectType, group: work.group, line: work.pos?.line },
        { object: 'work', objectType: 'qube', group: 'q', line: 21 },
      );
      assert.equal(r.res.designations[2]!.objectType, 'dataset');
    },
  },
  {
    name: 'volumes in two ZFS pools give two designations; root and private in one pool give one',
    system: `
      pool main zfs tank/qubes
      pool aux zfs aux/vms
      qube fedora TemplateVM
      qube games StandaloneVM root=aux
      qube work AppVM template=fedora`,
    job: { include: { q: 'qubes: games work' }, forgo: { t: 'qubes: fedora' } },
    findings: [],
    designations: ['include aux/vms/games', 'include tank/qubes/games', 'include tank/qubes/work', 'forgo tank/qubes/fedora'],
  },
  {
    name: "an app qube whose transient root lives in another pool: two designations, no noise, private backed up",
    system: `
      pool main zfs tank/qubes
      pool aux zfs aux/vms
      qube fedora TemplateVM root=aux
      qube work AppVM template=fedora root=aux volatile=aux state=Running`,
    job: { include: { q: 'qubes: work' }, forgo: { t: 'qubes: fedora' } },
    designations: ['include aux/vms/work', 'include tank/qubes/work', 'forgo aux/vms/fedora', 'forgo tank/qubes/fedora'],
    check: (r) => {
      assert.deepEqual(codes(r.findings), ['QUBE_IN_USE/warning', 'TARGET_SNAPSHOT_PENDING/info']);
      assert.deepEqual(r.tgt.targets.map((t) => t.snapshot), ['tank/qubes/work@bk', 'tank/qubes/work/private@bk']);
    },
  },
  {
    name: 'dom0 or a malformed name in a qubes group is left to the job loader (DOM0_IN_QUBES_GROUP, INVALID_QUBE_NAME)',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: dom0 Domain-0 tank/qubes/x work vault', d: 'datasets: tank/dom0' }, forgo: { rest: 'qubes: fedora' } },
    findings: [],
  },
  {
    name: 'a misspelt qube: QUBE_NOT_FOUND suggests the close name',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: wrok vault', d: 'datasets: tank/dom0' }, forgo: { rest: 'qubes: fedora work' } },
    findings: ['QUBE_NOT_FOUND/error'],
    check: (r) => assert.match(only(r.res.findings, 'QUBE_NOT_FOUND').message, /Did you mean work\?/),
  },
  {
    name: 'missing datasets: DATASET_NOT_FOUND with a hint (typo, qube name, pool not imported)',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', d: 'datasets: tank/dmo0 work nopool/x' }, forgo: { rest: 'qubes: fedora' } },
    check: (r) => {
      const fs = r.res.findings.filter((f) => f.code === 'DATASET_NOT_FOUND');
      assert.equal(fs.length, 3);
      assert.match(fs[0]!.message, /Did you mean tank\/dom0\?/);
      assert.match(fs[1]!.message, /work is a qube/);
      assert.match(fs[2]!.message, /No pool named nopool/);
      assert.ok(fs.every((f) => f.severity === 'error'));
    },
  },
  {
    name: 'QUBE_NOT_ON_ZFS: error when included, naming the volume and pool',
    system: `
      pool main zfs tank/qubes
      pool lvm lvm_thin
      qube fedora TemplateVM
      qube work AppVM template=fedora private=lvm`,
    job: { include: { q: 'qubes: work' }, forgo: { t: 'qubes: fedora' } },
    check: (r) => {
      const f = only(r.res.findings, 'QUBE_NOT_ON_ZFS');
      assert.equal(f.severity, 'error');
      assert.match(f.message, /private \(pool lvm\)/);
    },
  },
  {
    name: 'QUBE_NOT_ON_ZFS: warning when forgone, nothing when void',
    system: `
      pool main zfs tank/qubes
      pool lvm lvm_thin
      ds tank/dom0
      qube fedora TemplateVM root=lvm
      qube work AppVM template=fedora private=lvm`,
    job: { include: { d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora' }, void: { v: 'qubes: work' } },
    findings: ['QUBE_NOT_ON_ZFS/warning', 'VOID_WITHOUT_EFFECT/warning'],
  },
  {
    name: 'a transient volume outside ZFS (kernel, volatile) is no reason for QUBE_NOT_ON_ZFS',
    system: `
      pool main zfs tank/qubes
      pool lvm lvm_thin
      qube fedora TemplateVM volatile=lvm`,
    job: { include: { q: 'qubes: fedora' } },
    findings: [],
  },
  {
    name: 'DISPOSABLE_QUBE: warning when included, info when forgone',
    system: DESKTOP,
    job: {
      include: { q: 'qubes: work vault sys-usb', d: 'datasets: tank/dom0 tank/ROOT' },
      forgo: { t: 'qubes: fedora debian default-dvm' },
      void: {},
    },
    findings: ['DISPOSABLE_QUBE/warning'],
    check: (r) => {
      const r2 = plan(DESKTOP, {
        include: { q: 'qubes: work vault', d: 'datasets: tank/dom0 tank/ROOT' },
        forgo: { t: 'qubes: fedora debian default-dvm sys-usb' },
      });
      assert.deepEqual(codes(r2.res.findings), ['DISPOSABLE_QUBE/info']);
      assert.match(only(r.res.findings, 'DISPOSABLE_QUBE').message, /disposable template/);
    },
  },
  {
    name: 'CONFLICTING_DESIGNATION: a qube and a dataset member land on one dataset with two designations',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora', x: 'datasets: tank/qubes/work' } },
    findings: ['CONFLICTING_DESIGNATION/error'],
    check: (r) => {
      const f = only(r.res.findings, 'CONFLICTING_DESIGNATION');
      assert.equal(f.subject, 'tank/qubes/work');
      assert.match(f.message, /include .*qube work.* and forgo/);
    },
  },
  {
    name: 'DUPLICATE_MEMBER: a qube and its dataset both included; one designation kept',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', d: 'datasets: tank/dom0 tank/qubes/work' }, forgo: { t: 'qubes: fedora' } },
    findings: ['DUPLICATE_MEMBER/warning'],
    designations: ['include tank/qubes/work', 'include tank/qubes/vault', 'include tank/dom0', 'forgo tank/qubes/fedora'],
  },
  {
    name: 'the same object listed twice is left to the job loader (no dataset-level duplicate)',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', q2: 'qubes: work', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora' } },
    findings: [],
    designations: ['include tank/qubes/work', 'include tank/qubes/vault', 'include tank/dom0', 'forgo tank/qubes/fedora'],
  },
  {
    name: 'NESTED_DESIGNATION: forgo inside include, advising void',
    system: HALTED_DESKTOP,
    job: { include: { all: 'datasets: tank' }, forgo: { t: 'qubes: fedora' } },
    check: (r) => {
      const f = only(r.res.findings, 'NESTED_DESIGNATION');
      assert.equal(f.severity, 'error');
      assert.equal(f.subject, 'tank/qubes/fedora');
      assert.match(f.message, /void-groups/);
    },
  },
  {
    name: 'NESTED_DESIGNATION: include inside include, include inside forgo, include inside void, forgo inside void',
    system: `
      ds tank/dom0
      ds tank/shared/apps
      ds tank/shared/docs
      ds tank/old/a
      ds tank/old/b`,
    job: {
      include: { i: 'datasets: tank/dom0 tank/shared/apps tank/old/a' },
      forgo: { f: 'datasets: tank/shared tank/old/b' },
      void: { v: 'datasets: tank/old' },
      unused: {},
    },
    check: (r) => {
      const found = r.res.findings.filter((f) => f.code === 'NESTED_DESIGNATION');
      assert.deepEqual(found.map((f) => f.subject).sort(), ['tank/old/a', 'tank/old/b', 'tank/shared/apps']);
      const apps = found.find((f) => f.subject === 'tank/shared/apps')!;
      assert.match(apps.message, /^dataset tank\/shared\/apps \(include, group i\) lies inside dataset tank\/shared, which is forgone \(group f\)\./);
      assert.match(found.find((f) => f.subject === 'tank/old/a')!.message, /which is void .*Nothing inside a void designation is ever backed up/);
      const r2 = plan('ds tank/dom0\nds tank/dom0/x', { include: { i: 'datasets: tank/dom0 tank/dom0/x' } });
      assert.match(only(r2.res.findings, 'NESTED_DESIGNATION').message, /already included as part of tank\/dom0/);
    },
  },
  {
    name: 'void may lie anywhere: inside include without any finding',
    system: 'ds tank/dom0/cache\nds tank/dom0/home',
    job: { include: { i: 'datasets: tank/dom0' }, void: { v: 'datasets: tank/dom0/cache' } },
    findings: [],
  },
  {
    name: 'NO_INCLUDE: nothing resolves to an include',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: nosuch' }, forgo: { all: 'datasets: tank' } },
    check: (r) => {
      assert.equal(only(r.res.findings, 'NO_INCLUDE').severity, 'error');
      // No include member at all is the job loader's NO_INCLUDE: not repeated here.
      const r2 = plan(HALTED_DESKTOP, { forgo: { all: 'datasets: tank' } });
      assert.equal(r2.res.findings.filter((f) => f.code === 'NO_INCLUDE').length, 0);
    },
  },
  {
    name: 'QUBE_UNDESIGNATED lists templates and app qubes, not disposables, the receiver or dataset-covered qubes',
    system: DESKTOP,
    job: { include: { q: 'qubes: work', d: 'datasets: tank/dom0' } },
    check: (r) => {
      const f = only(r.res.findings, 'QUBE_UNDESIGNATED');
      assert.equal(f.severity, 'warning');
      assert.deepEqual(f.details?.['qubes'], ['fedora', 'debian', 'default-dvm', 'vault']);
      const r2 = plan(DESKTOP, { include: { q: 'qubes: work', d: 'datasets: tank/dom0' }, forgo: { all: 'datasets: tank/qubes/vault tank/qubes/fedora' } });
      assert.deepEqual(only(r2.res.findings, 'QUBE_UNDESIGNATED').details?.['qubes'], ['debian', 'default-dvm']);
    },
  },
  {
    name: 'DATASET_UNDESIGNATED lists top-most free subtrees, not work datasets, qube datasets or partial receives',
    system: `
      ${DESKTOP}
      ds tank/qubes/.tmp/tank_qubes_work_private volume
      ds tank/qubes/.exported/tank_qubes_work_private/abcdefgh volume
      ds tank/qubes/.importing/tank_qubes_vault_private volume
      ds tank/qubes/oldqube/private volume
      ds tank/dom0/%recv
      ds other/data/x`,
    job: { include: { q: 'qubes: work', d: 'datasets: tank/dom0' } },
    check: (r) => {
      const f = only(r.res.findings, 'DATASET_UNDESIGNATED');
      assert.equal(f.severity, 'info');
      assert.deepEqual(f.details?.['datasets'], ['other', 'tank/ROOT', 'tank/qubes/oldqube']);
      assert.deepEqual(f.details?.['undesignatedParents'], []);
    },
  },
  {
    name: 'DATASET_UNDESIGNATED names undesignated parents of designations (not pool roots or Qubes containers)',
    system: 'ds tank/dom0/home\nds tank/dom0/var\nqube fedora TemplateVM',
    job: { include: { d: 'datasets: tank/dom0/home', q: 'qubes: fedora' }, forgo: { f: 'datasets: tank/dom0/var' } },
    findings: ['DATASET_UNDESIGNATED/info'],
    check: (r) => {
      const f = only(r.res.findings, 'DATASET_UNDESIGNATED');
      assert.deepEqual(f.details, { datasets: [], undesignatedParents: ['tank/dom0'] });
      assert.match(f.message, /tank\/dom0 holds designated datasets but is not designated itself/);
    },
  },
  {
    name: 'VOID_WITHOUT_EFFECT: outside every include; inside another void; only transient volumes',
    system: HALTED_DESKTOP + '\nds tank/scratch\nqube run AppVM template=fedora state=Running',
    job: {
      include: { q: 'qubes: work vault run', d: 'datasets: tank/dom0' },
      forgo: { t: 'qubes: fedora' },
      void: { v: 'datasets: tank/scratch tank/qubes/run/volatile tank/qubes/vault tank/qubes/vault/private' },
    },
    check: (r) => {
      const subjects = r.res.findings.filter((f) => f.code === 'VOID_WITHOUT_EFFECT').map((f) => f.subject);
      assert.deepEqual(subjects, ['tank/scratch', 'tank/qubes/run/volatile', 'tank/qubes/vault/private']);
      assert.ok(r.res.findings.filter((f) => f.code === 'VOID_WITHOUT_EFFECT').every((f) => f.severity === 'warning'));
    },
  },
  {
    name: 'a void holding the origin of a backed-up clone has an effect only with honour-origins',
    system: `
      qube fedora TemplateVM
      qube work AppVM template=fedora
      qube work2 AppVM template=fedora cloneof=work`,
    job: { include: { q: 'qubes: work2' }, forgo: { t: 'qubes: fedora' }, void: { v: 'qubes: work' }, honourOrigins: true },
    findings: [],
    check: () => {
      const r2 = plan(
        'qube fedora TemplateVM\nqube work AppVM template=fedora\nqube work2 AppVM template=fedora cloneof=work',
        { include: { q: 'qubes: work2' }, forgo: { t: 'qubes: fedora' }, void: { v: 'qubes: work' }, honourOrigins: false },
      );
      assert.deepEqual(codes(r2.res.findings), ['VOID_WITHOUT_EFFECT/warning']);
    },
  },
  {
    name: 'nested voids around an origin: only the inner one is reported (inside another void)',
    system: `
      qube fedora TemplateVM
      qube work AppVM template=fedora
      qube work2 AppVM template=fedora cloneof=work`,
    job: {
      include: { q: 'qubes: work2' },
      forgo: { t: 'qubes: fedora' },
      void: { v: 'datasets: tank/qubes/work tank/qubes/work/private' },
      honourOrigins: true,
    },
    findings: ['VOID_WITHOUT_EFFECT/warning'],
    check: (r) => assert.equal(only(r.res.findings, 'VOID_WITHOUT_EFFECT').subject, 'tank/qubes/work/private'),
  },
  {
    name: 'RECEIVER_QUBE_NOT_FOUND suggests the close name (dom0 is left to the loader)',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora' }, receiver: 'bakup' },
    check: (r) => {
      const f = only(r.res.findings, 'RECEIVER_QUBE_NOT_FOUND');
      assert.match(f.message, /Did you mean backup\?/);
      assert.equal(f.line, 11);
      // dom0 as the receiver is the job loader's RECEIVER_IS_DOM0: not repeated here.
      const r2 = plan(HALTED_DESKTOP, { include: { q: 'qubes: work vault', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora backup' }, receiver: 'dom0' });
      assert.deepEqual(codes(r2.res.findings), []);
    },
  },
  {
    name: 'RECEIVER_IS_SOURCE: the receiver listed in an include group, or inside an included dataset',
    system: HALTED_DESKTOP,
    job: { include: { q: 'qubes: work vault backup', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora' } },
    check: (r) => {
      assert.equal(only(r.res.findings, 'RECEIVER_IS_SOURCE').line, 23);
      const r2 = plan(HALTED_DESKTOP, { include: { all: 'datasets: tank/qubes', d: 'datasets: tank/dom0' } });
      assert.match(only(r2.res.findings, 'RECEIVER_IS_SOURCE').message, /tank\/qubes\/backup\/private/);
      const r3 = plan(HALTED_DESKTOP, {
        include: { all: 'datasets: tank/qubes', d: 'datasets: tank/dom0' },
        void: { v: 'qubes: backup' },
      });
      assert.deepEqual(codes(r3.res.findings), []);
    },
  },
  {
    name: 'QUBE_VOLUME_MISSING: an included qube whose persistent volume has no dataset',
    system: `
      qube fedora TemplateVM
      qube work AppVM template=fedora`,
    job: { include: { q: 'qubes: work' }, forgo: { t: 'qubes: fedora' } },
    check: () => {
      // Drop work's private dataset from the inventory to simulate a broken vid.
      const r = planWithout('tank/qubes/work/private');
      assert.equal(only(r.res.findings, 'QUBE_VOLUME_MISSING').severity, 'error');
    },
  },
];

function planWithout(dataset: string): Run {
  const s = sys('qube fedora TemplateVM\nqube work AppVM template=fedora');
  s.zfs.datasets = s.zfs.datasets.filter((d) => d.name !== dataset);
  const job = mkJob({ include: { q: 'qubes: work' }, forgo: { t: 'qubes: fedora' } });
  const res = resolveDesignations(job, s.qubes, s.zfs);
  const tgt = computeTargets(job, res.designations, s.qubes, s.zfs);
  return { res, tgt, findings: [...res.findings, ...tgt.findings] };
}

for (const c of cases) {
  test(c.name, () => {
    const r = plan(c.system, c.job);
    if (c.findings) assert.deepEqual(codes(r.res.findings), [...c.findings].sort(), JSON.stringify(r.res.findings, null, 1));
    if (c.designations) assert.deepEqual(r.res.designations.map((d) => `${d.designation} ${d.dataset}`), c.designations);
    c.check?.(r);
  });
}

// Codes whose severity depends on the designation (PLAN_CODES lists the usual one).
const DUAL: Record<string, string> = { QUBE_NOT_ON_ZFS: 'warning', DISPOSABLE_QUBE: 'info' };

test('every finding message is a full sentence that says what to change; severities match PLAN_CODES', () => {
  for (const c of cases) {
    for (const f of plan(c.system, c.job).findings) {
      const info = (PLAN_CODES as Record<string, { severity: string }>)[f.code];
      assert.ok(info, `${f.code} is not in PLAN_CODES`);
      assert.ok(f.severity === info.severity || f.severity === DUAL[f.code], `${f.code} is ${f.severity}`);
      assert.match(f.message, /^[A-Za-z0-9].*[.?)]$/s, `${f.code}: ${f.message}`);
      assert.ok(f.message.length > 40, `${f.code}: ${f.message}`);
    }
  }
});
