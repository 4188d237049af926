// `npm run scenario -- FILE…`: runs scenario files (SCENARIOS.md) in ONE test-VM boot and prints
// one NDJSON record per step, then one {"final": …} record per file. With several files every record
// carries "scenario": "<file>". Exit 0 iff every step ran and every expect held; 1 otherwise
// (including an invalid scenario file or a VM that is not available).
//
// Also the library behind `npm run demo` and the VM suite: runScenarioFiles() validates, builds
// dist/, bundles the guest executor, boots the VM and streams the records back.
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadScenario, ScenarioError } from './scenario.ts';
import type { NScenario } from './scenario.ts';
import type { Plan } from './guest/main.ts';
import { runInVm, vmAvailable, VmError } from '../vm/vm.ts';
import { buildViewBinary } from './view-binary.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunOptions {
  /** Each record as the guest emitted it (always with a "scenario" field). */
  onRecord: (rec: Record<string, unknown>) => void;
  /** Progress and diagnostics (stderr by default). */
  log?: (line: string) => void;
  /** Skip `node scripts/build.mjs` (the caller built dist/ already). */
  skipBuild?: boolean;
  timeoutMs?: number;
}

export interface RunSummary {
  ok: boolean;
  /** Per scenario file: did every step run and every expect hold. */
  results: { file: string; ok: boolean; steps: number; failed: number; final: boolean }[];
  bootMs: number;
  totalMs: number;
  outDir: string;
  zfsVersion: string;
  /** Set when the VM could not run at all (not available, failed to boot, …). */
  vmError?: string;
  vmUnavailable?: boolean;
  /** The guest executor's exit code when a signal killed it (129+): a crash, not a verdict. */
  crashExit?: number;
}

/** Reads and validates every file; throws ScenarioError listing the problems of the first bad one. */
export async function loadAll(files: string[]): Promise<NScenario[]> {
  const out: NScenario[] = [];
  const errors: ScenarioError[] = [];
  for (const f of files) {
    try {
      out.push(await loadScenario(f));
    } catch (e) {
      if (e instanceof ScenarioError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length) throw new ScenarioError(`${errors.length} scenario files`, errors.map((e) => e.message));
  return out;
}

/** A reason with the provisioning hint appended once. */
export function withHint(why: string | undefined): string {
  const w = why ?? 'VM not available';
  return w.includes('vm:provision') ? w : `${w} (run npm run vm:provision)`;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

export async function runScenarioFiles(files: string[], opts: RunOptions): Promise<RunSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const scenarios = await loadAll(files);
  const outDir = join(REPO, '.cache', 'scenario-runs', `${stamp()}-${process.pid}`);
  await mkdir(outDir, { recursive: true });
  const summary: RunSummary = { ok: false, results: [], bootMs: -1, totalMs: -1, outDir, zfsVersion: '' };

  const avail = await vmAvailable();
  if (!avail.ok) {
    summary.vmError = avail.why ?? 'VM not available';
    summary.vmUnavailable = true;
    return summary;
  }

  if (!opts.skipBuild) {
    log('[scenario] building dist/ (node scripts/build.mjs)');
    const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`node scripts/build.mjs failed (exit ${b.status}):\n${b.stderr || b.stdout}`);
  }
  await build({
    absWorkingDir: REPO,
    entryPoints: [join(REPO, 'test/harness/guest/main.ts')],
    outfile: join(outDir, 'guest.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18.18',
    logLevel: 'warning',
  });
  // The programs under test: a copy of the bundles as built now, so a rebuild of dist/ while the VM
  // runs (another terminal, another run) cannot swap them half-way.
  const distDir = join(outDir, 'dist');
  await mkdir(distDir, { recursive: true });
  for (const f of ['qubes-zfs-backup.mjs', 'qubes-zfs-backup-receiver.mjs', 'SHA256SUMS']) await copyFile(join(REPO, 'dist', f), join(distDir, f));
  // The views' fast path (bin/zfs-view.c); without a C compiler the bash views do it all, slower.
  const viewBin = join(outDir, 'zfs-view-fast');
  const viewWhy = buildViewBinary(viewBin);
  if (viewWhy !== null) log(`[scenario] the zfs views run in bash only (slower): ${viewWhy}`);
  const plan: Plan = { repo: REPO, distDir, outDir, scenarios, viewBin: viewWhy === null ? viewBin : null };
  await writeFile(join(outDir, 'plan.json'), JSON.stringify(plan, null, 1));
  for (const [i, f] of files.entries()) await copyFile(f, join(outDir, `s${i}-${basename(f)}`));

  const seen = new Map<string, { steps: number; failed: number; final: boolean; ok: boolean }>();
  for (const s of scenarios) seen.set(s.file, { steps: 0, failed: 0, final: false, ok: false });
  log(`[scenario] booting the test VM for ${scenarios.length} scenario file(s); logs in ${outDir}`);
  try {
    const r = await runInVm({
      // QZB_SCENARIO_STRACE=1 (a tool for finding where time goes): every exec and exit in the
      // guest, timestamped, in strace.txt beside the records (strace's seccomp filter keeps the cost low).
      command: [
        ...(process.env['QZB_SCENARIO_STRACE'] === '1' ? ['strace', '-f', '-tt', '--seccomp-bpf', '-e', 'trace=execve,exit_group', '-e', 'signal=none', '-s', '200', '-o', join(outDir, 'strace.txt')] : []),
        process.execPath, join(outDir, 'guest.mjs'), join(outDir, 'plan.json'),
      ],
      cwd: REPO,
      outDir,
      // QZB_SCENARIO_CPU_PROF=1 (the same kind of tool): every CLI run writes a V8 CPU profile
      // (.cpuprofile, for Chrome's DevTools) into cpu-prof/ beside the records.
      ...(process.env['QZB_SCENARIO_CPU_PROF'] === '1' ? { env: { QZB_SCENARIO_CPU_PROF: join(outDir, 'cpu-prof') } } : {}),
      // TCG is slow: 10 minutes plus 5 per scenario file, unless the caller says otherwise.
      timeoutMs: opts.timeoutMs ?? (10 + 5 * scenarios.length) * 60 * 1000,
      onStdoutLine: (line) => {
        appendFileSync(join(outDir, 'records.ndjson'), `${line}\n`);
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          log(`[guest stdout] ${line}`);
          return;
        }
        const st = seen.get(String(rec['scenario']));
        if (st) {
          if ('final' in rec) {
            st.final = true;
            st.ok = rec['ok'] === true;
          } else {
            st.steps++;
            if (rec['ok'] !== true) st.failed++;
          }
        }
        opts.onRecord(rec);
      },
    });
    summary.bootMs = r.bootMs;
    summary.totalMs = r.totalMs;
    summary.zfsVersion = r.zfsVersion;
    await writeFile(join(outDir, 'guest-stderr.txt'), r.stderr);
    if (r.stderr.trim()) for (const l of r.stderr.trim().split('\n')) log(l);
    if (r.exitCode !== 0 && r.exitCode !== 1) summary.vmError = `the guest executor exited ${r.exitCode}${r.signal ? ` (killed by ${r.signal})` : ''} (see ${join(outDir, 'guest-stderr.txt')})`;
    if (r.signal) summary.crashExit = r.exitCode;
  } catch (e) {
    if (e instanceof VmError) {
      summary.vmError = e.message;
      await writeFile(join(outDir, 'vm-console.txt'), e.console).catch(() => undefined);
    } else throw e;
  }
  for (const s of scenarios) {
    const st = seen.get(s.file)!;
    summary.results.push({ file: s.file, ok: st.final && st.ok && st.failed === 0, steps: st.steps, failed: st.failed, final: st.final });
  }
  summary.ok = !summary.vmError && summary.results.every((x) => x.ok);
  return summary;
}

async function main(): Promise<number> {
  const files = process.argv.slice(2);
  if (files.length === 0 || files.includes('--help') || files.includes('-h')) {
    process.stderr.write('usage: npm run scenario -- FILE.yaml [FILE.yaml …]\n(format: test/harness/README.md)\n');
    return files.length === 0 ? 2 : 0;
  }
  const many = files.length > 1;
  try {
    const summary = await runScenarioFiles(files, {
      onRecord: (rec) => {
        if (!many) delete rec['scenario'];
        process.stdout.write(`${JSON.stringify(rec)}\n`);
      },
    });
    if (summary.vmUnavailable) {
      process.stderr.write(`scenario: the ZFS test VM is not available: ${withHint(summary.vmError)}\n`);
      return 1;
    }
    if (summary.vmError) process.stderr.write(`scenario: ${summary.vmError}\n`);
    for (const r of summary.results) {
      if (!r.final) process.stderr.write(`scenario: ${r.file}: did not finish (no final record)\n`);
    }
    process.stderr.write(`[scenario] ${summary.results.filter((r) => r.ok).length}/${summary.results.length} file(s) ok; VM boot ${summary.bootMs} ms, total ${summary.totalMs} ms, zfs ${summary.zfsVersion}\n`);
    return summary.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof ScenarioError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`scenario: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
