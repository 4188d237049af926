// The fake qubesd's settings calls in the real wire formats (R4.2 and R4.3), and the scenario keys
// and steps that set and change them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answer, QubesdAbort, startQubesd } from '../../harness/qubesd.ts';
import type { FakeQube, QubesModel } from '../../harness/qubesd.ts';
import { normaliseFirewallRule } from '../../harness/qube-settings.ts';
import { parseScenarioText, ScenarioError } from '../../harness/scenario.ts';

function model(release: '4.2' | '4.3'): QubesModel {
  const qubes: FakeQube[] = [
    { name: 'fedora-41', klass: 'TemplateVM', state: 'Halted', uuid: 'u-f', volumes: [] },
    {
      name: 'work', klass: 'AppVM', state: 'Halted', uuid: 'u-w', template: 'fedora-41', volumes: [],
      settings: {
        prefs: { netvm: 'sys-firewall', memory: '800', kernelopts: 'nopat  swiotlb=8192\\x', label: 'blue' },
        features: { 'service.cups': '1', 'video-model': 'none' },
        tags: ['work-tag', 'audit'],
        firewall: ['action=accept proto=tcp dstports=443-443 comment=web only, please', 'action=drop'],
        devices: [{ devclass: 'pci', backend: 'dom0', port: '00_14.0', deviceId: '0x8086:0xa0ed::p0c0330', mode: 'required', options: { 'no-strict-reset': 'True' } }],
        notes: "line one\nit's two",
      },
    },
    { name: 'sys-firewall', klass: 'AppVM', state: 'Running', uuid: 'u-s', template: 'fedora-41', volumes: [] },
  ];
  return { release, qubes: () => qubes, pools: () => [], globalProperties: () => ({ defaults: { default_template: 'fedora-41' }, set: { default_netvm: 'sys-firewall' } }) };
}

test('admin.vm.property.GetAll: sorted `name default=… type=… value` lines, values with spaces, backslashes escaped', async () => {
  const out = await answer(model('4.2'), 'admin.vm.property.GetAll', '', 'work');
  const lines = out.split('\n').filter(Boolean);
  assert.deepEqual(lines, [...lines].sort());
  assert.ok(lines.includes('kernelopts default=False type=str nopat  swiotlb=8192\\\\x'));
  assert.ok(lines.includes('netvm default=False type=vm sys-firewall'));
  assert.ok(lines.includes('memory default=False type=int 800'));
  assert.ok(lines.includes('label default=False type=label blue'));
  assert.ok(lines.includes('template default=False type=vm fedora-41'));
  assert.ok(lines.includes('maxmem default=True type=int 4000'));
  assert.ok(lines.includes('backup_timestamp default=True type=int '), 'an unset property has an empty value');
  assert.ok(lines.includes('dns default=True type=str 10.139.1.1 10.139.1.2'));
  assert.ok(lines.includes('include_in_backups default=True type=bool True'));
  // A template's netvm defaults to none; sys-firewall's to the global default_netvm.
  assert.match(await answer(model('4.2'), 'admin.vm.property.GetAll', '', 'fedora-41'), /^netvm default=True type=vm $/m);
  assert.equal(await answer(model('4.2'), 'admin.vm.property.Get', 'netvm', 'sys-firewall'), 'default=True type=vm sys-firewall');
});

test('admin.property.GetAll: global properties with set and default values', async () => {
  const out = await answer(model('4.3'), 'admin.property.GetAll', '', 'dom0');
  assert.match(out, /^default_netvm default=False type=vm sys-firewall$/m);
  assert.match(out, /^default_template default=True type=vm fedora-41$/m);
  assert.match(out, /^default_kernel default=True type=str 6\.6\.63-1\.qubes\.fc37$/m);
  await assert.rejects(answer(model('4.3'), 'admin.property.GetAll', '', 'work'), QubesdAbort);
});

test('features, tags, firewall', async () => {
  const m = model('4.2');
  assert.equal(await answer(m, 'admin.vm.feature.List', '', 'work'), 'service.cups\nvideo-model\n');
  assert.equal(await answer(m, 'admin.vm.feature.Get', 'video-model', 'work'), 'none');
  await assert.rejects(answer(m, 'admin.vm.feature.Get', 'nope', 'work'), /Feature not set/);
  assert.equal(await answer(m, 'admin.vm.tag.List', '', 'work'), 'audit\nwork-tag\n');
  assert.equal(await answer(m, 'admin.vm.firewall.Get', '', 'work'), 'action=accept proto=tcp dstports=443-443 comment=web only, please\naction=drop\n');
  assert.equal(await answer(m, 'admin.vm.firewall.Get', '', 'sys-firewall'), 'action=accept\n', 'no firewall.xml: accept everything');
  assert.equal(await answer(m, 'admin.deviceclass.List', '', 'dom0'), 'pci\nblock\nusb\n');
});

test('devices: R4.2 .List with persistent=yes; R4.3 .Assigned with quoted properties; the other method does not exist', async () => {
  const m42 = model('4.2');
  assert.equal(await answer(m42, 'admin.vm.device.pci.List', '', 'work'), 'dom0+00_14.0 no-strict-reset=True persistent=yes\n');
  assert.equal(await answer(m42, 'admin.vm.device.block.List', '', 'work'), '');
  await assert.rejects(answer(m42, 'admin.vm.device.pci.Assigned', '', 'work'), QubesdAbort);
  const m43 = model('4.3');
  assert.equal(
    await answer(m43, 'admin.vm.device.pci.Assigned', '', 'work'),
    "dom0+00_14.0:0x8086:0xa0ed::p0c0330 device_id='0x8086:0xa0ed::p0c0330' port_id='00_14.0' devclass='pci' backend_domain='dom0' mode='required' frontend_domain='work' _no-strict-reset='True'\n",
  );
  await assert.rejects(answer(m43, 'admin.vm.device.pci.List', '', 'work'), QubesdAbort);
});

test('device writes: R4.2 Attach (persistent, halted qube) and R4.3 Assign as qubesd checks them; duplicates and unknown backends as qubesd answers them', async () => {
  for (const release of ['4.2', '4.3'] as const) {
    const m = model(release);
    const added: string[] = [];
    m.assignDevice = (qube, d) => {
      const q = m.qubes().find((x) => x.name === qube)!;
      q.settings!.devices.push(d);
      added.push(`${qube} ${d.devclass} ${d.backend}:${d.port}:${d.deviceId} ${d.mode} ${JSON.stringify(d.options)}`);
    };
    if (release === '4.2') {
      assert.equal(await answer(m, 'admin.vm.device.block.Attach', 'sys-firewall+sda', 'work', Buffer.from('persistent=True read-only=yes')), '');
      await assert.rejects(answer(m, 'admin.vm.device.block.Attach', 'sys-firewall+sda', 'work', Buffer.from('persistent=True')), (e: Error & { excType?: string }) => e.excType === 'DeviceAlreadyAttached' && /'device sys-firewall:sda of class block already attached to work'/.test(e.message));
      await assert.rejects(answer(m, 'admin.vm.device.block.Attach', 'sys-firewall+sdb', 'work', Buffer.from('read-only=yes')), /can only attach device with persistent flag/);
      await assert.rejects(answer(m, 'admin.vm.device.block.Attach', 'sys-firewall+sdb', 'work', Buffer.from('persistent=True x=1')), /Unsupported option x/);
      await assert.rejects(answer(m, 'admin.vm.device.block.Attach', 'sys-firewall+sdb', 'work', Buffer.from("persistent=True read-only='yes'")), QubesdAbort);
      await assert.rejects(answer(m, 'admin.vm.device.block.Attach', 'sys-gone+sdb', 'work', Buffer.from('persistent=True')), QubesdAbort);
      await assert.rejects(answer(m, 'admin.vm.device.block.Assign', 'sys-firewall+sdb+_', 'work', Buffer.from("mode='required'")), QubesdAbort, 'no Assign on R4.2');
      assert.equal(await answer(m, 'admin.vm.device.block.List', '', 'work'), 'sys-firewall+sda read-only=yes persistent=yes\n');
    } else {
      const p = "device_id='*' port_id='sda' devclass='block' backend_domain='sys-firewall' mode='required' frontend_domain='work' _read-only='yes'";
      assert.equal(await answer(m, 'admin.vm.device.block.Assign', 'sys-firewall+sda+_', 'work', Buffer.from(p)), '');
      await assert.rejects(answer(m, 'admin.vm.device.block.Assign', 'sys-firewall+sda+_', 'work', Buffer.from(p)), (e: Error & { excType?: string }) => e.excType === 'DeviceAlreadyAssigned' && /'block device sys-firewall:sda:\* already assigned to work'/.test(e.message));
      // Another device id on the same port is another assignment (server test_489).
      assert.equal(await answer(m, 'admin.vm.device.usb.Assign', 'sys-firewall+2-1+1234+5678', 'work', Buffer.from("device_id='1234:5678' port_id='2-1' devclass='usb' backend_domain='sys-firewall' mode='ask-to-attach'")), '');
      await assert.rejects(answer(m, 'admin.vm.device.usb.Assign', 'sys-firewall+2-1+1234+9999', 'work', Buffer.from("device_id='1234:5678' mode='required'")), QubesdAbort, 'device_id differs from the argument');
      await assert.rejects(answer(m, 'admin.vm.device.usb.Assign', 'sys-firewall+2-2+_', 'work', Buffer.from("port_id='2-2'")), QubesdAbort, 'no mode: manual, refused');
      await assert.rejects(answer(m, 'admin.vm.device.usb.Assign', 'sys-firewall+2-2+_', 'work', Buffer.from("mode='required' required='yes'")), QubesdAbort);
      await assert.rejects(answer(m, 'admin.vm.device.usb.Assign', 'sys-gone+2-2+_', 'work', Buffer.from("mode='required'")), QubesdAbort);
      // usb-proxy refuses options, but only after the assignment is held.
      await assert.rejects(answer(m, 'admin.vm.device.usb.Assign', 'sys-firewall+2-3+_', 'work', Buffer.from("mode='required' _x='1'")), /USB device assignment does not support user options/);
      assert.equal(added.length, 3);
      assert.match(await answer(m, 'admin.vm.device.block.Assigned', '', 'work'), /^sys-firewall\+sda:\* device_id='\*' port_id='sda' devclass='block' backend_domain='sys-firewall' mode='required' frontend_domain='work' _read-only='yes'\n$/);
    }
  }
});

test('notes: R4.3 only (R4.2 closes the connection: no such method)', async () => {
  assert.equal(await answer(model('4.3'), 'admin.vm.notes.Get', '', 'work'), "line one\nit's two");
  await assert.rejects(answer(model('4.2'), 'admin.vm.notes.Get', '', 'work'), QubesdAbort);
});

test('over the socket: an aborted call gets no bytes at all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qzb-qubesd-'));
  const srv = await startQubesd(join(dir, 's'), model('4.2'));
  try {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(join(dir, 's'), () => s.end('admin.vm.notes.Get+ dom0 name work\0'));
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(got.length, 0);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('firewall rules are put in qubes order; bad rules are refused', () => {
  assert.equal(normaliseFirewallRule('proto=udp action=drop expire=2099450306').rule, 'action=drop expire=2099450306 proto=udp');
  assert.match(normaliseFirewallRule('action=accept dstports=1-2').problem!, /dstports/);
  assert.match(normaliseFirewallRule('action=accept dsthost=a$b').problem!, /strange/);
  assert.match(normaliseFirewallRule('proto=tcp').problem!, /action/);
});

const BASE = `
system:
  qubes-release: "4.3"
  pools: [{name: mainpool}]
  qubes-pools: [{name: zfs-main, driver: zfs, container: mainpool/qubes}]
  global-prefs: {default_netvm: sys-firewall}
  qubes:
    - {name: fedora-41, class: TemplateVM}
    - {name: sys-firewall, class: AppVM, template: fedora-41, prefs: {provides_network: true}}
    - name: work
      class: AppVM
      template: fedora-41
      prefs: {netvm: sys-firewall, memory: 800, kernelopts: "nopat swiotlb=8192", label: blue, default_dispvm: null}
      features: {service.cups: 1, video-model: none, gui: true}
      tags: [work-tag]
      firewall: ["proto=tcp action=accept dstports=443-443", "action=drop"]
      devices: [{class: pci, backend: dom0, port: "00_14.0", options: {no-strict-reset: true}}]
      notes: "hello"
`;

test('scenario: settings keys are normalised to the strings qubesd reports', () => {
  const s = parseScenarioText('t.yaml', BASE + `steps:
  - prefs: {qube: work, set: {netvm: fedora-41}, reset: [memory]}
  - features: {qube: work, set: {x: y}, remove: [gui]}
  - tags: {qube: work, add: [b], remove: [work-tag]}
  - firewall: {qube: work, set: ["action=accept"]}
  - devices: {qube: work, unassign: [{class: pci, backend: dom0, port: "00_14.0"}], assign: [{class: block, backend: sys-firewall, port: sda}]}
`);
  const work = s.qubes.find((q) => q.name === 'work')!;
  assert.deepEqual(work.settings.prefs, { netvm: 'sys-firewall', memory: '800', kernelopts: 'nopat swiotlb=8192', label: 'blue', default_dispvm: '' });
  assert.deepEqual(work.settings.features, { 'service.cups': '1', 'video-model': 'none', gui: '1' });
  assert.deepEqual(work.settings.firewall, ['action=accept proto=tcp dstports=443-443', 'action=drop']);
  assert.deepEqual(work.settings.devices, [{ devclass: 'pci', backend: 'dom0', port: '00_14.0', deviceId: '*', mode: 'required', options: { 'no-strict-reset': 'True' } }]);
  assert.equal(work.settings.notes, 'hello');
  assert.deepEqual(s.globalPrefs, { default_netvm: 'sys-firewall' });
  assert.deepEqual(s.steps.map((x) => x.kind), ['settings', 'settings', 'settings', 'settings', 'settings']);
  const first = s.steps[0]!;
  assert.ok(first.kind === 'settings' && first.change.what === 'prefs');
  assert.deepEqual(first.change, { what: 'prefs', set: { netvm: 'fedora-41' }, reset: ['memory'] });
});

test('scenario: bad settings are errors with their path', () => {
  const bad = (text: string, re: RegExp): void => {
    try {
      parseScenarioText('t.yaml', text);
      assert.fail('expected a ScenarioError');
    } catch (e) {
      assert.ok(e instanceof ScenarioError, String(e));
      assert.match(e.problems.join('\n'), re);
    }
  };
  bad(BASE.replace('memory: 800', 'memory: lots'), /prefs\.memory: memory takes a whole number/);
  bad(BASE.replace('netvm: sys-firewall, memory', 'netvm: sys-nope, memory'), /prefs\.netvm: netvm: no qube named "sys-nope"/);
  bad(BASE.replace('label: blue', 'label: pink'), /label takes one of/);
  bad(BASE.replace('memory: 800', 'colour: 800'), /a AppVM has no property colour/);
  bad(BASE.replace('memory: 800', 'xid: 3'), /property xid cannot be set/);
  bad(BASE.replace('tags: [work-tag]', 'tags: ["a b"]'), /tags\.0: a tag is/);
  bad(BASE.replace('"action=drop"', '"action=maybe"'), /firewall\.1: a firewall rule needs action/);
  bad(BASE.replace('backend: dom0', 'backend: sys-usb'), /devices\.0: backend sys-usb is not a qube/);
  bad(BASE.replace('default_netvm: sys-firewall', 'default_netwm: x'), /no global property default_netwm/);
  bad(BASE + 'steps:\n  - prefs: {qube: work, set: {vcpus: many}}\n', /steps\.0: prefs\.set\.vcpus/);
  bad(BASE + 'steps:\n  - prefs: {qube: nosuch, set: {vcpus: 1}}\n', /steps\.0: qube nosuch is not in system\.qubes/);
  bad(BASE + 'steps:\n  - prefs: {qube: work, reset: [name]}\n', /prefs\.reset: property name cannot be set/);
});
