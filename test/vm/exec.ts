// Run one command as root in a fresh real-OpenZFS test VM and relay its stdout, stderr (both streamed)
// and exit code.
//   node --import tsx test/vm/exec.ts [--timeout SECONDS] [--cwd DIR] [--out DIR] [--env K=V]... [--series 2.1|2.3] [-v] -- <command...>
// Exit code: the command's; 70 when the VM itself failed (boot, ZFS load, timeout: see stderr).
import { runInVm, VmError } from './vm.ts';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`exec.ts: ${msg}\n`);
  process.stderr.write('usage: node --import tsx test/vm/exec.ts [--timeout SECONDS] [--cwd DIR] [--out DIR] [--env K=V]... [--series 2.1|2.3] [-v] -- <command...>\n');
  process.exit(2);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const env: Record<string, string> = {};
  let timeoutMs: number | undefined;
  let cwd: string | undefined;
  let outDir: string | undefined;
  let verbose = false;
  let zfsSeries: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--timeout') {
      const s = Number(next());
      if (!(s > 0)) usage('--timeout needs a positive number of seconds');
      timeoutMs = s * 1000;
    } else if (a === '--cwd') cwd = next();
    else if (a === '--out') outDir = next();
    else if (a === '--series') zfsSeries = next();
    else if (a === '--env') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq <= 0) usage('--env needs K=V');
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '-v' || a === '--verbose') verbose = true;
    else if (a === '-h' || a === '--help') usage();
    else {
      // No "--": the rest is the command.
      break;
    }
  }
  const command = argv.slice(i);
  if (command.length === 0) usage('no command');
  try {
    const r = await runInVm({
      command,
      env,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(outDir !== undefined ? { outDir } : {}),
      ...(zfsSeries !== undefined ? { zfsSeries } : {}),
      onStdoutLine: (line) => process.stdout.write(`${line}\n`),
      onStderrLine: (line) => process.stderr.write(`${line}\n`),
    });
    if (r.crashNote) process.stderr.write(r.crashNote);
    if (verbose) {
      process.stderr.write(`[vm] zfs ${r.zfsVersion}; boot ${r.bootMs} ms; total ${r.totalMs} ms; exit ${r.exitCode}; out ${r.outDir}\n`);
      process.stderr.write(`[vm] stages (ms since qemu start): ${Object.entries(r.stages).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      process.stderr.write(`--- console ---\n${r.console}\n`);
    }
    return r.exitCode;
  } catch (e) {
    if (e instanceof VmError) {
      process.stderr.write(`${e.message}\n`);
      if (verbose) process.stderr.write(`--- console ---\n${e.console}\n`);
      return 70;
    }
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`exec.ts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(70);
  },
);
