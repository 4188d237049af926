// Settings documents: wire-format parsers, canonical JSON, capture through the Admin API (the
// harness's fake qubesd answers, R4.2 and R4.3), storage with the hash in the job state, diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answer, QubesdAbort, QubesdError } from '../../harness/qubesd.ts';
import type { FakeQube, QubesModel } from '../../harness/qubesd.ts';
import { AdminApiError, AdminApiRefused } from '../../../dom0/qubes/client.ts';
import { canonicalJson, sha256OfBytes } from '../../../dom0/settings/canonical.ts';
import { captureSettings, type AdminApi } from '../../../dom0/settings/capture.ts';
import { diffSettings } from '../../../dom0/settings/diff.ts';
import { parseDeviceAssigned43, parseDeviceList42, parsePropertyGetAll, parseTags } from '../../../dom0/settings/parse.ts';
import { captureSettingsStep } from '../../../dom0/settings/snapshot-step.ts';
import { decodeSettings, encodeSettings, readSettingsForSend } from '../../../dom0/settings/store.ts';
import type { JobState } from '../../../dom0/metadata/types.ts';

function model(release: '4.2' | '4.3'): QubesModel & { list: FakeQube[] } {
  const list: FakeQube[] = [
    { name: 'fedora-41', klass: 'TemplateVM', state: 'Halted', uuid: 'u-f', volumes: [] },
    {
      name: 'work', klass: 'AppVM', state: 'Halted', uuid: '8a2e0c4e-0000-4000-8000-000000000001', template: 'fedora-41',
      volumes: [{ name: 'private', pool: 'zfs-main', vid: 'mainpool/qubes/work/private', size: '2147483648', rw: true, source: '', path: '', saveOnStop: true, snapOnStart: false, revisionsToKeep: -1, ephemeral: false }],
      settings: {
        prefs: { netvm: 'sys-firewall', memory: '800', kernelopts: 'nopat swiotlb=8192', label: 'blue' },
        features: { 'service.cups': '1', 'menu-items': 'a.desktop b.desktop' },
        tags: ['work-tag'],
        firewall: ['action=accept proto=tcp dstports=443-443 comment=web only', 'action=drop'],
        devices: [{ devclass: 'pci', backend: 'dom0', port: '00_14.0', deviceId: '*', mode: 'required', options: { 'no-strict-reset': 'True' } }],
        notes: 'first line\nsecond',
      },
    },
    { name: 'sys-firewall', klass: 'AppVM', state: 'Running', uuid: 'u-s', template: 'fedora-41', volumes: [] },
  ];
  return { release, list, qubes: () => list, pools: () => [], globalProperties: () => ({ defaults: { default_template: 'fedora-41' }, set: { default_netvm: 'sys-firewall' } }) };
}

// The fake qubesd's answers as the client would see them over the socket.
function apiOf(m: QubesModel): AdminApi & { calls: string[] } {
  const calls: string[] = [];
  const api = async (method: string, dest: string, arg = ''): Promise<string> => {
    calls.push(`${method}${arg ? `+${arg}` : ''} ${dest}`);
    try {
      return await answer(m, method, arg, dest);
    } catch (e) {
      if (e instanceof QubesdAbort) throw new AdminApiRefused(method, dest);
      if (e instanceof QubesdError) throw new AdminApiError(method, dest, e.excType, e.message);
      throw e;
    }
  };
  return Object.assign(api, { calls });
}

const NOW = new Date('2026-12-02T05:00:00.000Z');

test('parsePropertyGetAll: values with spaces, escapes undone, empty values; bad lines refused', () => {
  const p = parsePropertyGetAll('kernelopts default=False type=str nopat  swiotlb=8192\\\\x\\nnext\nnetvm default=True type=vm \nmemory default=False type=int 800\n', 'x');
  assert.deepEqual(p.kernelopts, { type: 'str', default: false, value: 'nopat  swiotlb=8192\\x\nnext' });
  assert.deepEqual(p.netvm, { type: 'vm', default: true, value: '' });
  assert.throws(() => parsePropertyGetAll('memory default=Maybe type=int 1\n', 'x'), /not a property line/);
  assert.throws(() => parsePropertyGetAll('memory default=False type=int lots\n', 'x'), /int property/);
  assert.throws(() => parsePropertyGetAll('netvm default=False type=vm bad name\n', 'x'), /vm property/);
  assert.throws(() => parsePropertyGetAll('Bad-Name default=False type=str x\n', 'x'), /invalid property name/);
  assert.throws(() => parsePropertyGetAll('a default=False type=str \u001b[31m\n', 'x'), /control character/);
  assert.throws(() => parsePropertyGetAll(`a default=False type=str ${'x'.repeat(5000)}\n`, 'x'), /longer than/);
  assert.throws(() => parsePropertyGetAll('a default=False type=str x\\t\n', 'x'), /backslash/);
  assert.throws(() => parseTags('ok\nnot ok\n', 'x'), /invalid tag/);
});

test('device parsers: R4.2 List and R4.3 Assigned (quoted values with \\\')', () => {
  assert.deepEqual(parseDeviceList42('sys-usb+sda frontend-dev=xvdi read-only=yes persistent=yes\n', 'block', 'x'), [
    { class: 'block', backend: 'sys-usb', port: 'sda', deviceId: null, mode: null, persistent: true, options: { 'frontend-dev': 'xvdi', 'read-only': 'yes' } },
  ]);
  const line = "dom0+00_14.0:0x8086::p0c03 device_id='0x8086::p0c03' port_id='00_14.0' devclass='pci' backend_domain='dom0' mode='required' frontend_domain='work' _note='it\\'s ok'\n";
  assert.deepEqual(parseDeviceAssigned43(line, 'pci', 'x'), [
    { class: 'pci', backend: 'dom0', port: '00_14.0', deviceId: '0x8086::p0c03', mode: 'required', persistent: null, options: { note: "it's ok" } },
  ]);
  assert.throws(() => parseDeviceAssigned43("dom0+x port_id='x' backend_domain='sys-net'\n", 'pci', 'x'), /differs/);
  // A device id with spaces (DeviceSerializer allows them in values), also in the line's key.
  const spaced = "sys-usb+sda:SanDisk Cruzer 123 device_id='SanDisk Cruzer 123' port_id='sda' devclass='block' backend_domain='sys-usb' mode='auto-attach' frontend_domain='work'\n";
  assert.equal(parseDeviceAssigned43(spaced, 'block', 'x')[0]!.deviceId, 'SanDisk Cruzer 123');
  assert.throws(() => parseDeviceAssigned43("dom0+x port_id='x\n", 'pci', 'x'), /cannot read/);
  assert.throws(() => parseDeviceList42('bad name+x persistent=yes\n', 'pci', 'x'), /backend/);
});

test('canonical JSON: sorted keys at every level, no whitespace, integers only', () => {
  assert.equal(canonicalJson({ b: [2, { d: 1, c: 'x' }], a: null, é: true }), '{"a":null,"b":[2,{"c":"x","d":1}],"\\u00e9":true}');
  assert.equal(canonicalJson('tab\t nl\n é 🙂 \u007f'), '"tab\\t nl\\n \\u00e9 \\ud83d\\ude42 \\u007f"');
  assert.equal(JSON.parse(canonicalJson({ s: 'é 🙂' })).s, 'é 🙂');
  assert.match(canonicalJson({ s: 'é 🙂\u2028' }), /^[\x20-\x7e]*$/);
  assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
  assert.throws(() => canonicalJson({ a: 1.5 }), /safe integer/);
  assert.throws(() => canonicalJson({ a: -0 }), /safe integer/);
  assert.throws(() => canonicalJson({ a: 2 ** 60 }), /safe integer/);
  assert.throws(() => canonicalJson({ a: new Date() }), /cannot serialise/);
});

for (const release of ['4.2', '4.3'] as const) {
  test(`capture (R${release}): every part of the document, through the Admin API only`, async () => {
    const api = apiOf(model(release));
    const docs = await captureSettings(api, ['work', 'fedora-41'], '@backup-1', NOW);
    const d = docs.get('work')!;
    assert.equal(d.class, 'AppVM');
    assert.equal(d.label, 'blue');
    assert.equal(d.template, 'fedora-41');
    assert.deepEqual(d.api, { devices: release, notes: release === '4.3' });
    assert.deepEqual(d.properties.netvm, { type: 'vm', default: false, value: 'sys-firewall' });
    assert.deepEqual(d.properties.kernelopts, { type: 'str', default: false, value: 'nopat swiotlb=8192' });
    assert.deepEqual(d.properties.maxmem, { type: 'int', default: true, value: '4000' });
    assert.deepEqual(d.features, { 'service.cups': '1', 'menu-items': 'a.desktop b.desktop' });
    assert.deepEqual(d.tags, ['work-tag']);
    assert.deepEqual(d.firewall, ['action=accept proto=tcp dstports=443-443 comment=web only', 'action=drop']);
    assert.equal(d.devices.length, 1);
    assert.equal(d.devices[0]!.port, '00_14.0');
    assert.deepEqual(d.devices[0]!.options, { 'no-strict-reset': 'True' });
    if (release === '4.3') assert.equal(d.devices[0]!.mode, 'required');
    else assert.equal(d.devices[0]!.persistent, true);
    assert.deepEqual(d.volumes.private, { pool: 'zfs-main', vid: 'mainpool/qubes/work/private', size: '2147483648', rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: -1, ephemeral: false });
    assert.equal(d.notes, release === '4.3' ? 'first line\nsecond' : null);
    assert.deepEqual(d.global.default_netvm, { type: 'vm', default: false, value: 'sys-firewall' });
    assert.equal(docs.get('fedora-41')!.template, null);
    // Only Admin API methods, never a qvm-* tool; the global calls once.
    assert.ok(api.calls.every((c) => c.startsWith('admin.')));
    assert.equal(api.calls.filter((c) => c.startsWith('admin.property.GetAll')).length, 1);
  });
}

test('the same settings give the same bytes and hash; a decoded document re-encodes identically', async () => {
  const a = (await captureSettings(apiOf(model('4.3')), ['work'], '@b', NOW)).get('work')!;
  const b = (await captureSettings(apiOf(model('4.3')), ['work'], '@b', NOW)).get('work')!;
  const ea = encodeSettings(a);
  assert.equal(ea.sha256, encodeSettings(b).sha256);
  assert.equal(ea.sha256, sha256OfBytes(ea.bytes));
  assert.equal(encodeSettings(decodeSettings(ea.bytes, 'x')).bytes.toString(), ea.bytes.toString());
  assert.throws(() => decodeSettings(Buffer.from(ea.bytes.toString().replace('"version":1', '"version":2')), 'x'), /not a valid settings document/);
});

test('a hostile reply is refused before anything is stored', async () => {
  const m = model('4.2');
  m.list[1]!.settings!.features['evil'] = 'x\u001b]0;pwned\u0007';
  await assert.rejects(captureSettings(apiOf(m), ['work'], '@b', NOW), /control character/);
});

function state(): JobState {
  return { version: 1, job: 'j', configSha256: 'a'.repeat(64), importedAt: NOW.toISOString(), targets: {} };
}

test('snapshot step: stores each document once per label, records its hash; send can read it back; tampering is detected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qzb-settings-'));
  try {
    const st = state();
    const api = apiOf(model('4.3'));
    const r = await captureSettingsStep({ jobDir: dir, state: st, label: '@backup-1', qubes: ['work', 'work', 'fedora-41'], api, now: NOW });
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.captured.map((c) => c.qube), ['fedora-41', 'work']);
    const rec = st.settings!['@backup-1']!.work!;
    assert.equal(rec.file, 'settings/backup-1/work.json');
    const bytes = readFileSync(join(dir, rec.file));
    assert.equal(sha256OfBytes(bytes), rec.sha256);
    assert.equal(rec.bytes, bytes.length);
    const forSend = await readSettingsForSend(dir, st, 'work', '@backup-1');
    assert.equal(forSend!.sha256, rec.sha256);
    assert.deepEqual(forSend!.bytes, bytes);
    assert.equal(await readSettingsForSend(dir, st, 'sys-firewall', '@backup-1'), null);
    // A second run for the same label captures nothing again (the first capture stays).
    const again = await captureSettingsStep({ jobDir: dir, state: st, label: '@backup-1', qubes: ['work'], api, now: NOW });
    assert.deepEqual(again.captured, []);
    writeFileSync(join(dir, rec.file), bytes.toString().replace('sys-firewall', 'sys-whonix!!'));
    await assert.rejects(readSettingsForSend(dir, st, 'work', '@backup-1'), /does not match the SHA-256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('snapshot step: an Admin API failure is one error finding, nothing recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qzb-settings-'));
  try {
    const st = state();
    const r = await captureSettingsStep({ jobDir: dir, state: st, label: '@b', qubes: ['nosuch'], api: apiOf(model('4.2')), now: NOW });
    assert.deepEqual(r.findings.map((f) => [f.code, f.severity, f.subject]), [['SETTINGS_CAPTURE_FAILED', 'error', 'nosuch']]);
    assert.equal(st.settings, undefined);
    // One qube's failure does not stop the others.
    const two = await captureSettingsStep({ jobDir: dir, state: st, label: '@b', qubes: ['work', 'nosuch'], api: apiOf(model('4.2')), now: NOW });
    assert.deepEqual(two.captured.map((c) => c.qube), ['work']);
    assert.deepEqual(two.findings.map((f) => f.subject), ['nosuch']);
    assert.ok(st.settings!['@b']!.work);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('diff: a changed pref, a removed tag, a new firewall rule, a device gone; volatile values ignored', async () => {
  const m = model('4.2');
  const before = (await captureSettings(apiOf(m), ['work'], '@b', NOW)).get('work')!;
  const s = m.list[1]!.settings!;
  s.prefs.netvm = 'fedora-41';
  delete s.prefs.memory;
  s.tags = [];
  s.firewall = [...s.firewall!, 'action=accept'];
  s.devices = [];
  m.list[1]!.state = 'Running';
  const after = (await captureSettings(apiOf(m), ['work'], '@b', NOW)).get('work')!;
  const changes = diffSettings(before, after);
  const keys = changes.map((c) => `${c.section} ${c.key}`);
  assert.ok(keys.includes('properties netvm'));
  assert.deepEqual(changes.find((c) => c.key === 'netvm'), { section: 'properties', key: 'netvm', backup: 'sys-firewall', live: 'fedora-41' });
  assert.deepEqual(changes.find((c) => c.key === 'memory'), { section: 'properties', key: 'memory', backup: '800', live: '400 (default)' });
  assert.ok(keys.includes('tags work-tag'));
  assert.ok(keys.includes('firewall rule 3'));
  assert.ok(keys.includes('devices pci dom0:00_14.0'));
  assert.ok(!keys.some((k) => k === 'properties xid' || k === 'properties start_time'));
  assert.deepEqual(diffSettings(before, before), []);
});

test('deliver and verify: stored once, verified by recomputed hash; missing and altered copies are reported', async () => {
  const { deliverSettings, verifySettings, settingsSnapshotName } = await import('../../../dom0/settings/deliver.ts');
  const { joinSettings, chunkSettings } = await import('../../../shared/protocol/settings-props.ts');
  const dir = mkdtempSync(join(tmpdir(), 'qzb-settings-'));
  try {
    const st = state();
    await captureSettingsStep({ jobDir: dir, state: st, label: '@backup-1', qubes: ['work'], api: apiOf(model('4.2')), now: NOW });
    // A receiver that keeps chunks per snapshot, as the agent's user properties do.
    const props = new Map<string, { sha: string; chunks: string[] }>();
    const link = {
      async storeSettings(snapshot: string, bytes: Uint8Array, sha256: string) {
        const had = props.has(snapshot);
        props.set(snapshot, { sha: sha256, chunks: chunkSettings(bytes) });
        return { alreadyStored: had };
      },
      async readSettings(snapshot: string) {
        const p = props.get(snapshot);
        if (!p) return null;
        const j = joinSettings(p.chunks);
        return { bytes: j.bytes, sha256: j.sha256, storedSha256: p.sha };
      },
    };
    const snap = settingsSnapshotName('backuppool/qzb', 'mainpool/qubes/work', '@backup-1');
    assert.equal(snap, 'backuppool/qzb/mainpool/qubes/work@backup-1');
    assert.equal(await verifySettings(link, dir, st, 'work', '@backup-1', snap).then((v) => v.status), 'missing');
    assert.equal(await deliverSettings(link, dir, st, 'work', '@backup-1', snap), 'stored');
    assert.equal(await deliverSettings(link, dir, st, 'work', '@backup-1', snap), 'already-stored');
    assert.equal(await deliverSettings(link, dir, st, 'vault', '@backup-1', snap), 'no-document');
    assert.deepEqual(await verifySettings(link, dir, st, 'work', '@backup-1', snap), { status: 'ok', sha256: st.settings!['@backup-1']!.work!.sha256 });
    const p = props.get(snap)!;
    p.chunks[0] = p.chunks[0]!.replace('sys-firewall', 'sys-firewalx');
    const v = await verifySettings(link, dir, st, 'work', '@backup-1', snap);
    assert.equal(v.status, 'altered');
    assert.equal(await verifySettings(link, dir, st, 'vault', '@backup-1', snap).then((x) => x.status), 'no-document');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
