// Stand-in for dom0's /etc/qubes-rpc/admin.vm.volume.ImportWithSize (qubes-core-admin), for the
// simulated Qubes system; the per-scenario wrapper runs it as `admin.vm.volume.ImportWithSize
// VOLUME` with QREXEC_REMOTE_DOMAIN and QREXEC_REQUESTED_TARGET set and QZB_QUBESD_SOCKET baked
// in. Same steps and output as the real script: the first stdin line is the size; qubesd's
// internal.vm.volume.ImportBegin (payload: the size) answers "0\0<size> <path>"; exactly <size>
// bytes of stdin (or fewer, at EOF, as dd count_bytes does) go to <path>, all-zero 4 KiB blocks
// skipped (dd conv=sparse,notrunc); fdatasync; ImportEnd with "ok" or "fail", whose reply is this
// script's stdout. An error reply of ImportBegin is passed on as it is (exit 1).
import net from 'node:net';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';

const volume = process.argv[2] ?? '';
const src = process.env.QREXEC_REMOTE_DOMAIN ?? '';
const target = process.env.QREXEC_REQUESTED_TARGET ?? '';
const socket = process.env.QZB_QUBESD_SOCKET ?? '/var/run/qubesd.internal.sock';

function call(method, payload) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.createConnection({ path: socket, allowHalfOpen: true });
    s.on('connect', () => s.end(Buffer.concat([Buffer.from(`${method}+${volume} ${src} name ${target}\0`), Buffer.from(payload)])));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const input = process.stdin[Symbol.asyncIterator]();
let pending = Buffer.alloc(0);
while (!pending.includes(10)) {
  const step = await input.next();
  if (step.done) break;
  pending = Buffer.concat([pending, step.value]);
}
const nl = pending.indexOf(10);
const size = nl < 0 ? '' : pending.subarray(0, nl).toString('ascii');
pending = nl < 0 ? Buffer.alloc(0) : pending.subarray(nl + 1);
const begin = await call('internal.vm.volume.ImportBegin', size);
if (begin.length < 2 || begin[0] !== 0x30 || begin[1] !== 0) {
  process.stdout.write(begin);
  process.exit(1);
}
const [total, path] = begin.subarray(2).toString('utf8').split(' ');
let left = Number(total);
let status = 'ok';
const ZERO = Buffer.alloc(4096);
try {
  const fd = openSync(path, 'r+');
  let position = 0;
  const put = (buf) => {
    for (let off = 0; off < buf.length; off += 4096) {
      const block = buf.subarray(off, Math.min(off + 4096, buf.length));
      if (!(block.length === 4096 && block.equals(ZERO))) writeSync(fd, block, 0, block.length, position);
      position += block.length;
    }
  };
  const take = (buf) => {
    const n = Math.min(left, buf.length);
    if (n > 0) put(buf.subarray(0, n));
    left -= n;
  };
  take(pending);
  while (left > 0) {
    const step = await input.next();
    if (step.done) break;
    take(step.value);
  }
  fdatasyncSync(fd);
  closeSync(fd);
} catch (e) {
  process.stderr.write(`import: ${e instanceof Error ? e.message : String(e)}\n`);
  status = 'fail';
}
process.stdout.write(await call('internal.vm.volume.ImportEnd', status));
