// Planning benchmark: resolveDesignations + computeTargets on a large generated system (5,000 datasets,
// 250,000 snapshots, Qubes layout with clones), against a baseline measured in the same run: one plain
// copy of the same inventory. Budget: the whole plan in under 1 s.
// Run: node --import tsx test/bench/plan.bench.ts [datasets] [snapshotsPerDataset]
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Job } from '../../dom0/job/types.ts';
import type { Qube, QubesInventory, QubesVolume, ZfsDataset, ZfsInventory } from '../../dom0/inventory/types.ts';
import { resolveDesignations } from '../../dom0/plan/resolve.ts';
import { computeTargets } from '../../dom0/plan/targets.ts';

const DATASETS = Number(process.argv[2] ?? 5000);
const SNAPS_PER_DATASET = Number(process.argv[3] ?? 50);
const BUDGET_MS = 1000;

interface System {
  zfs: ZfsInventory;
  qubes: QubesInventory;
  job: Job;
}

// A deterministic system: templates, app qubes (a tenth of them qvm-clones), disposables, dom0 datasets.
function generate(): System {
  let txg = 1000n;
  const datasets: ZfsDataset[] = [];
  const byName = new Map<string, ZfsDataset>();
  const add = (name: string, type: 'filesystem' | 'volume', origin: string | null = null): ZfsDataset => {
    const ds: ZfsDataset = {
      name,
      type,
      guid: 10_000_000_000_000_000_000n + txg,
      createtxg: txg++,
      origin,
      encrypted: false,
      receiveResumeToken: null,
      qubesDirty: type === 'volume' ? 'off' : null,
      snapshots: [],
      bookmarks: [],
    };
    datasets.push(ds);
    byName.set(name, ds);
    return ds;
  };
  const vol = (name: string, vid: string, saveOnStop: boolean): QubesVolume => ({
    name,
    pool: 'main',
    vid,
    saveOnStop,
    snapOnStart: !saveOnStop && name !== 'volatile',
    rw: true,
    source: '',
    revisionsToKeep: 1,
    ephemeral: false,
  });
  add('tank', 'filesystem');
  add('tank/qubes', 'filesystem');
  add('tank/dom0', 'filesystem');
  const qubes: Qube[] = [];
  const templates: string[] = [];
  const apps: string[] = [];
  const disps: string[] = [];
  let i = 0;
  while (datasets.length < DATASETS * 0.9) {
    const kind = i % 20 === 0 ? 'TemplateVM' : i % 20 === 19 ? 'DispVM' : 'AppVM';
    const name = `${kind === 'TemplateVM' ? 'tpl' : kind === 'DispVM' ? 'disp' : 'app'}${i}`;
    const root = `tank/qubes/${name}`;
    const running = i % 7 === 0;
    add(root, 'filesystem');
    const volumes: QubesVolume[] = [];
    if (kind === 'TemplateVM') {
      add(`${root}/root`, 'volume');
      add(`${root}/private`, 'volume');
      volumes.push(vol('root', `${root}/root`, true), vol('private', `${root}/private`, true), vol('volatile', `${root}/volatile`, false));
      templates.push(name);
    } else if (kind === 'AppVM') {
      const cloneOf = i % 10 === 3 && apps.length > 0 ? apps[apps.length - 1] : undefined;
      add(`${root}/private`, 'volume', cloneOf ? `tank/qubes/${cloneOf}/private@s5` : null);
      if (running) {
        add(`${root}/root`, 'volume', `tank/qubes/${templates[templates.length - 1]!}/root@s5`);
        add(`${root}/volatile`, 'volume');
      }
      volumes.push(vol('root', `${root}/root`, false), vol('private', `${root}/private`, true), vol('volatile', `${root}/volatile`, false));
      apps.push(name);
    } else {
      if (running) {
        add(`${root}/root`, 'volume');
        add(`${root}/private`, 'volume');
        add(`${root}/volatile`, 'volume');
      }
      volumes.push(vol('root', `${root}/root`, false), vol('private', `${root}/private`, false), vol('volatile', `${root}/volatile`, false));
      disps.push(name);
    }
    qubes.push({ name, klass: kind, state: running ? 'Running' : 'Halted', volumes });
    i++;
  }
  for (let d = 0; datasets.length < DATASETS; d++) add(`tank/dom0/d${d % 50}${d >= 50 ? `/c${d}` : ''}`, 'filesystem');
  // Snapshots: @s0…@sN in createtxg order; the target @bk in the middle, the base @s10 before it.
  // Every tenth dataset has no @bk yet (pending) and every 25th lacks the base @s10 (full send).
  datasets.forEach((ds, n) => {
    for (let s = 0; s < SNAPS_PER_DATASET; s++) {
      if (s === SNAPS_PER_DATASET - 5 && n % 10 === 0) continue;
      if (s === 10 && n % 25 === 0) continue;
      const label = s === SNAPS_PER_DATASET - 5 ? '@bk' : `@s${s}`;
      ds.snapshots.push({ name: ds.name + label, guid: 20_000_000_000_000_000_000n + txg, createtxg: txg++, creation: 1_700_000_000n });
    }
  });
  datasets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const job: Job = {
    name: 'bench',
    scope: { targetSnapshot: '@bk', since: '@s10', progressive: true, honourOrigins: true },
    allowedBehaviours: { snapshotCreation: true, patching: false },
    receiver: { qube: 'app1', dataset: 'bpool/backups' },
    includeGroups: [{ name: 'apps' }, { name: 'dom0' }],
    forgoGroups: [{ name: 'templates' }],
    voidGroups: [{ name: 'scratch' }],
    groups: [
      { name: 'apps', type: 'qubes', members: apps.filter((a) => a !== 'app1').map((value) => ({ value })) },
      { name: 'dom0', type: 'datasets', members: [{ value: 'tank/dom0' }] },
      { name: 'templates', type: 'qubes', members: templates.map((value) => ({ value })) },
      { name: 'scratch', type: 'datasets', members: [{ value: 'tank/dom0/d7' }] },
    ],
    positions: {},
  };
  return { zfs: { datasets }, qubes: { qubes, pools: [{ name: 'main', driver: 'zfs', container: 'tank/qubes', config: {} }] }, job };
}

// Baseline: a plain copy of every dataset and snapshot object (what any consumer of the inventory pays).
function baseline(zfs: ZfsInventory): number {
  let n = 0;
  const copy = zfs.datasets.map((d) => ({ ...d, snapshots: d.snapshots.map((s) => ({ ...s })), bookmarks: [...d.bookmarks] }));
  for (const d of copy) n += d.snapshots.length;
  return n;
}

// A full collection before each timed section, so no section pays for another's garbage.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function timeIt<T>(f: () => T): { ms: number; value: T } {
  gc();
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const sys = generate();
const snapshotCount = sys.zfs.datasets.reduce((n, d) => n + d.snapshots.length, 0);
console.log(`machine: ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)} (absolute times scale with load; the ratio is steadier)`);
console.log(`inventory: ${sys.zfs.datasets.length} datasets, ${snapshotCount} snapshots, ${sys.qubes.qubes.length} qubes`);

const base: number[] = [];
const resolveMs: number[] = [];
const targetsMs: number[] = [];
const totalMs: number[] = [];
let targetCount = 0;
let findingCodes = '';
for (let run = 0; run < 7; run++) {
  base.push(timeIt(() => baseline(sys.zfs)).ms);
  const r = timeIt(() => resolveDesignations(sys.job, sys.qubes, sys.zfs));
  const t = timeIt(() => computeTargets(sys.job, r.value.designations, sys.qubes, sys.zfs));
  resolveMs.push(r.ms);
  targetsMs.push(t.ms);
  totalMs.push(r.ms + t.ms);
  targetCount = t.value.targets.length;
  const counts = new Map<string, number>();
  for (const f of [...r.value.findings, ...t.value.findings]) counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
  findingCodes = [...counts].map(([c, n]) => `${c}×${n}`).join(', ');
}
const b = median(base);
const total = median(totalMs);
console.log(`plan: ${targetCount} targets; findings: ${findingCodes || 'none'}`);
console.log(`baseline (copy the inventory): ${b.toFixed(1)} ms`);
console.log(`resolveDesignations:           ${median(resolveMs).toFixed(1)} ms`);
console.log(`computeTargets:                ${median(targetsMs).toFixed(1)} ms`);
console.log(`total:                         ${total.toFixed(1)} ms  (${(total / b).toFixed(2)}× baseline; budget ${BUDGET_MS} ms)`);
console.log(`first run (cold):              ${totalMs[0]!.toFixed(1)} ms`);
if (totalMs[0]! > BUDGET_MS || total > BUDGET_MS) console.log('OVER BUDGET');
