// The Admin API client and collector against an in-test socket server speaking qubesd's format.
import { shellQuote } from '../../../shared/shell.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminCall, AdminApiError, AdminApiRefused, decodeReply, encodeRequest, MAX_ADMIN_REPLY_BYTES } from '../../../dom0/qubes/client.ts';
import { parseKeyValues, parseVmList } from '../../../dom0/qubes/parse.ts';
import { collectQubes } from '../../../dom0/inventory/collect-qubes.ts';
import { QzbError } from '../../../shared/errors.ts';
import { startFakeQubesd, systemHandler } from './fake-qubesd.ts';

test('request bytes are exactly qubesadmin\'s', () => {
  assert.deepEqual(encodeRequest('admin.vm.List', 'dom0'), Buffer.from('admin.vm.List+ dom0 name dom0\0'));
  assert.deepEqual(encodeRequest('admin.vm.volume.Info', 'work', 'private'), Buffer.from('admin.vm.volume.Info+private dom0 name work\0'));
  assert.throws(() => encodeRequest('admin.vm.List', 'a b'));
  assert.throws(() => encodeRequest('admin.vm.List', 'x', 'a\0b'));
  assert.deepEqual(encodeRequest('admin.vm.device.usb.Assign', 'work', 'sys-usb+2-1+0781+5583'), Buffer.from('admin.vm.device.usb.Assign+sys-usb+2-1+0781+5583 dom0 name work\0'), 'device calls join backend, port and id with +');
  assert.throws(() => encodeRequest('admin.vm.device.usb.Assign', 'work', "sys-usb+2-1+it's"));
});

test('replies: success payload, exception with formatted message, garbage', () => {
  assert.equal(decodeReply(Buffer.from('0\0hello\n'), 'm', 'd'), 'hello\n');
  assert.throws(() => decodeReply(Buffer.from('2\0QubesVMNotFoundError\0tb\0No such domain: %s\0work\0'), 'admin.vm.volume.List', 'work'), (e: unknown) => {
    assert.ok(e instanceof AdminApiError);
    assert.equal(e.excType, 'QubesVMNotFoundError');
    assert.match(e.message, /No such domain: work/);
    return true;
  });
  assert.throws(() => decodeReply(Buffer.from('1\0x'), 'm', 'd'), /unexpected reply/);
  assert.throws(() => decodeReply(Buffer.alloc(0), 'admin.vm.notes.Get', 'work'), (e: unknown) => e instanceof AdminApiRefused && e.code === 'QUBES_API_REFUSED');
});

test('parsers: R4.2 and R4.3 vm lines, key=value with empty values', () => {
  assert.deepEqual(parseVmList('work class=AppVM state=Halted\nx class=DispVM state=Running uuid=abc\n'), [
    { name: 'work', klass: 'AppVM', state: 'Halted' },
    { name: 'x', klass: 'DispVM', state: 'Running', uuid: 'abc' },
  ]);
  assert.deepEqual(parseKeyValues('source=\nvid=a=b\n'), { source: '', vid: 'a=b' });
  assert.throws(() => parseVmList('work state=Halted\n'));
});

test('collectQubes over a socket: skips dom0, reads volumes and pools', async () => {
  const fake = await startFakeQubesd(systemHandler);
  try {
    const lines: string[] = [];
    const inv = await collectQubes({ socketPath: fake.socketPath, onCommand: (l) => lines.push(l) });
    assert.deepEqual(inv.qubes.map((q) => [q.name, q.klass, q.state]), [['fedora-41', 'TemplateVM', 'Halted'], ['work', 'AppVM', 'Running']]);
    const work = inv.qubes.find((q) => q.name === 'work')!;
    const root = work.volumes.find((v) => v.name === 'root')!;
    assert.equal(root.snapOnStart, true);
    assert.equal(root.saveOnStop, false);
    assert.equal(root.vid, 'tank/qubes/work/root');
    assert.equal(root.source, 'zfs-main:tank/qubes/fedora-41/root');
    assert.equal(work.volumes.find((v) => v.name === 'private')!.saveOnStop, true);
    const zfsPool = inv.pools.find((p) => p.name === 'zfs-main')!;
    assert.equal(zfsPool.driver, 'zfs');
    assert.equal(zfsPool.container, 'tank/qubes');
    assert.equal(inv.pools.find((p) => p.name === 'linux-kernel')!.container, undefined);
    assert.ok(lines.includes(`qubesd-query -c ${shellQuote(fake.socketPath)} -e dom0 admin.vm.volume.Info work private`), lines.join('\n'));
    // 1 vm.List + 2 volume.List + 8 volume.Info + 1 pool.List + 2 pool.Info
    assert.equal(fake.calls.length, 14);
  } finally {
    await fake.close();
  }
});

test('an exception reply becomes a typed error', async () => {
  const fake = await startFakeQubesd(() => ({ exc: 'QubesVMNotFoundError', format: 'No such domain: %s', args: ['nope'] }));
  try {
    await assert.rejects(adminCall('admin.vm.volume.List', 'nope', '', { socketPath: fake.socketPath }), (e: unknown) => e instanceof AdminApiError && /No such domain: nope/.test(e.message));
  } finally {
    await fake.close();
  }
});

test('an unreachable socket says what to do', async () => {
  await assert.rejects(adminCall('admin.vm.List', 'dom0', '', { socketPath: '/nonexistent/qubesd.sock' }), (e: unknown) => {
    assert.ok(e instanceof QzbError);
    assert.equal(e.code, 'QUBESD_UNREACHABLE');
    assert.match(e.message, /\/nonexistent\/qubesd.sock/);
    // Said to a dom0 user: what to run, never the test-only variables.
    assert.match(e.hint ?? '', /systemctl status qubesd/);
    assert.doesNotMatch(`${e.message} ${e.hint ?? ''}`, /QZB_/);
    return true;
  });
});

test('an oversized reply is refused', async () => {
  const fake = await startFakeQubesd(() => ({ raw: Buffer.alloc(MAX_ADMIN_REPLY_BYTES + 10, 0x41) }));
  try {
    await assert.rejects(adminCall('admin.vm.List', 'dom0', '', { socketPath: fake.socketPath }), /exceeds/);
  } finally {
    await fake.close();
  }
});
