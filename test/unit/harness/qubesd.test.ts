import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, startQubesd } from '../../harness/qubesd.ts';
import type { QubesModel } from '../../harness/qubesd.ts';

const vol = (name: string, over: Partial<Record<string, unknown>> = {}) => ({
  name,
  pool: 'zfs-main',
  vid: `mainpool/qubes/work/${name}`,
  size: '67108864',
  rw: true,
  source: '',
  path: '',
  saveOnStop: name === 'private',
  snapOnStart: name === 'root',
  revisionsToKeep: 1,
  ephemeral: false,
  ...over,
});

const model: QubesModel = {
  release: '4.2',
  qubes: () => [
    { name: 'work', klass: 'AppVM', state: 'Running', uuid: 'u-work', template: 'fedora-41', volumes: [vol('root', { source: 'mainpool/qubes/fedora-41/root' }), vol('private'), vol('volatile')] },
    { name: 'fedora-41', klass: 'TemplateVM', state: 'Halted', uuid: 'u-f', volumes: [] },
  ],
  pools: (): { name: string; config: Record<string, string> }[] => [
    { name: 'zfs-main', config: { name: 'zfs-main', driver: 'zfs', container: 'mainpool/qubes', revisions_to_keep: '1', snap_on_start_forensics: 'False', ephemeral_volatile: 'False' } },
    { name: 'linux-kernel', config: { name: 'linux-kernel', driver: 'linux-kernel', dir_path: '/var/lib/qubes/vm-kernels' } },
  ],
  volumeUsage: async () => '4096',
};

/** Sends raw bytes like qubesadmin does (then shuts down the write side) and reads the whole reply. */
function call(path: string, raw: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(path, () => s.end(raw));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

async function withServer(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qzb-qubesd-'));
  const path = join(dir, 'qubesd.sock');
  const srv = await startQubesd(path, model);
  try {
    await fn(path);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('parseRequest splits method, argument, source and destination', () => {
  assert.deepEqual(
    { ...parseRequest(Buffer.from('admin.vm.volume.Info+private dom0 name work\0'))!, payload: undefined },
    { method: 'admin.vm.volume.Info', arg: 'private', src: 'dom0', dest: 'work', payload: undefined },
  );
  assert.equal(parseRequest(Buffer.from('admin.vm.List dom0 keyword adminvm\0'))!.dest, 'dom0');
  assert.equal(parseRequest(Buffer.from('no-nul dom0 name dom0')), undefined);
  assert.equal(parseRequest(Buffer.from('admin.vm.List dom0 dom0\0')), undefined);
});

test('admin.vm.List to dom0 lists every qube and dom0, sorted, R4.2 format', () =>
  withServer(async (p) => {
    const r = await call(p, 'admin.vm.List+ dom0 name dom0\0');
    assert.equal(r.toString(), '0\0dom0 class=AdminVM state=Running\nfedora-41 class=TemplateVM state=Halted\nwork class=AppVM state=Running\n');
    const one = await call(p, 'admin.vm.List dom0 name work\0');
    assert.equal(one.toString(), '0\0work class=AppVM state=Running\n');
  }));

test('volume List and Info answer key=value lines with Python booleans', () =>
  withServer(async (p) => {
    assert.equal((await call(p, 'admin.vm.volume.List dom0 name work\0')).toString(), '0\0root\nprivate\nvolatile\n');
    assert.equal((await call(p, 'admin.vm.volume.List dom0 name dom0\0')).toString(), '0\0');
    const info = (await call(p, 'admin.vm.volume.Info+root dom0 name work\0')).toString();
    assert.equal(
      info,
      '0\0pool=zfs-main\nvid=mainpool/qubes/work/root\nsize=67108864\nusage=4096\nrw=True\nsource=mainpool/qubes/fedora-41/root\npath=\n' +
        'save_on_stop=False\nsnap_on_start=True\nrevisions_to_keep=1\nephemeral=False\nis_outdated=False\n',
    );
  }));

test('pool List and Info (sorted config keys)', () =>
  withServer(async (p) => {
    assert.equal((await call(p, 'admin.pool.List dom0 name dom0\0')).toString(), '0\0zfs-main\nlinux-kernel\n');
    assert.equal(
      (await call(p, 'admin.pool.Info+zfs-main dom0 name dom0\0')).toString(),
      '0\0container=mainpool/qubes\ndriver=zfs\nephemeral_volatile=False\nname=zfs-main\nrevisions_to_keep=1\nsnap_on_start_forensics=False\n',
    );
  }));

test('CurrentState reports power_state', () =>
  withServer(async (p) => {
    assert.match((await call(p, 'admin.vm.CurrentState dom0 name fedora-41\0')).toString(), /^0\0mem=0 mem_static_max=0 cputime=0 power_state=Halted$/);
  }));

test('errors: an unknown qube gets the error frame; a ProtocolError (unknown volume or method) closes without a reply, as qubesd does', () =>
  withServer(async (p) => {
    assert.equal((await call(p, 'admin.vm.volume.List dom0 name nosuch\0')).toString(), "2\0QubesVMNotFoundError\0\0No such domain: 'nosuch'\0");
    assert.equal((await call(p, 'admin.vm.volume.Info+nope dom0 name work\0')).length, 0);
    assert.equal((await call(p, 'admin.vm.Kill dom0 name work\0')).length, 0);
  }));

test('a framing error closes the connection without a reply', () =>
  withServer(async (p) => {
    assert.equal((await call(p, 'garbage without nul')).length, 0);
  }));

test('the request is answered only after the client shuts down its write side', () =>
  withServer(async (p) => {
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect(p, () => {
        s.write('admin.pool.List dom0 name dom0\0');
        setTimeout(() => {
          assert.equal(data, '', 'no reply before EOF');
          s.end();
        }, 100);
      });
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(data));
    });
    assert.equal(got, '0\0zfs-main\nlinux-kernel\n');
  }));

test('R4.3: admin.vm.List lines end in uuid=…', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qzb-qubesd-'));
  const path = join(dir, 'qubesd.sock');
  const srv = await startQubesd(path, { ...model, release: '4.3' });
  try {
    assert.equal((await call(path, 'admin.vm.List dom0 name work\0')).toString(), '0\0work class=AppVM state=Running uuid=u-work\n');
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('admin.vm.property.Get answers template in the qubesd property format', () =>
  withServer(async (p) => {
    assert.equal((await call(p, 'admin.vm.property.Get+template dom0 name work\0')).toString(), '0\0default=False type=vm fedora-41');
    assert.match((await call(p, 'admin.vm.property.Get+template dom0 name fedora-41\0')).toString(), /^2\0QubesNoSuchPropertyError\0/);
  }));
