// What the VM benchmarks share: one generated scenario run in one VM boot, its step records by
// number, the failures printed, and the exit status (1 only when something did not run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenarioFiles, withHint } from '../harness/run-scenarios.ts';

/** One step's record, as the harness writes it. */
export interface Rec {
  step?: number;
  exit?: number;
  ms?: number;
  ok?: boolean;
  stdout?: string;
  stderr?: string;
  failures?: string[];
  cpu?: { 'user-ms': number; 'sys-ms': number };
  'send-cpu'?: { 'user-ms': number; 'sys-ms': number };
  [k: string]: unknown;
}

export const fmt = (x: number, d = 3): string => x.toFixed(d);

/** Runs the scenario `text` in one VM boot and hands its records to `report`; the exit status. */
export async function runBench(name: string, text: string, report: (recs: Map<number, Rec>) => void): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), `qzb-${name}-bench-`));
  const file = join(dir, `${name}-bench.yaml`);
  writeFileSync(file, text);
  const recs = new Map<number, Rec>();
  const summary = await runScenarioFiles([file], {
    onRecord: (rec) => {
      if (typeof rec['step'] === 'number') recs.set(rec['step'], rec as Rec);
    },
    timeoutMs: 60 * 60 * 1000,
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
  if (summary.vmUnavailable) {
    console.error(`${name} bench NOT RUN: ${withHint(summary.vmError)}`);
    return 1;
  }
  const bad = [...recs.values()].filter((r) => r.ok !== true);
  for (const r of bad) console.error(`step ${r.step} failed: ${(r.failures ?? []).join('; ')}${r.stderr ? ` — ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`);
  if (recs.get(0)) console.error(`set-up failed: ${String(recs.get(0)!['error'])}`);
  report(recs);
  console.log(`[${name} bench] zfs ${summary.zfsVersion}; boot ${summary.bootMs} ms; total ${summary.totalMs} ms; logs ${summary.outDir}`);
  return bad.length === 0 && !summary.vmError ? 0 : 1;
}

/** Runs `main` when `moduleUrl` is the script node was started with (not when a test imports it). */
export function runIfMain(moduleUrl: string, name: string, main: () => Promise<number>): void {
  if (!process.argv[1] || fileURLToPath(moduleUrl) !== process.argv[1]) return;
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`${name} bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
