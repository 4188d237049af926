// A tiny qubesd for tests: reads "<method>+<arg> dom0 name <dest>\0" until the client shuts down
// its write side, then answers like real qubesd ("0\0"+payload, or "2\0"type"\0"tb"\0"fmt"\0"args"\0").
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeCall {
  method: string;
  arg: string;
  dest: string;
}

export type Handler = (call: FakeCall) => { ok: string } | { exc: string; format: string; args?: string[] } | { raw: Buffer };

export interface FakeQubesd {
  socketPath: string;
  calls: FakeCall[];
  close(): Promise<void>;
}

// Starts a fake qubesd on a fresh socket path.
export async function startFakeQubesd(handler: Handler): Promise<FakeQubesd> {
  const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'qzb-qubesd-')), 'qubesd.sock');
  const calls: FakeCall[] = [];
  const server = net.createServer((sock) => {
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => {
      const req = Buffer.concat(chunks).toString('utf8');
      const m = /^([^+]*)\+(\S*) dom0 name (\S+)\0$/.exec(req);
      if (!m) {
        sock.end(Buffer.from('2\0ProtocolError\0\0bad request\0\0'));
        return;
      }
      const call = { method: m[1]!, arg: m[2]!, dest: m[3]! };
      calls.push(call);
      const r = handler(call);
      if ('raw' in r) sock.end(r.raw);
      else if ('ok' in r) sock.end(Buffer.concat([Buffer.from('0\0'), Buffer.from(r.ok)]));
      else sock.end(Buffer.from(`2\0${r.exc}\0Traceback...\0${r.format}\0${(r.args ?? []).map((a) => `${a}\0`).join('')}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, calls, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A small system in the real reply format (R4.3 admin.vm.List with uuid=). */
export const SYSTEM = {
  vms: 'dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000\n'
    + 'fedora-41 class=TemplateVM state=Halted uuid=11111111-1111-1111-1111-111111111111\n'
    + 'work class=AppVM state=Running uuid=22222222-2222-2222-2222-222222222222\n',
  volumes: { 'fedora-41': ['root', 'private', 'volatile', 'kernel'], work: ['root', 'private', 'volatile', 'kernel'] } as Record<string, string[]>,
  info(vm: string, vol: string): string {
    const sos = vol === 'private' || (vol === 'root' && vm === 'fedora-41');
    const sns = vol === 'root' && vm === 'work';
    const pool = vol === 'kernel' ? 'linux-kernel' : 'zfs-main';
    const vid = vol === 'kernel' ? '6.6.48-1.qubes.fc37.x86_64' : `tank/qubes/${vm}/${vol}`;
    return `pool=${pool}\nvid=${vid}\nsize=2147483648\nusage=0\nrw=${vol === 'kernel' ? 'False' : 'True'}\nsource=${sns ? 'zfs-main:tank/qubes/fedora-41/root' : ''}\npath=/dev/zvol/${vid}\nsave_on_stop=${sos ? 'True' : 'False'}\nsnap_on_start=${sns ? 'True' : 'False'}\nrevisions_to_keep=1\nephemeral=False\nis_outdated=False\n`;
  },
  pools: 'linux-kernel\nzfs-main\n',
  poolInfo: {
    'linux-kernel': 'dir_path=/var/lib/qubes/vm-kernels\ndriver=linux-kernel\nsize=0\nusage=0\n',
    'zfs-main': 'container=tank/qubes\ndriver=zfs\nephemeral_volatile=False\nrevisions_to_keep=1\nsnap_on_start_forensics=False\nsize=1000\nusage=10\n',
  } as Record<string, string>,
};

// The handler answering SYSTEM.
export const systemHandler: Handler = (c) => {
  if (c.method === 'admin.vm.List') return { ok: SYSTEM.vms };
  if (c.method === 'admin.vm.volume.List') {
    const v = SYSTEM.volumes[c.dest];
    return v ? { ok: v.map((n) => `${n}\n`).join('') } : { exc: 'QubesVMNotFoundError', format: 'No such domain: %s', args: [c.dest] };
  }
  if (c.method === 'admin.vm.volume.Info') return { ok: SYSTEM.info(c.dest, c.arg) };
  if (c.method === 'admin.pool.List') return { ok: SYSTEM.pools };
  if (c.method === 'admin.pool.Info') return { ok: SYSTEM.poolInfo[c.arg] ?? '' };
  return { exc: 'ProtocolError', format: 'unknown method' };
};
