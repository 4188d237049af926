// Framing throughput: ≥1 GiB of data frames through FrameWriter → Unix socket → readFrames,
// against a plain byte copy of the same bytes through the same kind of socket, measured in the
// same run. The writer is a child process, the reader this one (two processes on two cores, like
// dom0 → qrexec → agent). Run: node --import tsx test/bench/framing.bench.ts [GiB]
// Two figures per chunk size: wall-clock throughput, and "CPU" throughput (bytes per CPU second of
// the busier process), which is what two idle cores would reach and is far less disturbed by other
// load on a shared machine. Each is reported as a ratio to the plain copy measured alongside.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameWriter, readFrames } from '../../shared/protocol/stream-io.ts';
import { FrameDecoder } from '../../shared/protocol/frame-decoder.ts';
import { encodeFrameHeader, FrameType } from '../../shared/protocol/frame.ts';

interface Job {
  mode: 'raw' | 'framed';
  chunk: number;
  total: number;
  socket: string;
}

async function writer(job: Job): Promise<void> {
  const sock = net.connect(job.socket);
  await new Promise((r) => sock.once('connect', r));
  const startCpu = process.cpuUsage();
  const buf = Buffer.alloc(job.chunk, 0x5a);
  const frames = new FrameWriter(sock);
  for (let sent = 0; sent < job.total; sent += job.chunk) {
    if (job.mode === 'framed') await frames.writeData(buf);
    else if (!sock.write(buf)) await new Promise((r) => sock.once('drain', r));
  }
  if (job.mode === 'framed') await frames.writeEnd();
  await new Promise<void>((r) => sock.end(r));
  const cpu = process.cpuUsage(startCpu);
  process.stdout.write(JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

interface RunResult {
  /** Bytes per wall-clock second. */
  wall: number;
  /** Bytes per CPU second of the busier side (what two idle cores would reach); robust under load. */
  cpu: number;
}

async function run(job: Omit<Job, 'socket'>, dir: string): Promise<RunResult> {
  const socket = path.join(dir, `${job.mode}-${job.chunk}.sock`);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(socket, r));
  const connected = new Promise<net.Socket>((r) => server.once('connection', r));
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--writer', JSON.stringify({ ...job, socket })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let report = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (t: string) => (report += t));
  const exited = new Promise((r) => child.once('exit', r));
  const sock = await connected;
  const start = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  let bytes = 0;
  if (job.mode === 'raw') {
    for await (const chunk of sock) bytes += (chunk as Buffer).length;
  } else {
    for await (const frame of readFrames(sock)) {
      if (frame.type === FrameType.DATA) bytes += frame.payload.length;
      else if (frame.type === FrameType.END) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const readerCpu = process.cpuUsage(startCpu);
  await exited;
  server.close();
  if (bytes !== job.total) throw new Error(`${job.mode}: received ${bytes} of ${job.total} bytes`);
  const writerCpu = (JSON.parse(report.trim()) as { cpuSeconds: number }).cpuSeconds;
  return { wall: bytes / seconds, cpu: bytes / Math.max(writerCpu, (readerCpu.user + readerCpu.system) / 1e6) };
}

function decoderOnly(total: number, chunk: number): number {
  // The decoder alone, on 64 KiB input pieces (what a pipe read returns), no I/O.
  const frame = Buffer.concat([encodeFrameHeader(FrameType.DATA, chunk), Buffer.alloc(chunk, 1)]);
  const input = Buffer.concat(Array.from({ length: 16 }, () => frame));
  const decoder = new FrameDecoder({ splitData: true });
  const start = process.hrtime.bigint();
  let bytes = 0;
  while (bytes < total) {
    for (let at = 0; at < input.length; at += 65536) {
      for (const f of decoder.push(input.subarray(at, at + 65536))) bytes += f.payload.length;
    }
  }
  return bytes / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function main(): Promise<void> {
  const gib = Number(process.argv[2] ?? '1');
  const total = Math.round(gib * 1024 ** 3);
  const dir = mkdtempSync(path.join(tmpdir(), 'qzb-bench-'));
  const gbps = (v: number): string => `${(v / 1e9).toFixed(2)} GB/s`;
  console.log(`framing bench: ${(total / 1024 ** 3).toFixed(2)} GiB per run, 3 interleaved rounds, over a Unix socket (writer in a child process)`);
  try {
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rounds = 3;
    for (const chunk of [64 * 1024, 256 * 1024, 1024 * 1024]) {
      const raw: RunResult[] = [];
      const framed: RunResult[] = [];
      // Interleaved rounds, so background load hits both sides alike; medians reported.
      for (let i = 0; i < rounds; i++) {
        raw.push(await run({ mode: 'raw', chunk, total }, dir));
        framed.push(await run({ mode: 'framed', chunk, total }, dir));
      }
      const wallRatios = raw.map((r, i) => framed[i]!.wall / r.wall);
      const cpuRatios = raw.map((r, i) => framed[i]!.cpu / r.cpu);
      const kib = String(chunk / 1024).padStart(4);
      console.log(`  chunk ${kib} KiB, wall: plain copy ${gbps(median(raw.map((r) => r.wall)))}, framed ${gbps(median(framed.map((r) => r.wall)))}, ratio ${median(wallRatios).toFixed(2)} (rounds: ${wallRatios.map((r) => r.toFixed(2)).join(' ')})`);
      console.log(`  chunk ${kib} KiB, CPU:  plain copy ${gbps(median(raw.map((r) => r.cpu)))}, framed ${gbps(median(framed.map((r) => r.cpu)))}, ratio ${median(cpuRatios).toFixed(2)} (rounds: ${cpuRatios.map((r) => r.toFixed(2)).join(' ')})`);
    }
    console.log(`  decoder alone (1 MiB frames fed in 64 KiB pieces, no I/O): ${gbps(decoderOnly(total * 4, 1024 * 1024))}`);
    console.log(`  decoder alone (64 KiB frames fed in 64 KiB pieces, no I/O): ${gbps(decoderOnly(total * 4, 64 * 1024))}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--writer') await writer(JSON.parse(process.argv[3]!) as Job);
else await main();
