// The seeded fault-injection suite of `send` (issue #10, "Reliability proof"): interrupts at random
// byte offsets — SIGINT, SIGTERM, SIGKILL of the CLI, SIGKILL of the receiver agent — spread over a
// job of full sends, a progressive job of incremental sends and a job of clone sends, each interrupt
// followed by another `send` that must continue, and the last one complete; then every target is
// checked on the receiver by GUID (source bookmarks too), nothing unplanned there, nothing destroyed
// on either side and no partial state left. All in ONE generated scenario file, so ONE VM boot and
// one system build.
//   npm run test:faults                 (a fresh seed, printed)
//   FAULT_SEED=1234 npm run test:faults (replay)     FAULT_COUNT=N (interrupts, default 21, min 20)
//   FAULT_KEEP=1: print the generated file's path and keep it.   FAULT_TIMEOUT_MIN=N (VM limit, default 75)
// Prints one line per interrupt (kind, signal, offset, what the next run said), then exactly
// "N passed, N failed" (one case per interrupt: its run and the run after it held their expectations
// and the job's final checks held). Exit 0 only if every case passed.
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runScenarioFiles, withHint } from './run-scenarios.ts';

const KiB = 1024;
const MiB = 1024 * 1024;
const R = 'backuppool/backups/mydesktop';

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Fault = 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'kill-agent';
const FAULTS: Fault[] = ['SIGINT', 'SIGTERM', 'SIGKILL', 'kill-agent'];
const EXIT: Record<Fault, number> = { SIGINT: 130, SIGTERM: 130, SIGKILL: 137, 'kill-agent': 1 };

export interface Case {
  kind: 'full' | 'incremental' | 'clone';
  job: string;
  fault: Fault;
  offset: number;
  /** 1-based step numbers in the generated scenario: the interrupted run and the run after it. */
  interruptedStep: number;
  nextStep: number;
}

export interface Suite {
  seed: number;
  scenario: Record<string, unknown>;
  cases: Case[];
  /** Per job: the steps of its final checks (completing run, verify, assertions). */
  finalSteps: Record<string, number[]>;
  /** Steps shared by every case (set-up, the closing assertions). */
  commonSteps: number[];
}

const job = (name: string, label: string, opts: { progressive?: boolean; honour?: boolean; members: string[] }): string =>
  stringify({
    name,
    scope: { 'target-snapshot': label, since: 'beginning', progressive: opts.progressive ?? false, 'honour-origins': opts.honour ?? false },
    'allowed-behaviours': { 'snapshot-creation': true, patching: false },
    receiver: { qube: 'backups-disp', dataset: R },
    'include-groups': ['data'],
    'forgo-groups': [],
    'void-groups': [],
    data: { type: 'datasets', members: opts.members },
  });

/** Builds the suite's scenario from a seed: pure (the unit tests check its shape). */
export function buildSuite(seed: number, count = 21): Suite {
  const rnd = prng(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const steps: Record<string, unknown>[] = [];
  const add = (s: Record<string, unknown>): number => steps.push(s);
  const commonSteps: number[] = [];
  const perKind = [Math.ceil(count / 3), Math.ceil((count - Math.ceil(count / 3)) / 2)];
  const counts = { full: perKind[0]!, incremental: perKind[1]!, clone: count - perKind[0]! - perKind[1]! };
  // Enough data per job that every interrupt lands in a stream: ~3 MiB of stream per interrupt.
  const files: Record<string, string> = {};
  const all: string[] = [];

  // Full sends: N volumes under mainpool/full, each sent full.
  const fullVols = counts.full;
  for (let i = 1; i <= fullVols; i++) {
    const ds = `mainpool/full/f${i}`;
    commonSteps.push(add({ zfs: ['create', '-V', '8M', ds] }), add({ write: { dataset: ds, bytes: `${between(2048, 4096)}K` } }));
    all.push(`${ds}@full-1`);
  }
  all.push('mainpool/full@full-1');
  files['full.yaml'] = job('full', '@full-1', { members: ['mainpool/full'] });

  // Incremental sends: one volume, a snapshot after each write, sent progressively one at a time.
  const incSnaps = counts.incremental + 1;
  for (let i = 1; i <= incSnaps; i++) {
    const snap = `mainpool/inc@inc-${String(i).padStart(2, '0')}`;
    commonSteps.push(add({ write: { dataset: 'mainpool/inc', bytes: `${between(2048, 4096)}K`, offset: `${between(0, 40) * 1024}K` } }), add({ zfs: ['snapshot', snap] }));
    all.push(snap);
  }
  files['inc.yaml'] = job('inc', `@inc-${String(incSnaps).padStart(2, '0')}`, { progressive: true, members: ['mainpool/inc'] });

  // Clone sends: clones of mainpool/cbase@o under mainpool/clones; honour-origins sends the origin
  // (small) first, then each clone as a clone stream.
  for (let i = 1; i <= counts.clone; i++) {
    const ds = `mainpool/clones/c${i}`;
    commonSteps.push(add({ zfs: ['clone', 'mainpool/cbase@o', ds] }), add({ write: { dataset: ds, bytes: `${between(2048, 4096)}K`, offset: `${between(0, 8) * 1024}K` } }));
    all.push(`${ds}@clone-1`);
  }
  all.push('mainpool/clones@clone-1', 'mainpool/cbase@o');
  files['clones.yaml'] = job('clones', '@clone-1', { honour: true, members: ['mainpool/clones'] });

  const cases: Case[] = [];
  const finalSteps: Record<string, number[]> = {};
  const kinds: { kind: Case['kind']; job: string; n: number; stream: number; snaps: string[] }[] = [
    { kind: 'full', job: 'full', n: counts.full, stream: 0, snaps: all.filter((s) => s.startsWith('mainpool/full')) },
    { kind: 'incremental', job: 'inc', n: counts.incremental, stream: 0, snaps: all.filter((s) => s.startsWith('mainpool/inc')) },
    { kind: 'clone', job: 'clones', n: counts.clone, stream: 0, snaps: all.filter((s) => s.startsWith('mainpool/clones') || s.startsWith('mainpool/cbase')) },
  ];
  for (const k of kinds) {
    commonSteps.push(add({ run: `import ${k.job}.yaml`, expect: { exit: 0 } }), add({ run: `snapshot ${k.job}`, expect: { exit: 0 } }));
  }
  for (const k of kinds) {
    // What this job's streams hold at least (the data written; the resumes re-send from the last
    // synced point, so what is left after each interrupt is at least this minus the offsets).
    let remaining = k.n * 2 * MiB + (k.kind === 'incremental' ? 2 * MiB : 0);
    let pending: Case | undefined;
    for (let i = 0; i < k.n; i++) {
      const fault = FAULTS[Math.floor(rnd() * FAULTS.length)]!;
      const hi = Math.max(256 * KiB, Math.min(3 * MiB, Math.floor(remaining / (k.n - i + 1))));
      const offset = between(192 * KiB, hi);
      remaining -= offset;
      const step: Record<string, unknown> = { run: `send ${k.job} --json`, expect: { exit: EXIT[fault] } };
      if (fault === 'kill-agent') step['fault'] = { 'kill-agent-after-bytes': offset };
      else step['interrupt'] = { 'after-bytes': offset, signal: fault };
      if (fault === 'SIGINT' || fault === 'SIGTERM') (step['expect'] as Record<string, unknown>)['stderr-matches'] = '[Rr]un `send` again to continue';
      const n = add(step);
      if (pending) pending.nextStep = n;
      pending = { kind: k.kind, job: k.job, fault, offset, interruptedStep: n, nextStep: -1 };
      cases.push(pending);
    }
    const done = add({ run: `send ${k.job} --json`, expect: { exit: 0, 'ndjson-last': { event: 'summary', exit: 0 } } });
    if (pending) pending.nextStep = done;
    finalSteps[k.job] = [
      done,
      add({ run: `verify ${k.job}`, expect: { exit: 0 } }),
      add({ 'assert-replicated': { snapshots: k.snaps, 'source-bookmarks': true } }),
      add({ 'assert-no-partial-state': {} }),
    ];
  }
  commonSteps.push(add({ 'assert-replicated': { snapshots: all, exact: true } }), add({ 'assert-nothing-destroyed': {} }));

  const scenario = {
    description: `send fault-injection suite, seed ${seed}: ${count} interrupts at random byte offsets over full, incremental and clone sends (generated by test/harness/fault-suite.ts; replay with FAULT_SEED=${seed})`,
    system: {
      pools: [{ name: 'mainpool', size: '384M' }],
      datasets: [
        { name: 'mainpool/full', type: 'filesystem' },
        { name: 'mainpool/inc', type: 'volume', size: '48M' },
        { name: 'mainpool/cbase', type: 'volume', size: '16M', data: '512K', snapshots: ['@o'] },
        { name: 'mainpool/clones', type: 'filesystem' },
      ],
      receiver: { qube: 'backups-disp', pool: 'backuppool', 'pool-size': '320M', dataset: R },
    },
    files,
    steps,
  };
  return { seed, scenario, cases, finalSteps, commonSteps };
}

async function main(): Promise<number> {
  const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : randomInt(1, 2 ** 31 - 1);
  const count = process.env.FAULT_COUNT ? Number(process.env.FAULT_COUNT) : 21;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`FAULT_SEED=${process.env.FAULT_SEED} is not a whole number`);
  if (!Number.isSafeInteger(count) || count < 20) throw new Error(`FAULT_COUNT=${process.env.FAULT_COUNT}: at least 20 interrupts`);
  console.log(`fault-suite: seed ${seed} (replay with FAULT_SEED=${seed}), ${count} interrupts`);
  const suite = buildSuite(seed, count);
  const dir = mkdtempSync(join(tmpdir(), 'qzb-fault-suite-'));
  const file = join(dir, `fault-suite-${seed}.yaml`);
  writeFileSync(file, stringify(suite.scenario, { lineWidth: 0 }));
  if (process.env.FAULT_KEEP) console.log(`fault-suite: scenario file ${file}`);
  const recs = new Map<number, Record<string, unknown>>();
  let final: Record<string, unknown> | undefined;
  // One file of ~60 CLI runs: far more than the default 15 minutes for one file under TCG.
  const timeoutMin = process.env.FAULT_TIMEOUT_MIN ? Number(process.env.FAULT_TIMEOUT_MIN) : 75;
  const summary = await runScenarioFiles([file], {
    timeoutMs: timeoutMin * 60 * 1000,
    onRecord: (rec) => {
      if ('final' in rec) final = rec;
      else if (typeof rec['step'] === 'number') recs.set(rec['step'], rec);
    },
  }).finally(() => {
    if (!process.env.FAULT_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  if (summary.vmUnavailable) {
    console.error(`${process.env.CI === 'true' ? 'fault suite FAILED' : 'fault suite NOT RUN'}: ${withHint(summary.vmError)}`);
    console.log(`0 passed, ${suite.cases.length} failed`);
    return 1;
  }
  const setup = recs.get(0);
  const okStep = (n: number): boolean => recs.get(n)?.['ok'] === true;
  const why = (n: number): string => {
    const r = recs.get(n);
    if (!r) return `step ${n} did not run`;
    return `step ${n}: ${((r['failures'] as string[] | undefined) ?? []).join('; ')}`;
  };
  const commonOk = !setup && suite.commonSteps.every(okStep);
  let passed = 0;
  let failed = 0;
  for (const c of suite.cases) {
    const next = recs.get(c.nextStep);
    const resumed = typeof next?.['stdout'] === 'string' && /"event":"step-start"[^\n]*"resumed":true/.test(next['stdout']);
    const at = (recs.get(c.interruptedStep)?.['interrupted'] as { 'at-bytes'?: number } | undefined)?.['at-bytes'] ?? (recs.get(c.interruptedStep)?.['fault'] as { 'killed-agent-at-bytes'?: number } | undefined)?.['killed-agent-at-bytes'];
    const bad = [c.interruptedStep, c.nextStep, ...suite.finalSteps[c.job]!].filter((n) => !okStep(n));
    const ok = commonOk && bad.length === 0;
    if (ok) passed++;
    else failed++;
    console.log(
      `${ok ? 'PASS' : 'FAIL'} ${c.kind.padEnd(11)} ${c.fault.padEnd(10)} at ${String(c.offset).padStart(8)} bytes (step ${c.interruptedStep}${at !== undefined ? `, landed at ${at}` : ''}); next run (step ${c.nextStep}) exit ${String(next?.['exit'] ?? '-')}${resumed ? ', resumed from a token' : ''}`,
    );
    for (const n of bad) console.log(`     ${why(n)}`);
  }
  if (setup) console.log(`     set-up: ${String(setup['error'] ?? '')}`);
  for (const n of suite.commonSteps.filter((x) => !okStep(x))) console.log(`     common ${why(n)}`);
  if (final && final['ok'] !== true) console.log(`     final: ${String(final['failed'])} failed step(s)`);
  if (summary.vmError) console.error(`VM: ${summary.vmError}`);
  console.log(`[fault-suite] seed ${seed}; zfs ${summary.zfsVersion}; boot ${summary.bootMs} ms; total ${summary.totalMs} ms; logs ${summary.outDir}`);
  console.log(`${passed} passed, ${failed} failed`);
  // A guest executor killed by a signal keeps its 128+N status, so `npm test` can tell a crash from a verdict.
  return failed === 0 && !summary.vmError ? 0 : (summary.crashExit ?? 1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`fault-suite: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
