// `npm run demo`: the built-in scenario (test/harness/demo-scenario.yaml: a small Qubes system like
// the seed's, with the seed's job file) run in the ZFS test VM, printed for people: each step, the
// command line and the tool's own output. Exit 0 when the VM ran the whole demo (the tool's exit
// statuses are shown, not judged), 1 when the VM could not run it.
import { join } from 'node:path';
import { REPO, runScenarioFiles, withHint } from './run-scenarios.ts';
import { quoteArgv } from '../../dom0/zfs/runner.ts';

const file = join(REPO, 'test/harness/demo-scenario.yaml');
const useColour = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string): string => (useColour ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (useColour ? `\x1b[2m${s}\x1b[0m` : s);

function indent(text: string): string {
  return text.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n');
}

function show(rec: Record<string, unknown>): void {
  if ('final' in rec) {
    const final = rec['final'] as { source?: { name: string; type: string }[]; receiver?: { name: string; type: string }[] };
    const made = (final.source ?? []).filter((d) => d.type === 'snapshot' && !/@qubes[-:]/.test(d.name));
    console.log(`\n${bold('== At the end')}`);
    console.log(`dom0 side: ${final.source?.length ?? 0} datasets/snapshots/bookmarks; snapshots not made by Qubes:`);
    console.log(indent(made.map((d) => d.name).join('\n') || '(none)'));
    console.log(`receiver side (${final.receiver?.length ?? 0} entries):`);
    console.log(indent((final.receiver ?? []).map((d) => `${d.name}  ${d.type}`).join('\n') || '(none)'));
    return;
  }
  const n = String(rec['step']);
  if (rec['setup']) {
    console.log(`\n${bold('!! building the simulated system failed:')} ${String(rec['error'])}`);
    return;
  }
  if (rec['run']) {
    console.log(`\n${bold(`[${n}] $ qubes-zfs-backup ${quoteArgv(rec['run'] as string[])}`)}`);
    if (rec['stdout']) console.log(indent(String(rec['stdout'])));
    if (rec['stderr']) console.log(dim(indent(String(rec['stderr']))));
    console.log(dim(`  (exit ${String(rec['exit'])}, ${(Number(rec['ms']) / 1000).toFixed(1)} s in the VM)`));
  } else if (rec['qube']) {
    console.log(`\n${bold(`[${n}] qube ${String(rec['qube'])}`)}${rec['ok'] ? '' : `  FAILED: ${String(rec['error'])}`}`);
  } else {
    const kind = ['zfs', 'zpool', 'receiver-zfs', 'receiver-zpool'].find((k) => k in rec) ?? 'step';
    const who = kind.startsWith('receiver-') ? `(in the receiver qube) ${kind.slice('receiver-'.length)}` : kind;
    console.log(`\n${bold(`[${n}] $ ${who} ${quoteArgv((rec[kind] as string[]) ?? [])}`)}`);
    if (rec['stdout']) console.log(indent(String(rec['stdout'])));
    if (rec['stderr']) console.log(dim(indent(String(rec['stderr']))));
  }
}

async function main(): Promise<number> {
  console.log(bold('qubes-zfs-backup demo: a simulated Qubes system on real ZFS (test VM)'));
  console.log(dim('qubes: fedora-41-xfce (template), work (running), personal-email, vault, default-dvm, sys-usb (disposable);'));
  console.log(dim('dom0 dataset mainpool/dom0; receiver qube backups-disp with pool backuppool. Job file: backup1.yaml (the seed\'s).'));
  const summary = await runScenarioFiles([file], { onRecord: show, log: (l) => console.error(dim(l)) });
  if (summary.vmUnavailable) {
    console.error(`demo: the ZFS test VM is not available: ${withHint(summary.vmError)}`);
    return 1;
  }
  if (summary.vmError) {
    console.error(`demo: ${summary.vmError}`);
    return 1;
  }
  console.log(dim(`\n(VM boot ${(summary.bootMs / 1000).toFixed(1)} s, whole demo ${(summary.totalMs / 1000).toFixed(1)} s, OpenZFS ${summary.zfsVersion})`));
  return summary.results.every((r) => r.final) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`demo: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
