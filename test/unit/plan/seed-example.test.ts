// The seed's example job (backup1.yaml) on a plausible Qubes 4.2 desktop: the findings a careful user
// would expect — nothing alarming, omissions listed, disposables noted — and the seed's target list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codes, lines, only, plan } from './helpers.ts';

const SYSTEM = `
  pool zfs-main zfs mainpool/qubes
  pool linux-kernel linux-kernel
  ds mainpool/ROOT/qubes_dom0 @old
  ds mainpool/dom0 @old
  qube fedora-41-xfce TemplateVM
  qube fedora-41-minimal TemplateVM
  qube debian-12-xfce TemplateVM
  qube default-dvm AppVM template=fedora-41-xfce
  qube default-mgmt-dvm AppVM template=fedora-41-minimal
  qube sys-net AppVM template=fedora-41-xfce state=Running
  qube sys-firewall DispVM template=default-dvm state=Running
  qube sys-usb DispVM template=default-dvm state=Running
  qube social AppVM template=fedora-41-xfce
  qube personal-email AppVM template=fedora-41-xfce
  qube financial-accts AppVM template=debian-12-xfce
  qube vault AppVM template=debian-12-xfce
  qube work AppVM template=fedora-41-xfce state=Running
  qube work-email AppVM template=fedora-41-xfce
  qube video-editing StandaloneVM
  qube untrusted AppVM template=fedora-41-xfce
  qube backups-disp DispVM template=default-dvm state=Running
`;

const JOB = {
  target: '@backup-2025-04-14',
  include: {
    'core-qubes': 'qubes: social personal-email financial-accts vault work work-email',
    misc: 'qubes: video-editing',
    dom0: 'datasets: mainpool/dom0',
  },
  forgo: { system: 'qubes: fedora-41-xfce fedora-41-minimal debian-12-xfce default-dvm default-mgmt-dvm sys-firewall sys-net sys-usb' },
  void: {},
  receiver: 'backups-disp',
};

test("the seed's example job: omissions listed, disposables noted, the running qube named", () => {
  const r = plan(SYSTEM, JOB);
  assert.deepEqual(codes(r.findings), [
    'DATASET_UNDESIGNATED/info',
    'DISPOSABLE_QUBE/info',
    'DISPOSABLE_QUBE/info',
    'QUBE_IN_USE/warning',
    'QUBE_UNDESIGNATED/warning',
    'TARGET_SNAPSHOT_PENDING/info',
  ]);
  assert.deepEqual(only(r.findings, 'QUBE_UNDESIGNATED').details?.['qubes'], ['untrusted']);
  assert.deepEqual(only(r.findings, 'DATASET_UNDESIGNATED').details?.['datasets'], ['mainpool/ROOT']);
  assert.equal(only(r.findings, 'QUBE_IN_USE').subject, 'work');
});

test("the seed's example: work becomes mainpool/qubes/work with its private (root and volatile are transient)", () => {
  const r = plan(SYSTEM, JOB);
  const work = lines(r.tgt.targets).filter((l) => l.includes('/work@') || l.includes('/work/'));
  assert.deepEqual(work, [
    'target mainpool/qubes/work@backup-2025-04-14 full pending',
    'target mainpool/qubes/work/private@backup-2025-04-14 full pending',
  ]);
  const standalone = lines(r.tgt.targets).filter((l) => l.includes('video-editing'));
  assert.equal(standalone.length, 3, 'a standalone qube: its dataset, root and private');
  assert.equal(r.tgt.targets.length, 2 * 6 + 3 + 1);
});
