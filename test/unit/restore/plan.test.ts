// The restore catalogue and planner (pure): what a receiver inventory holds for a restore, and the
// plan for requested qubes against dom0's qubes: never overwrite, settings verdicts, templates and
// netvms, dependency order, the Admin API calls in their real formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogue, pickBackup, type HeldBackup } from '../../../dom0/restore/catalog.ts';
import { planRestore, RESTORE_TAG, type LiveQube, type RestoreInput, type RestorePlanOptions } from '../../../dom0/restore/plan.ts';
import type { ReceiverDataset, ReceiverInventory } from '../../../dom0/receiver-link/types.ts';
import { settingsDocumentSchema, type SettingsDocument } from '../../../dom0/settings/schema.ts';

const ROOT = 'backuppool/qzb';
let txg = 100n;
function ds(name: string, type: 'filesystem' | 'volume', labels: string[], extra: Partial<ReceiverDataset> = {}): ReceiverDataset {
  return {
    name, type, guid: ++txg * 11n, createtxg: txg, origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n,
    snapshots: labels.map((l) => ({ name: `${name}@${l}`, label: l, guid: ++txg * 13n, createtxg: txg })), bookmarks: [], ...extra,
  };
}
function inventory(list: ReceiverDataset[]): ReceiverInventory {
  return { root: ROOT, datasets: new Map([ds(ROOT, 'filesystem', []), ...list].map((d) => [d.name, d])) };
}

function doc(qube: string, over: Partial<SettingsDocument> = {}): SettingsDocument {
  return settingsDocumentSchema.parse({
    format: 'qubes-zfs-backup/qube-settings', version: 1, qube, snapshotLabel: '@b1', capturedAt: '2026-12-02T05:00:00.000Z',
    api: { devices: '4.2', notes: false }, class: 'AppVM', label: 'blue', template: 'fedora-41',
    properties: {
      memory: { type: 'int', default: false, value: '800' },
      netvm: { type: 'vm', default: false, value: 'sys-firewall' },
      maxmem: { type: 'int', default: true, value: '4000' },
      qid: { type: 'int', default: false, value: '7' },
      autostart: { type: 'bool', default: false, value: 'True' },
    },
    features: { 'service.cups': '1' }, tags: ['audited', 'created-by-dom0'], firewall: ['action=accept specialtarget=dns'], devices: [],
    volumes: {
      private: { pool: 'zfs-main', vid: `mainpool/qubes/${qube}/private`, size: '67108864', rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: 1, ephemeral: false },
      root: { pool: 'zfs-main', vid: `mainpool/qubes/${qube}/root`, size: '67108864', rw: true, saveOnStop: false, snapOnStart: true, source: 'mainpool/qubes/fedora-41/root', revisionsToKeep: 1, ephemeral: false },
    },
    notes: null, global: {}, ...over,
  });
}

const held = catalogue(inventory([
  ds(`${ROOT}/mainpool`, 'filesystem', [], { placeholder: true }),
  ds(`${ROOT}/mainpool/qubes`, 'filesystem', [], { placeholder: true }),
  ds(`${ROOT}/mainpool/qubes/work`, 'filesystem', ['b1', 'b2']),
  ds(`${ROOT}/mainpool/qubes/work/private`, 'volume', ['b1', 'b2']),
  ds(`${ROOT}/mainpool/qubes/fedora-41`, 'filesystem', ['b1']),
  ds(`${ROOT}/mainpool/qubes/fedora-41/root`, 'volume', ['b1']),
  ds(`${ROOT}/mainpool/qubes/fedora-41/private`, 'volume', ['b1']),
  ds(`${ROOT}/mainpool/qubes/half`, 'filesystem', ['b1']),
  ds(`${ROOT}/mainpool/qubes/half/private`, 'volume', ['b1'], { inconsistent: true }),
  ds(`${ROOT}/.qzb-export-12-0badc0de`, 'volume', []),
  ds(`${ROOT}/mainpool/data`, 'filesystem', ['b1']),
]));

test('catalogue: qube root filesystems with volume children per label; partial receives, export clones and plain filesystems are not backups', () => {
  assert.deepEqual(held.map((h) => `${h.qube}${h.label}:${h.volumes.map((v) => v.name).join('+')}`), ['fedora-41@b1:private+root', 'work@b1:private', 'work@b2:private']);
  const w = pickBackup(held, 'work', null)!;
  assert.equal(w.label, '@b2');
  assert.equal(w.rootSnapshot, `${ROOT}/mainpool/qubes/work@b2`);
  assert.equal(w.volumes[0]!.sourceVid, 'mainpool/qubes/work/private');
  assert.equal(pickBackup(held, 'work', '@b1')!.label, '@b1');
  assert.equal(pickBackup(held, 'work', '@nope'), null);
});

const opts: RestorePlanOptions = { as: null, template: null, netvm: null, devices: false, deviceApi: null, acceptSettings: false };
const liveBase: LiveQube[] = [
  { name: 'dom0', klass: 'AdminVM', tags: [] }, { name: 'fedora-41', klass: 'TemplateVM', tags: [] }, { name: 'sys-firewall', klass: 'AppVM', tags: [] },
];
const input = (h: HeldBackup, d: SettingsDocument | null, verdict: RestoreInput['verdict'] = 'ok'): RestoreInput => ({ held: h, doc: d, verdict, sha256: 'a'.repeat(64), recorded: new Map() });
const b1 = (q: string): HeldBackup => pickBackup(held, q, '@b1')!;
const codes = (p: { findings: { code: string }[] }): string[] => p.findings.map((f) => f.code);

test('plan: a new qube is created with CreateInPool in the recorded pool, tagged, autostart off until released; default and identity properties are not set', () => {
  const p = planRestore([input(b1('work'), doc('work'))], liveBase, ['zfs-main'], opts);
  assert.deepEqual(codes(p).filter((c) => c !== 'RESTORE_CONTENT_UNVERIFIED'), []);
  const q = p.qubes[0]!;
  assert.equal(q.action, 'create');
  assert.deepEqual(q.create, { method: 'admin.vm.CreateInPool.AppVM', arg: 'fedora-41', payload: 'name=work label=blue pool:private=zfs-main', what: 'create AppVM work from fedora-41' });
  assert.deepEqual(q.configure.map((s) => `${s.method}+${s.arg}=${s.payload}`), [
    'admin.vm.property.Set+autostart=False', 'admin.vm.property.Set+memory=800', 'admin.vm.property.Set+netvm=sys-firewall',
    'admin.vm.feature.Set+service.cups=1', 'admin.vm.tag.Set+audited=null', 'admin.vm.firewall.Set+=action=accept specialtarget=dns\n',
  ]);
  assert.equal(q.autostart, 'True');
  const noAuto = doc('work', { properties: { memory: { type: 'int', default: false, value: '800' } } });
  assert.equal(planRestore([input(b1('work'), noAuto)], liveBase, [], opts).qubes[0]!.autostart, null, 'a default autostart is reset at release, not left False');
  assert.deepEqual(q.volumes.map((v) => `${v.name} ${v.size} ${v.snapshot}`), [`private 67108864 ${ROOT}/mainpool/qubes/work/private@b1`]);
  assert.ok(codes(p).includes('RESTORE_CONTENT_UNVERIFIED'), 'without a content hash the plan says so');
});

test('plan: never overwrites; continues only its own tagged restore; --as restores beside', () => {
  const exists = planRestore([input(b1('work'), doc('work'))], [...liveBase, { name: 'work', klass: 'AppVM', tags: [] }], [], opts);
  assert.deepEqual(codes(exists), ['RESTORE_QUBE_EXISTS']);
  assert.equal(exists.qubes[0]!.action, 'refused');
  const mine = planRestore([input(b1('work'), doc('work'))], [...liveBase, { name: 'work', klass: 'AppVM', tags: [RESTORE_TAG] }], [], opts);
  assert.equal(mine.qubes[0]!.action, 'continue');
  assert.equal(mine.qubes[0]!.create, null);
  const other = planRestore([input(b1('work'), doc('work'))], [...liveBase, { name: 'work', klass: 'TemplateVM', tags: [RESTORE_TAG] }], [], opts);
  assert.deepEqual(codes(other), ['RESTORE_QUBE_EXISTS']);
  const as = planRestore([input(b1('work'), doc('work'))], [...liveBase, { name: 'work', klass: 'AppVM', tags: [] }], [], { ...opts, as: 'work2' });
  assert.equal(as.qubes[0]!.name, 'work2');
  assert.equal(as.qubes[0]!.create!.payload, 'name=work2 label=blue');
  assert.equal(as.qubes[0]!.create!.method, 'admin.vm.Create.AppVM', 'no pool named: the default pool');
  assert.deepEqual(codes(planRestore([input(b1('work'), doc('work')), input(b1('fedora-41'), doc('fedora-41'))], liveBase, [], { ...opts, as: 'x' })), ['RESTORE_AS_NEEDS_ONE']);
});

test('plan: settings verdicts: altered refused unless accepted (and never when unparseable), missing/invalid refused, unrecorded warned', () => {
  assert.deepEqual(codes(planRestore([input(b1('work'), doc('work'), 'altered')], liveBase, [], opts)), ['RESTORE_SETTINGS_ALTERED']);
  assert.ok(codes(planRestore([input(b1('work'), doc('work'), 'altered')], liveBase, [], { ...opts, acceptSettings: true })).includes('RESTORE_SETTINGS_ACCEPTED'));
  assert.deepEqual(codes(planRestore([input(b1('work'), null, 'altered')], liveBase, [], { ...opts, acceptSettings: true })), ['RESTORE_SETTINGS_ALTERED']);
  assert.deepEqual(codes(planRestore([input(b1('work'), null, 'missing')], liveBase, [], opts)), ['RESTORE_SETTINGS_UNUSABLE']);
  assert.deepEqual(codes(planRestore([input(b1('work'), null, 'invalid')], liveBase, [], opts)), ['RESTORE_SETTINGS_UNUSABLE']);
  assert.ok(codes(planRestore([input(b1('work'), doc('work'), 'unrecorded')], liveBase, [], opts)).includes('RESTORE_SETTINGS_UNRECORDED'));
});

test('plan: a missing template or netvm is an error with the choice of another; --netvm none; other vm properties fall back with a warning', () => {
  const live = liveBase.filter((q) => q.name !== 'fedora-41' && q.name !== 'sys-firewall').concat([{ name: 'debian-12', klass: 'TemplateVM', tags: [] }]);
  assert.deepEqual(codes(planRestore([input(b1('work'), doc('work'))], live, [], opts)), ['RESTORE_TEMPLATE_MISSING']);
  const t = planRestore([input(b1('work'), doc('work'))], live, [], { ...opts, template: 'debian-12' });
  assert.deepEqual(codes(t).filter((c) => c !== 'RESTORE_CONTENT_UNVERIFIED'), ['RESTORE_NETVM_MISSING']);
  const n = planRestore([input(b1('work'), doc('work'))], live, [], { ...opts, template: 'debian-12', netvm: '' });
  assert.equal(n.qubes[0]!.template, 'debian-12');
  assert.ok(n.qubes[0]!.configure.some((s) => s.arg === 'netvm' && s.payload === ''));
  const dv = doc('work', { properties: { default_dispvm: { type: 'vm', default: false, value: 'gone-dvm' } } });
  assert.ok(codes(planRestore([input(b1('work'), dv)], liveBase, [], opts)).includes('RESTORE_PROPERTY_SKIPPED'));
});

test('plan: a template restored too comes first; a missing volume or a GUID other than recorded refuses the qube', () => {
  const tdoc = doc('fedora-41', {
    class: 'TemplateVM', template: null, label: 'black', properties: {},
    volumes: {
      root: { pool: 'zfs-main', vid: 'mainpool/qubes/fedora-41/root', size: '1048576', rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: 1, ephemeral: false },
      private: { pool: 'zfs-main', vid: 'mainpool/qubes/fedora-41/private', size: '1048576', rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: 1, ephemeral: false },
    },
  });
  const live = liveBase.filter((q) => q.name !== 'fedora-41');
  const p = planRestore([input(b1('work'), doc('work')), input(b1('fedora-41'), tdoc)], live, ['zfs-main'], opts);
  assert.deepEqual(p.qubes.map((q) => q.name), ['fedora-41', 'work']);
  assert.equal(p.qubes[0]!.create!.method, 'admin.vm.CreateInPool.TemplateVM');
  assert.equal(p.qubes[0]!.create!.arg, '');
  assert.equal(p.qubes[0]!.create!.payload, 'name=fedora-41 label=black pool:private=zfs-main pool:root=zfs-main');
  const other = { ...input(b1('work'), doc('work', { volumes: { private: { ...doc('work').volumes.private!, vid: 'elsewhere/work/private' } } })) };
  assert.deepEqual(codes(planRestore([other], liveBase, [], opts)), ['RESTORE_VOLUME_MISSING']);
  const g = input(b1('work'), doc('work'));
  g.recorded.set('private', { guid: 1n, contentHash: { sha256: 'b'.repeat(64), bytes: 67108864n } });
  assert.deepEqual(codes(planRestore([g], liveBase, [], opts)), ['RESTORE_GUID_MISMATCH']);
  g.recorded.set('private', { guid: b1('work').volumes[0]!.guid, contentHash: { sha256: 'b'.repeat(64), bytes: 67108864n } });
  const ok = planRestore([g], liveBase, [], opts);
  assert.deepEqual(codes(ok), []);
  assert.equal(ok.qubes[0]!.volumes[0]!.contentHash!.sha256, 'b'.repeat(64));
});

test('plan: devices are applied only with --devices (reported otherwise), after the firewall, each marked best-effort', () => {
  const d = doc('work', { devices: [
    { class: 'pci', backend: 'dom0', port: '00_14.0', deviceId: null, mode: null, persistent: true, options: { 'no-strict-reset': 'True' } },
    { class: 'block', backend: 'sys-usb', port: 'sda', deviceId: null, mode: null, persistent: false, options: {} },
  ] });
  const off = planRestore([input(b1('work'), d)], liveBase, [], opts);
  assert.ok(codes(off).includes('RESTORE_DEVICES_SKIPPED'));
  assert.match(off.findings.find((f) => f.code === 'RESTORE_DEVICES_SKIPPED')!.message, /1 device assignment\(s\) \(pci dom0:00_14.0\)/);
  assert.ok(off.qubes[0]!.configure.every((s) => !s.device));
  // On R4.2: persistent Attach; the session-only attachment (persistent=no) is not an assignment.
  const on = planRestore([input(b1('work'), d)], liveBase, [], { ...opts, devices: true, deviceApi: '4.2' });
  assert.deepEqual(codes(on).filter((c) => c !== 'RESTORE_CONTENT_UNVERIFIED'), []);
  const steps = on.qubes[0]!.configure;
  const dev = steps.filter((s) => s.device);
  assert.deepEqual(dev.map(({ method, arg, payload }) => ({ method, arg, payload })), [
    { method: 'admin.vm.device.pci.Attach', arg: 'dom0+00_14.0', payload: 'no-strict-reset=True persistent=True' },
  ]);
  assert.equal(dev[0]!.device!.alreadyDone, 'DeviceAlreadyAttached');
  assert.equal(steps.indexOf(dev[0]!), steps.length - 1);
  // qubesd answers neither flavour: said, not attempted.
  const none = planRestore([input(b1('work'), d)], liveBase, [], { ...opts, devices: true, deviceApi: null });
  assert.ok(codes(none).includes('RESTORE_DEVICE_NOT_APPLIED'));
  assert.ok(none.qubes[0]!.configure.every((s) => !s.device));
});

test('plan --devices on R4.3: Assign in the client\'s byte format; R4.2 assignments converted (mode required, USB identity as device id); --as is the frontend', () => {
  const d = doc('work', { devices: [
    { class: 'block', backend: 'sys-usb', port: 'sda', deviceId: null, mode: null, persistent: true, options: { 'read-only': 'yes' } },
    { class: 'usb', backend: 'sys-usb', port: '2-1', deviceId: null, mode: null, persistent: true, options: { identity: '1234:5678:ab12:u012345' } },
  ] });
  const live = [...liveBase, { name: 'sys-usb', klass: 'AppVM', tags: [] }];
  const p = planRestore([input(b1('work'), d)], live, [], { ...opts, as: 'work2', devices: true, deviceApi: '4.3' });
  assert.deepEqual(codes(p).filter((c) => c !== 'RESTORE_CONTENT_UNVERIFIED'), ['RESTORE_DEVICE_CONVERTED']);
  assert.deepEqual(p.qubes[0]!.configure.filter((s) => s.device).map(({ method, arg, payload }) => ({ method, arg, payload })), [
    { method: 'admin.vm.device.block.Assign', arg: 'sys-usb+sda+_', payload: "device_id='*' port_id='sda' devclass='block' backend_domain='sys-usb' mode='required' frontend_domain='work2' _read-only='yes'" },
    { method: 'admin.vm.device.usb.Assign', arg: 'sys-usb+2-1+1234+5678+ab12+u012345', payload: "device_id='1234:5678:ab12:u012345' port_id='2-1' devclass='usb' backend_domain='sys-usb' mode='required' frontend_domain='work2'" },
  ]);
  // A 4.3 capture: its mode kept; a quote in a value escaped; a device id with a space only in the payload.
  const d43 = doc('work', { api: { devices: '4.3', notes: true }, devices: [
    { class: 'usb', backend: 'sys-usb', port: '3-2', deviceId: '0781:5583:My Disk', mode: 'ask-to-attach', persistent: null, options: {} },
    { class: 'block', backend: 'sys-usb', port: 'sdb', deviceId: '*', mode: 'auto-attach', persistent: null, options: { label: "it's" } },
  ] });
  const q = planRestore([input(b1('work'), d43)], live, [], { ...opts, devices: true, deviceApi: '4.3' });
  assert.deepEqual(codes(q).filter((c) => c !== 'RESTORE_CONTENT_UNVERIFIED'), []);
  assert.deepEqual(q.qubes[0]!.configure.filter((s) => s.device).map(({ arg, payload }) => ({ arg, payload })), [
    { arg: 'sys-usb+3-2+_', payload: "device_id='0781:5583:My Disk' port_id='3-2' devclass='usb' backend_domain='sys-usb' mode='ask-to-attach' frontend_domain='work'" },
    { arg: 'sys-usb+sdb+_', payload: "device_id='*' port_id='sdb' devclass='block' backend_domain='sys-usb' mode='auto-attach' frontend_domain='work' _label='it\\'s'" },
  ]);
});

test('plan --devices: what cannot be applied is a warning and the qube is still restored; a restored backend comes first', () => {
  const d = doc('work', { api: { devices: '4.3', notes: true }, devices: [
    { class: 'usb', backend: 'sys-usb', port: '3-2', deviceId: '*', mode: 'ask-to-attach', persistent: null, options: {} },
    { class: 'block', backend: 'sys-usb', port: 'sdb', deviceId: '*', mode: 'required', persistent: null, options: { 'read-only': 'no way' } },
    { class: 'usb', backend: 'sys-usb', port: '3-3', deviceId: '*', mode: 'required', persistent: null, options: { x: '1' } },
    { class: 'pci', backend: 'sys-gone', port: '00_1f.3', deviceId: '*', mode: 'required', persistent: null, options: {} },
  ] });
  const live = [...liveBase, { name: 'sys-usb', klass: 'AppVM', tags: [] }];
  // R4.2 cannot take ask-to-attach, nor an option value with a space; a missing backend on any release.
  const p42 = planRestore([input(b1('work'), d)], live, [], { ...opts, devices: true, deviceApi: '4.2' });
  const warned = p42.findings.filter((f) => f.code === 'RESTORE_DEVICE_NOT_APPLIED').map((f) => f.message);
  assert.equal(warned.length, 3);
  assert.match(warned[0]!, /usb sys-usb:3-2 assignment is not applied: R4.2 has no ask-to-attach/);
  assert.match(warned[1]!, /cannot carry the option "read-only"="no way"/);
  assert.match(warned[2]!, /backend qube sys-gone does not exist here and is not restored too/);
  assert.equal(p42.qubes[0]!.action, 'create');
  assert.deepEqual(p42.qubes[0]!.configure.filter((s) => s.device).map((s) => s.arg), ['sys-usb+3-3']);
  // R4.3 refuses options on USB assignments (after holding them in memory): never sent.
  const p43 = planRestore([input(b1('work'), d)], live, [], { ...opts, devices: true, deviceApi: '4.3' });
  assert.match(p43.findings.filter((f) => f.code === 'RESTORE_DEVICE_NOT_APPLIED').map((f) => f.message).join('\n'), /R4.3 refuses options on USB assignments \(x\)/);
  assert.deepEqual(p43.qubes[0]!.configure.filter((s) => s.device).map((s) => s.arg), ['sys-usb+3-2+_', 'sys-usb+sdb+_']);
  // The backend restored in the same run is restored first.
  const usbDoc = doc('sys-usb', { template: 'fedora-41' });
  const heldUsb = { ...b1('work'), qube: 'sys-usb', volumes: b1('work').volumes.map((v) => ({ ...v, sourceVid: 'mainpool/qubes/sys-usb/private' })) };
  const both = planRestore([input(b1('work'), d), input(heldUsb, usbDoc)], liveBase, [], { ...opts, devices: true, deviceApi: '4.3' });
  assert.deepEqual(both.qubes.map((q) => q.name), ['sys-usb', 'work']);
});

test('plan: notes are set on R4.3 (admin.vm.notes.Set, payload as captured), and a warning where dom0 has no notes calls or they are over qubesd\'s limit', () => {
  const withNotes = doc('work', { notes: 'Bank: ask Ana.\nPIN elsewhere.' });
  const r43 = planRestore([input(b1('work'), withNotes)], liveBase, [], { ...opts, notesApi: true });
  const step = r43.qubes[0]!.configure.find((s) => s.method === 'admin.vm.notes.Set');
  assert.deepEqual([step?.arg, step?.payload], ['', 'Bank: ask Ana.\nPIN elsewhere.']);
  assert.ok(!codes(r43).includes('RESTORE_NOTES_NOT_APPLIED'));
  const r42 = planRestore([input(b1('work'), withNotes)], liveBase, [], { ...opts, notesApi: false });
  assert.ok(!r42.qubes[0]!.configure.some((s) => s.method === 'admin.vm.notes.Set'));
  assert.ok(codes(r42).includes('RESTORE_NOTES_NOT_APPLIED'));
  assert.equal(r42.qubes[0]!.action, 'create', 'the qube is still restored');
  const big = planRestore([input(b1('work'), doc('work', { notes: 'é'.repeat(128_001) }))], liveBase, [], { ...opts, notesApi: true });
  assert.ok(codes(big).includes('RESTORE_NOTES_NOT_APPLIED'), '256002 UTF-8 bytes are over the limit');
  const none = planRestore([input(b1('work'), doc('work', { notes: '' }))], liveBase, [], { ...opts, notesApi: true });
  assert.ok(!none.qubes[0]!.configure.some((s) => s.method === 'admin.vm.notes.Set') && !codes(none).includes('RESTORE_NOTES_NOT_APPLIED'));
});
