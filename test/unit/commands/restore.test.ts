// `restore` end to end over fakes: a scripted receiver link (inventory, settings, export), the
// harness's fake qubesd answers (the real wire formats) over an in-memory model, and an importer
// that keeps the bytes (restore-fixture.ts). Real ZFS and the real import path are covered by test/scenarios/restore-*.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restore, type RestoreAdapters } from '../../../dom0/commands/restore.ts';
import { parseDeviceAssigned43 } from '../../../dom0/settings/parse.ts';
import { answer, QubesdError } from '../../../test/harness/qubesd.ts';
import { DATA, ROOT, SHA, SIZE, options, setup, tagsOf } from './restore-fixture.ts';

test('restore: created, tagged first, configured, imported with the recorded size (holes as zeros), verified by content hash, released', async () => {
  const { ctx, m, calls, imported } = await setup({ contentHash: SHA });
  const r = await restore(options(), ctx);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(r.qubes.map((q) => [q.name, q.result, q.settings]), [['work', 'restored', 'ok']]);
  assert.equal(r.qubes[0]!.volumes[0]!.verified, true);
  assert.equal(r.qubes[0]!.volumes[0]!.sha256, SHA);
  assert.ok(imported.get('work:private')!.equals(DATA), 'the import got every byte, holes as zeros');
  const i = (s: string): number => calls.findIndex((c) => c.startsWith(s));
  assert.equal(calls[i('admin.vm.CreateInPool')], 'admin.vm.CreateInPool.AppVM+fedora-41 dom0 <name=work label=blue pool:private=zfs-main>');
  assert.ok(i('admin.vm.tag.Set+restore-in-progress') < i('admin.vm.property.Set+memory'), 'tagged before anything else is set');
  assert.ok(calls.includes('admin.vm.property.Set+autostart work <False>'));
  assert.ok(i('admin.vm.tag.Remove+restore-in-progress') > i('admin.vm.volume.Info+private'), 'released after the check');
  assert.ok(calls.lastIndexOf('admin.vm.property.Set+autostart work <True>') > i('admin.vm.volume.Info'), 'the recorded autostart only at release');
  const w = m.list.find((q) => q.name === 'work')!;
  assert.deepEqual([w.settings!.prefs['memory'], w.settings!.features['service.cups'], w.settings!.firewall, tagsOf(m, 'work')], ['800', '1', ['action=drop'], ['audited']]);
  // Again: it exists now, and is not ours to continue.
  const again = await restore(options(), ctx);
  assert.deepEqual(again.findings.map((f) => f.code), ['RESTORE_QUBE_EXISTS']);
});

test('restore: bytes other than the recorded content hash fail closed: the qube stays tagged, autostart off', async () => {
  const bad = Buffer.from(DATA);
  bad[5] = 1;
  const { ctx, m } = await setup({ contentHash: SHA, exportBytes: bad });
  const r = await restore(options(), ctx);
  assert.equal(r.ok, false);
  assert.equal(r.qubes[0]!.result, 'failed');
  assert.equal(r.qubes[0]!.volumes[0]!.verified, false);
  assert.ok(r.findings.some((f) => f.code === 'RESTORE_CONTENT_MISMATCH'));
  assert.ok(tagsOf(m, 'work').includes('restore-in-progress'));
  assert.equal(m.list.find((q) => q.name === 'work')!.settings!.prefs['autostart'], 'False');
  // The same command continues our own restore (and fails closed again on the same bytes).
  const again = await restore(options(), ctx);
  assert.equal(again.qubes[0]!.action, 'continue');
  assert.equal(again.qubes[0]!.result, 'failed');
});

test('restore: a tampered settings copy is refused before anything is created; --dry-run and --list change nothing', async () => {
  const { ctx, m, calls, exported } = await setup({ tamper: true });
  const r = await restore(options(), ctx);
  assert.deepEqual(r.findings.map((f) => f.code), ['RESTORE_SETTINGS_ALTERED']);
  assert.ok(!calls.some((c) => /Create|Set|Remove/.test(c)) && exported.length === 0 && !m.list.some((q) => q.name === 'work'));
  const list = await restore(options({ list: true, qubes: [] }), ctx);
  assert.deepEqual(list.backups.map((b) => [b.qube, b.label, b.settings, b.volumes[0]!.size]), [['work', '@l', 'altered', String(SIZE)]]);
  const { ctx: c2, calls: calls2 } = await setup();
  const dry = await restore(options({ dryRun: true }), c2);
  assert.equal(dry.ok, true);
  assert.equal(dry.qubes[0]!.result, 'planned');
  assert.ok(dry.findings.some((f) => f.code === 'RESTORE_CONTENT_UNVERIFIED'));
  assert.ok(!calls2.some((c) => /Create|Set|Remove/.test(c)));
});

test('restore without metadata: --receiver/--dataset, settings unrecorded (warned), --as', async () => {
  const { ctx, m } = await setup();
  const r = await restore(options({ name: null, receiver: 'backups', dataset: ROOT, as: 'work-copy' }), ctx);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(r.qubes.map((q) => [q.name, q.source, q.result, q.settings]), [['work-copy', 'work', 'restored', 'unrecorded']]);
  assert.ok(r.findings.some((f) => f.code === 'RESTORE_SETTINGS_UNRECORDED'));
  assert.deepEqual(tagsOf(m, 'work-copy'), ['audited']);
});

const DEVICES = [
  { class: 'pci', backend: 'dom0', port: '00_14.0', deviceId: null, mode: null, persistent: true, options: { 'no-strict-reset': 'True' } },
  { class: 'block', backend: 'sys-usb', port: 'sda', deviceId: null, mode: null, persistent: true, options: { 'read-only': 'yes' } },
  { class: 'block', backend: 'sys-gone', port: 'sdc', deviceId: null, mode: null, persistent: true, options: {} },
];

test('restore --devices on R4.2: persistent Attach while the qube is halted and tagged; a missing backend is a warning; a re-run finds them present', async () => {
  const bad = Buffer.from(DATA);
  bad[5] = 1;
  const { ctx, m, calls } = await setup({ contentHash: SHA, exportBytes: bad, devices: DEVICES });
  const r = await restore(options({ devices: true }), ctx);
  assert.equal(r.qubes[0]!.result, 'failed');
  assert.deepEqual(r.qubes[0]!.devices, [{ what: 'device pci dom0:00_14.0 (persistent)', result: 'assigned' }, { what: 'device block sys-usb:sda (persistent)', result: 'assigned' }]);
  assert.match(r.findings.find((f) => f.code === 'RESTORE_DEVICE_NOT_APPLIED')!.message, /backend qube sys-gone does not exist/);
  assert.ok(calls.includes('admin.vm.device.pci.Attach+dom0+00_14.0 work <no-strict-reset=True persistent=True>'));
  assert.ok(calls.indexOf('admin.vm.device.pci.Attach+dom0+00_14.0 work <no-strict-reset=True persistent=True>') > calls.findIndex((c) => c.startsWith('admin.vm.tag.Set+restore-in-progress')));
  const devs = (): string[] => m.list.find((q) => q.name === 'work')!.settings!.devices.map((d) => `${d.devclass} ${d.backend}:${d.port} ${JSON.stringify(d.options)}`);
  assert.deepEqual(devs(), ['pci dom0:00_14.0 {"no-strict-reset":"True"}', 'block sys-usb:sda {"read-only":"yes"}']);
  // The same command continues it: qubesd answers DeviceAlreadyAttached, which is done, not a failure.
  const again = await restore(options({ devices: true }), ctx);
  assert.equal(again.qubes[0]!.action, 'continue');
  assert.deepEqual(again.qubes[0]!.devices.map((d) => d.result), ['present', 'present']);
  assert.deepEqual(again.findings.filter((f) => f.code === 'RESTORE_DEVICE_NOT_APPLIED').length, 1);
  assert.deepEqual(devs().length, 2);
});

test('restore --devices on R4.3: Assign, read back through .Assigned as capture reads it; a refusal is a warning and the qube is still restored', async () => {
  const { ctx, m } = await setup({ contentHash: SHA, release: '4.3', devices: [...DEVICES.slice(0, 2), { class: 'usb', backend: 'sys-usb', port: '2-1', deviceId: null, mode: null, persistent: true, options: { identity: '1234:5678:ab:u0' } }] });
  // qubesd refuses the PCI one (as ext/pci.py does for a device that is not there).
  const assign = m.assignDevice!;
  m.assignDevice = (qube, d) => {
    if (d.devclass === 'pci') throw new QubesdError('QubesException', 'Invalid PCI device: 00_14.0');
    assign(qube, d);
  };
  const r = await restore(options({ devices: true }), ctx);
  assert.equal(r.qubes[0]!.result, 'restored', JSON.stringify(r.findings));
  assert.equal(r.ok, true, 'a device qubesd refuses is a warning: the qube and its data are restored');
  assert.deepEqual(r.qubes[0]!.devices.map((d) => d.result), ['failed', 'assigned', 'assigned']);
  assert.match(r.findings.find((f) => f.code === 'RESTORE_DEVICE_NOT_APPLIED')!.message, /qubesd refused the device pci dom0:00_14.0 \(required\) assignment \(QubesException: Invalid PCI device: 00_14.0\); work is restored without it: assign it by hand, e\.g\. qvm-device pci assign --required work dom0:00_14.0/);
  assert.ok(r.findings.some((f) => f.code === 'RESTORE_DEVICE_CONVERTED'));
  const w = m.list.find((q) => q.name === 'work')!;
  const back = [...parseDeviceAssigned43(await answer(m, 'admin.vm.device.block.Assigned', '', 'work'), 'block', 't'), ...parseDeviceAssigned43(await answer(m, 'admin.vm.device.usb.Assigned', '', 'work'), 'usb', 't')];
  assert.deepEqual(back.map((d) => [d.class, d.backend, d.port, d.deviceId, d.mode, d.options]), [
    ['block', 'sys-usb', 'sda', '*', 'required', { 'read-only': 'yes' }],
    ['usb', 'sys-usb', '2-1', '1234:5678:ab:u0', 'required', {}],
  ]);
  assert.ok(!w.settings!.tags.includes('restore-in-progress'));
});

test('restore --zfs-receive: the warning, each volume handed to zfs receive with its vid, recorded GUID and size (no import); a pool without the zfs driver is refused first', async () => {
  const { ctx, m, imported } = await setup({ contentHash: SHA });
  const received: Array<{ vid: string; snapshot: string; size: bigint; guid: bigint; hash: string | null }> = [];
  (ctx.restore as RestoreAdapters).receiveVolume = async (v) => {
    received.push({ vid: v.vid, snapshot: v.snapshot, size: v.size, guid: v.guid, hash: v.contentHash?.sha256 ?? null });
    m.list.find((x) => x.name === 'work')!.volumes[0]!.size = String(v.size);
    return { bytes: 4242n, resumed: false, already: false, sha256: SHA, left: null };
  };
  const dry = await restore(options({ zfsReceive: true, dryRun: true }), ctx);
  assert.ok(dry.findings.some((f) => f.code === 'RESTORE_ZFS_RECEIVE' && f.severity === 'warning' && /trust/.test(f.message)));
  assert.ok(dry.qubes[0]!.steps.some((s) => s.startsWith('zfs receive private')));
  assert.equal(received.length, 0, 'a dry run receives nothing');
  const r = await restore(options({ zfsReceive: true }), ctx);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.equal(received.length, 1);
  assert.equal(received[0]!.vid, 'tank/qubes/work/private');
  assert.equal(received[0]!.snapshot, `${ROOT}/tank/qubes/work/private@l`);
  assert.equal(received[0]!.size, BigInt(SIZE));
  assert.equal(received[0]!.hash, SHA, 'the recorded content hash goes along, to be checked in dom0');
  assert.equal(imported.size, 0, 'nothing went through the import path');
  assert.deepEqual([r.qubes[0]!.result, r.qubes[0]!.volumes[0]!.bytes, r.qubes[0]!.volumes[0]!.verified], ['restored', '4242', true]);
  assert.deepEqual(tagsOf(m, 'work'), ['audited']);
  // A pool whose driver is not zfs: refused before anything is created.
  const other = await setup();
  other.m.pools = () => [{ name: 'zfs-main', config: { driver: 'file', dir_path: '/var/lib/qubes' } }];
  (other.ctx.restore as RestoreAdapters).receiveVolume = async () => { throw new Error('must not be called'); };
  const refused = await restore(options({ zfsReceive: true }), other.ctx);
  assert.equal(refused.ok, false);
  assert.deepEqual(refused.findings.filter((f) => f.severity === 'error').map((f) => f.code), ['RESTORE_ZFS_RECEIVE_POOL']);
  assert.ok(!other.m.list.some((q) => q.name === 'work'), 'nothing was created');
  // A raw (encrypted) backup: its stream cannot be checked before the receive, so it is refused first too.
  const raw = await setup();
  (raw.ctx.restore as RestoreAdapters).receiveVolume = async () => { throw new Error('must not be called'); };
  const inv = await raw.ctx.send.connectReceiver('backups').client.inventory();
  Object.assign(inv.datasets.get(`${ROOT}/tank/qubes/work/private`)!, { encryption: 'aes-256-gcm' });
  const enc = await restore(options({ zfsReceive: true }), raw.ctx);
  assert.deepEqual(enc.findings.filter((f) => f.severity === 'error').map((f) => f.code), ['RESTORE_ZFS_RECEIVE_ENCRYPTED']);
  assert.ok(!raw.m.list.some((q) => q.name === 'work'), 'nothing was created');
});
