// Forwarding through dom0's own code, for the send benchmark (run in the test VM by
// raw-pipe.guest.sh): startZfsSend(SNAPSHOT) → this process → `zfs receive -s -u DEST`, with the
// backpressure a real forwarder needs. Prints one line: wall time of the transfer (node start-up
// excluded), this process's user/system CPU, bytes and chunks.
//   node --import tsx test/bench/forward.guest.ts pool/vol@snap pool2/vol
import { spawn } from 'node:child_process';
import { startZfsSend } from '../../dom0/zfs/send-process.ts';
import { sendArgs } from '../../dom0/zfs/send-args.ts';

const [snapshot, dest] = process.argv.slice(2);
if (!snapshot || !dest) throw new Error('usage: forward.guest.ts SNAPSHOT DEST');
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const send = startZfsSend(sendArgs({ snapshot, from: null, flags: { raw: false, largeBlocks: true, compressed: true, embedded: true } }));
const recv = spawn('zfs', ['receive', '-s', '-u', '-o', 'volmode=none', dest], { stdio: ['pipe', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
const recvDone = new Promise<number | null>((r) => recv.on('close', (c) => r(c)));
let bytes = 0;
let chunks = 0;
send.stdout.on('data', (c: Buffer) => {
  bytes += c.length;
  chunks++;
  if (!recv.stdin.write(c)) {
    send.stdout.pause();
    recv.stdin.once('drain', () => send.stdout.resume());
  }
});
send.stdout.on('end', () => recv.stdin.end());
const end = await send.done;
const rc = await recvDone;
const cpu = process.cpuUsage(cpu0);
const wall = (performance.now() - t0) / 1000;
if (end.exitCode !== 0 || rc !== 0) throw new Error(`send ${JSON.stringify(end)}, receive ${rc}`);
console.log(`wall ${wall.toFixed(3)} s, node user ${(cpu.user / 1e6).toFixed(3)} s, node sys ${(cpu.system / 1e6).toFixed(3)} s, ${bytes} bytes in ${chunks} chunks (avg ${Math.round(bytes / chunks)})`);
