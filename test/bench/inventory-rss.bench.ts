// dom0's memory for the largest inventories the budget lets through (MAX_INVENTORY_BYTES): a
// child process plays the agent and streams schema-valid batches over pipes, as qrexec would; this
// process is dom0 (a ReceiverClient) and samples its own RSS throughout. Shapes: datasets with the
// longest resume tokens, snapshots with 255-character names, and typical short names; each run just
// within the budget and once beyond it (refused). Run: node --import tsx test/bench/inventory-rss.bench.ts [shape]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ReceiverClient } from '../../dom0/receiver-link/client.ts';
import { readFrames } from '../../shared/protocol/stream-io.ts';
import { decodeMessage, encodeMessage } from '../../shared/protocol/codec.ts';
import { FrameType } from '../../shared/protocol/frame.ts';
import { requestSchemas } from '../../shared/protocol/schemas/requests.ts';
import { replySchemas, type DatasetInfo, type PointInfo, type Reply } from '../../shared/protocol/schemas/replies.ts';
import {
  INVENTORY_DATASET_OVERHEAD, INVENTORY_POINT_OVERHEAD, MAX_INVENTORY_BATCH, MAX_INVENTORY_BYTES, MAX_INVENTORY_DATASETS,
  MAX_INVENTORY_SNAPSHOTS, MAX_RESUME_TOKEN_LENGTH,
} from '../../shared/protocol/limits.ts';

const ROOT = 'backup/qzb';
type Shape = 'tokens' | 'long-names' | 'short-names';
/** `${ROOT}/vm-` and 30 digits; 'off' is the other string a dataset costs (3 characters). */
const DATASET_NAME_LENGTH = ROOT.length + 4 + 30;

/** The inventory of one shape: `scale` 1 fills the budget to just under its limit. */
function plan(shape: Shape, scale: number): { datasets: number; snapshots: number; token: string | null; nameLength: number } {
  const budget = MAX_INVENTORY_BYTES * scale;
  if (shape === 'tokens') {
    const token = `1-abc-10-${'a'.repeat(MAX_RESUME_TOKEN_LENGTH - 9)}`;
    const per = INVENTORY_DATASET_OVERHEAD + DATASET_NAME_LENGTH + 3 + token.length;
    return { datasets: Math.min(MAX_INVENTORY_DATASETS, Math.floor(budget / per) - 1), snapshots: 0, token, nameLength: 0 };
  }
  const nameLength = shape === 'long-names' ? 255 : 64;
  const datasets = 500;
  const left = budget - datasets * (INVENTORY_DATASET_OVERHEAD + DATASET_NAME_LENGTH + 3);
  return { datasets, snapshots: Math.min(MAX_INVENTORY_SNAPSHOTS, Math.floor(left / (INVENTORY_POINT_OVERHEAD + nameLength)) - 1), token: null, nameLength };
}

async function agent(shape: Shape, scale: number): Promise<void> {
  const p = plan(shape, scale);
  const out = process.stdout;
  out.on('error', () => process.exit(0)); // dom0 refused the inventory and closed the pipe
  const send = async (m: Reply): Promise<void> => {
    if (!out.write(encodeMessage(replySchemas, m))) await new Promise((r) => out.once('drain', r));
  };
  for await (const frame of readFrames(process.stdin)) {
    if (frame.type !== FrameType.CONTROL) continue;
    const request = decodeMessage(requestSchemas, frame.payload);
    if (request.kind === 'hello') {
      await send({ kind: 'hello', protocol: 2, agent: 'bench', zfsVersion: [], receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' }, pool: { name: 'backup', exists: true, features: [] }, unframed: false });
    } else if (request.kind === 'inventory') {
      const name = (i: number): string => (i === 0 ? ROOT : `${ROOT}/vm-${String(i).padStart(30, '0')}`);
      let batch: DatasetInfo[] = [];
      let bytes = 0;
      for (let i = 0; i < p.datasets; i++) {
        const d: DatasetInfo = { name: name(i), type: 'volume', guid: String(1e15 + i), createtxg: String(i + 1), origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: i === 0 ? null : p.token, written: '0' };
        bytes += 200 + (p.token?.length ?? 0);
        batch.push(d);
        if (batch.length >= MAX_INVENTORY_BATCH || bytes > 256 * 1024) {
          await send({ kind: 'inventory-batch', datasets: batch, snapshots: [] });
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length > 0) await send({ kind: 'inventory-batch', datasets: batch, snapshots: [] });
      let points: PointInfo[] = [];
      for (let i = 0; i < p.snapshots; i++) {
        const owner = name(i % p.datasets);
        const label = `s${i}-`.padEnd(p.nameLength - owner.length - 1, 'x');
        points.push({ name: `${owner}@${label}`, type: 'snapshot', guid: String(2e15 + i), createtxg: String(i + 10) });
        if (points.length >= MAX_INVENTORY_BATCH) {
          await send({ kind: 'inventory-batch', datasets: [], snapshots: points });
          points = [];
        }
      }
      if (points.length > 0) await send({ kind: 'inventory-batch', datasets: [], snapshots: points });
      await send({ kind: 'inventory-end', datasets: p.datasets, snapshots: p.snapshots });
    }
  }
}

async function dom0(shape: Shape, scale: number): Promise<void> {
  const p = plan(shape, scale);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'agent', shape, String(scale)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const client = new ReceiverClient(child.stdout, child.stdin, { stopTransport: async () => { child.stdin.end(); await new Promise((r) => child.once('exit', r)); } });
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  const started = process.hrtime.bigint();
  let verdict: string;
  let inventory;
  try {
    await client.hello(ROOT);
    inventory = await client.inventory();
    verdict = `accepted (${inventory.datasets.size} datasets)`;
  } catch (error) {
    verdict = `refused: ${(error as { code?: string }).code}`;
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const held = process.memoryUsage().rss;
  clearInterval(sampler);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const live = process.memoryUsage();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await client.close();
  const mb = (n: number): string => `${Math.round(n / 1e6)} MB`;
  console.log(`${shape.padEnd(11)} ×${scale}: ${p.datasets} datasets${p.token ? ' with 8 KiB tokens' : ''}, ${p.snapshots} snapshots of ${p.nameLength || '-'} chars → ${verdict}; dom0 RSS peak ${mb(peak)} (start ${mb(base)}, holding the result ${mb(held)}${gc ? `; after GC: heap ${mb(live.heapUsed)} + external ${mb(live.external)}, RSS ${mb(live.rss)}` : ''}), ${Math.round(ms)} ms`);
  void inventory;
}

if (process.argv[2] === 'agent') {
  await agent(process.argv[3] as Shape, Number(process.argv[4]));
} else if (process.argv[2] === 'dom0') {
  await dom0(process.argv[3] as Shape, Number(process.argv[4]));
} else {
  const shapes: Shape[] = process.argv[2] ? [process.argv[2] as Shape] : ['tokens', 'long-names', 'short-names'];
  // One dom0 process per run, so one run's garbage does not count against the next.
  for (const shape of shapes) {
    for (const scale of [1, 1.05]) {
      await new Promise<void>((resolve, reject) => {
        const run = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), 'dom0', shape, String(scale)], { stdio: 'inherit' });
        run.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
      });
    }
  }
}
