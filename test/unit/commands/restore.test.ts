// `restore` end to end over fakes: a scripted receiver link (inventory, settings, export), the
// harness's fake qubesd answers (the real wire formats) over an in-memory model, and an importer
// that keeps the bytes. Real ZFS and the real import path are covered by test/scenarios/restore-*.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { importJob } from '../../../dom0/commands/import.ts';
import { restore, type RestoreAdapters, type RestoreOptions } from '../../../dom0/commands/restore.ts';
import type { ReceiverConnection, SendAdapters } from '../../../dom0/commands/context.ts';
import { MetadataStore } from '../../../dom0/metadata/store.ts';
import type { ExportOptions } from '../../../dom0/receiver-link/client.ts';
import type { ReceiverDataset } from '../../../dom0/receiver-link/types.ts';
import { encodeSettings } from '../../../dom0/settings/store.ts';
import { settingsDocumentSchema, type SettingsDocument } from '../../../dom0/settings/schema.ts';
import { answer, QubesdAbort, QubesdError, type FakeQube, type QubesModel } from '../../../test/harness/qubesd.ts';
import { AdminApiError, AdminApiRefused } from '../../../dom0/qubes/client.ts';
import { parseDeviceAssigned43 } from '../../../dom0/settings/parse.ts';
import { emptySettings } from '../../../test/harness/qube-settings.ts';
import { QzbError } from '../../../shared/errors.ts';
import { fakeContext, type FakeSystem } from './helpers.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';

const ROOT = 'backup/x';
const SIZE = 3 * 65536 + 100;
const DATA = Buffer.alloc(SIZE);
DATA.fill(7, 0, 1000);
DATA.fill(9, SIZE - 50);
const SHA = createHash('sha256').update(DATA).digest('hex');

function doc(devices: unknown[] = []): SettingsDocument {
  return settingsDocumentSchema.parse({
    format: 'qubes-zfs-backup/qube-settings', version: 1, qube: 'work', snapshotLabel: '@l', capturedAt: '2026-12-02T05:00:00.000Z',
    api: { devices: '4.2', notes: false }, class: 'AppVM', label: 'blue', template: 'fedora-41',
    properties: { memory: { type: 'int', default: false, value: '800' }, autostart: { type: 'bool', default: false, value: 'True' } },
    features: { 'service.cups': '1' }, tags: ['audited'], firewall: ['action=drop'], devices,
    volumes: { private: { pool: 'zfs-main', vid: 'tank/qubes/work/private', size: String(SIZE), rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: 1, ephemeral: false } },
    notes: null, global: {},
  });
}

let n = 100n;
const ds = (name: string, type: 'filesystem' | 'volume', labels: string[]): ReceiverDataset => ({
  name, type, guid: ++n, createtxg: n, origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n,
  snapshots: labels.map((l) => ({ name: `${name}@${l}`, label: l, guid: ++n * 1000n, createtxg: n })), bookmarks: [],
});

/** An in-memory Qubes for the harness's answer(): creation and the settings writes. */
function model(release: '4.2' | '4.3' = '4.2'): QubesModel & { list: FakeQube[] } {
  const list: FakeQube[] = [
    { name: 'fedora-41', klass: 'TemplateVM', state: 'Halted', uuid: 'u1', volumes: [], settings: emptySettings() },
    { name: 'sys-usb', klass: 'AppVM', state: 'Running', uuid: 'u2', template: 'fedora-41', volumes: [], settings: emptySettings() },
  ];
  const q = (name: string): FakeQube => list.find((x) => x.name === name)!;
  return {
    release, list,
    qubes: () => list,
    pools: () => [{ name: 'zfs-main', config: { driver: 'zfs', container: 'tank/qubes' } }],
    async createNewQube(klass, name, label, template) {
      const settings = emptySettings();
      settings.prefs['label'] = label;
      list.push({
        name, klass, state: 'Halted', uuid: `u-${name}`, ...(template ? { template } : {}), settings,
        volumes: [{ name: 'private', pool: 'zfs-main', vid: `tank/qubes/${name}/private`, size: '2048', rw: true, source: '', path: '', saveOnStop: true, snapOnStart: false, revisionsToKeep: 1, ephemeral: false }],
      });
    },
    setProperty: (qube, k, v) => void (q(qube).settings!.prefs[k] = v),
    resetProperty: (qube, k) => void delete q(qube).settings!.prefs[k],
    setFeature: (qube, k, v) => void (q(qube).settings!.features[k] = v),
    setTag: (qube, t) => void (q(qube).settings!.tags = [...new Set([...q(qube).settings!.tags, t])]),
    removeTag: (qube, t) => void (q(qube).settings!.tags = q(qube).settings!.tags.filter((x) => x !== t)),
    setFirewall: (qube, rules) => void (q(qube).settings!.firewall = rules),
    assignDevice: (qube, d) => void q(qube).settings!.devices.push(d),
  };
}

async function setup(opts: { contentHash?: string; tamper?: boolean; exportBytes?: Buffer; devices?: unknown[]; release?: '4.2' | '4.3' } = {}) {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf(), created: [] };
  const ctx = fakeContext(sys);
  const m = model(opts.release);
  const calls: string[] = [];
  const imported = new Map<string, Buffer>();
  const exported: string[] = [];
  const d = encodeSettings(doc(opts.devices));
  const inventory = { root: ROOT, datasets: new Map([ds(ROOT, 'filesystem', []), ds(`${ROOT}/tank`, 'filesystem', []), ds(`${ROOT}/tank/qubes`, 'filesystem', []), ds(`${ROOT}/tank/qubes/work`, 'filesystem', ['l']), ds(`${ROOT}/tank/qubes/work/private`, 'volume', ['l'])].map((x) => [x.name, x])) };
  const volGuid = inventory.datasets.get(`${ROOT}/tank/qubes/work/private`)!.snapshots[0]!.guid;
  const link: ReceiverConnection = {
    client: {
      hello: async () => ({ protocol: 1, agent: 't', zfsVersion: [], receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' }, pool: { name: 'backup', exists: true, features: [] }, features: new Map() }),
      inventory: async () => inventory,
      readSettings: async () => {
        const bytes = opts.tamper ? Buffer.from(d.bytes.toString().replace('"800"', '"900"')) : d.bytes;
        return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), storedSha256: d.sha256 };
      },
      exportVolume: async (snapshot: string, o: ExportOptions) => {
        exported.push(snapshot);
        if (o.volsize !== BigInt(SIZE)) throw new QzbError('EXPORT_SIZE_MISMATCH', 'size');
        const bytes = opts.exportBytes ?? DATA;
        await o.write({ kind: 'data', bytes: bytes.subarray(0, 1000) });
        await o.write({ kind: 'hole', length: BigInt(SIZE - 1050) });
        await o.write({ kind: 'data', bytes: bytes.subarray(SIZE - 50) });
        return { snapshot, guid: volGuid, bytes: BigInt(SIZE), holeBytes: BigInt(SIZE - 1050), cloneLeft: null };
      },
      sendSnapshot: async () => { throw new Error('the zfs receive adapter is faked whole'); },
      failed: null,
      receive: async () => { throw new Error('no'); },
      abort: async () => ({ hadState: false }),
      storeSettings: async () => ({ alreadyStored: false }),
      close: async () => {},
    },
    stderrTail: () => [],
  };
  const adapters = { connectReceiver: () => link } as unknown as SendAdapters;
  const full = Object.assign(ctx, {
    send: adapters,
    restore: {
      startImport: (qube: string, volume: string, size: bigint) => {
        const stdin = new PassThrough();
        const chunks: Buffer[] = [];
        stdin.on('data', (c: Buffer) => chunks.push(c));
        const done = new Promise<void>((resolve) => stdin.on('end', () => {
          imported.set(`${qube}:${volume}`, Buffer.concat(chunks));
          m.list.find((x) => x.name === qube)!.volumes[0]!.size = String(size);
          resolve();
        }));
        return { stdin, done, kill: () => stdin.destroy() };
      },
    },
  });
  full.system.adminApi = async (method, dest, arg = '', payload) => {
    calls.push(`${method}+${arg} ${dest}${payload !== undefined ? ` <${payload}>` : ''}`);
    // As the real client reports them: an exception reply, or a connection closed without one.
    try {
      return await answer(m, method, arg, dest, Buffer.from(payload ?? ''));
    } catch (e) {
      if (e instanceof QubesdError) throw new AdminApiError(method, dest, e.excType, e.message);
      if (e instanceof QubesdAbort) throw new AdminApiRefused(method, dest);
      throw e;
    }
  };
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n');
  await importJob({ file: 'backup1.yaml', replace: false }, full);
  const store = new MetadataStore(ctx.metadataDir);
  const stored = await store.read('j1');
  stored.state.settings = { '@l': { work: { sha256: d.sha256, bytes: d.bytes.length, capturedAt: '2026-12-02T05:00:00.000Z', file: 'settings/l/work.json' } } };
  stored.state.targets['tank/qubes/work/private@l'] = {
    snapshot: 'tank/qubes/work/private@l', status: 'verified', guid: String(volGuid), receivedGuid: String(volGuid),
    ...(opts.contentHash ? { contentHash: { sha256: opts.contentHash, bytes: String(SIZE) } } : {}),
  } as never;
  await store.saveState(stored.state);
  return { ctx: full, m, calls, imported, exported };
}

const options = (over: Partial<RestoreOptions> = {}): RestoreOptions => ({
  name: 'j1', receiver: null, dataset: null, qubes: ['work'], list: false, label: null, as: null, template: null, netvm: null,
  devices: false, acceptSettings: false, dryRun: false, ...over,
});
const tagsOf = (m: ReturnType<typeof model>, name: string): string[] => m.list.find((q) => q.name === name)?.settings?.tags ?? [];

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
});
