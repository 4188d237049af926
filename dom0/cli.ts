// The dom0 command-line entry: command declarations only. Each command is a plain async function in
// dom0/commands/ that returns data; rendering is in dom0/output/, and process.exit happens here,
// in one place.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { isQzbError } from '../shared/errors.ts';
import type { Finding } from './job/findings.ts';
import { VERSION } from '../shared/version.ts';
import { calc } from './commands/calc.ts';
import { check } from './commands/check.ts';
import type { Context } from './commands/context.ts';
import { realCore } from './commands/core.ts';
import { importJob } from './commands/import.ts';
import { send } from './commands/send.ts';
import { settings } from './commands/settings.ts';
import { snapshot } from './commands/snapshot.ts';
import { status } from './commands/status.ts';
import { verify } from './commands/verify.ts';
import { restore } from './commands/restore.ts';
import { progressLine, renderRestore, restoreJson } from './output/restore.ts';
import { startImportWithSize } from './restore/import-volume.ts';
import { receiveVolume, type ReceiveVolume } from './restore/zfs-receive.ts';
import type { ReceiverClient } from './receiver-link/client.ts';
import { collectQubes } from './inventory/collect-qubes.ts';
import { resolveMetadataDir, METADATA_DIR_ENV } from './metadata/dir.ts';
import { calcJson, renderCalc } from './output/calc.ts';
import { checkJson, renderCheck } from './output/check.ts';
import { importJson, renderImport } from './output/import.ts';
import { toJson } from './output/json.ts';
import { MAX_MESSAGE_CHARS, printSafe, printSafeLines, terminalSafe } from './output/safe-text.ts';
import { renderSettings, settingsJson } from './output/settings.ts';
import { renderSnapshot, snapshotJson } from './output/snapshot.ts';
import { SendRenderer } from './output/send.ts';
import { renderStatus, statusJson } from './output/status.ts';
import { renderVerify, verifyJson } from './output/verify.ts';
import { styleFor } from './output/style.ts';
import { adminCall, qubesdSocketPath } from './qubes/client.ts';
import { listSnapshots, listZfsInventory } from './zfs/inventory.ts';
import { createSnapshots } from './zfs/snapshot.ts';
import { cleanupHashClones, hashVolumeSnapshot } from './zfs/content-hash.ts';
import { realSendAdapters } from './send/adapters.ts';

/** Exit statuses (documented in --help and COMMANDS.md). */
export const EXIT = { ok: 0, errors: 1, usage: 2, partial: 3, interrupted: 130 } as const;

const EPILOG = `
Exit status:
  0    done
  1    errors found, or the command failed
  2    usage error (unknown command or option, missing argument)
  3    partially done: run the command again later (e.g. qubes still in use)
  130  interrupted (Ctrl-C); run the command again to continue

Environment:
  ${METADATA_DIR_ENV}   metadata directory (--metadata-dir wins)
  NO_COLOR                        no colour even on a terminal`;

interface GlobalOptions {
  metadataDir?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

// --quiet: text reports leave out findings of severity info (errors and warnings always show).
function shown<T extends { findings: Finding[] }>(r: T, g: GlobalOptions): T {
  return g.quiet ? { ...r, findings: r.findings.filter((f) => f.severity !== 'info') } : r;
}

// Every write goes through terminalSafe (output/safe-text.ts): the last guard against control bytes.
function stdout(text: string): void {
  process.stdout.write(terminalSafe(text, styleFor(process.stdout).color));
}

function stderr(text: string): void {
  process.stderr.write(terminalSafe(text, styleFor(process.stderr).color));
}

function contextFor(g: GlobalOptions): Context {
  const onCommand = g.verbose ? (line: string): void => { stderr(`${printSafeLines(line)}\n`); } : undefined;
  const zfsOptions = onCommand ? { onCommand } : {};
  return {
    core: realCore,
    system: {
      collectZfs: () => listZfsInventory(zfsOptions),
      collectQubes: () => collectQubes({ socketPath: qubesdSocketPath(), ...zfsOptions }),
      createSnapshots: (names) => createSnapshots(names, zfsOptions),
      listSnapshots: (names) => listSnapshots(names, zfsOptions),
      contentHash: {
        hash: (snapshot, o) => hashVolumeSnapshot(snapshot, { ...zfsOptions, ...o }),
        cleanup: () => cleanupHashClones(zfsOptions),
      },
      adminApi: (method, dest, arg, payload) => adminCall(method, dest, arg ?? '', { socketPath: qubesdSocketPath(), ...zfsOptions, ...(payload !== undefined ? { payload } : {}) }),
    },
    send: realSendAdapters(zfsOptions),
    metadataDir: resolveMetadataDir({ flag: g.metadataDir, programUrl: import.meta.url }).dir,
    cwd: process.cwd(),
    now: () => new Date(),
    // --quiet drops notices (e.g. a stale lock taken over); errors still go to stderr.
    notice: (line) => { if (!g.quiet) stderr(`${printSafe(line)}\n`); },
  };
}

// Builds the command tree; `setExit` receives each command's exit status.
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('qubes-zfs-backup')
    .description('Back up Qubes OS qubes and dom0 datasets on ZFS to a receiver qube, with zfs send/receive over qrexec.')
    .version(VERSION, '--version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .addOption(new Option('--metadata-dir <dir>', `metadata directory (default: metadata/ beside the program; or $${METADATA_DIR_ENV})`))
    .option('--json', 'print one machine-readable JSON document on stdout')
    .addOption(new Option('-v, --verbose', 'print every zfs command and Admin API call to stderr (copy-pasteable); stack traces on failures').conflicts('quiet'))
    .option('-q, --quiet', 'print less: no notices on stderr, and no findings of severity info in text reports (errors and warnings always show; --json is unchanged)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: stderr })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EPILOG);

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const style = styleFor(process.stdout);

  program.command('check')
    .argument('<file|name>', 'a job file, or the name of an imported job')
    .option('--file-only', 'check the job file alone, without reading qubesd or zfs (runs anywhere; exit 0 when the file is sound)')
    .description('Check a job file (or an imported job) against this system: designations, omissions, targets, and every problem found')
    .addHelpText('after', EPILOG)
    .action(async (job: string, o: { fileOnly?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await check({ job, fileOnly: o.fileOnly === true }, contextFor(g));
      stdout(g.json ? toJson(checkJson(r)) : renderCheck(shown(r, g), style));
      setExit(r.ok ? EXIT.ok : EXIT.errors);
    });

  program.command('import')
    .argument('<file>', 'the job file to import')
    .option('--replace', 'replace an imported job of the same name (its recorded progress is discarded)')
    .description('Check a job file and, if it has no errors, store it in the metadata directory under its name')
    .addHelpText('after', EPILOG)
    .action(async (file: string, o: { replace?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await importJob({ file, replace: o.replace === true }, contextFor(g));
      stdout(g.json ? toJson(importJson(r)) : renderImport(shown(r, g), file, style));
      setExit(r.ok ? EXIT.ok : EXIT.errors);
    });

  program.command('calc')
    .argument('<name>', 'an imported job')
    .description('List every backup target of an imported job: snapshot, kind, send type, whether it exists, and its state')
    .addHelpText('after', EPILOG)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await calc({ name }, contextFor(g));
      stdout(g.json ? toJson(calcJson(r)) : renderCalc(shown(r, g), style));
      setExit(r.ok ? EXIT.ok : EXIT.errors);
    });

  program.command('snapshot')
    .argument('<name>', 'an imported job')
    .option('--dry-run', 'print the zfs commands that would run, and change nothing')
    .option('--content-hash', "also record in dom0 the SHA-256 of each volume snapshot's bytes (read once through a temporary read-only clone), for restore to verify")
    .description('Create or verify the target snapshots of an imported job; qubes in use are skipped (run again after shutting them down)')
    .addHelpText('after', EPILOG)
    .action(async (name: string, o: { dryRun?: boolean; contentHash?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await snapshot({ name, dryRun: o.dryRun === true, contentHash: o.contentHash === true }, contextFor(g));
      stdout(g.json ? toJson(snapshotJson(r)) : renderSnapshot(shown(r, g), style));
      setExit(r.exitCode);
    });

  program.command('send')
    .argument('<name>', 'an imported job')
    .option('--dry-run', 'list the steps with their send type and size estimate, and change nothing')
    .description('Send the snapshotted targets of an imported job to its receiver qube, resuming where an interrupted send stopped; targets still pending are left for a later run (exit 3)')
    .addHelpText('after', EPILOG)
    .action(async (name: string, o: { dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const mode = g.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain';
      const renderer = new SendRenderer(mode, { write: (t) => { process.stdout.write(t); } }, style);
      const interrupt = new AbortController();
      onInterrupt = (signal) => {
        if (interrupt.signal.aborted) return false;
        process.stderr.write(`\n${signal === 'SIGINT' ? 'interrupted' : `got ${signal}`}: stopping the transfer; the receiver keeps what it got. Run \`send\` again to continue.\n`);
        interrupt.abort();
        return true;
      };
      try {
        const r = await send({ name, dryRun: o.dryRun === true, signal: interrupt.signal, onEvent: (e) => renderer.handle(e) }, contextFor(g));
        setExit(r.exitCode);
      } finally {
        onInterrupt = null;
      }
    });

  program.command('verify')
    .argument('<name>', 'an imported job')
    .description('Check that every target of an imported job is on the receiver with the source snapshot\'s GUID (exit 1 lists what is missing or different)')
    .addHelpText('after', EPILOG)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await verify({ name }, contextFor(g));
      stdout(g.json ? toJson(verifyJson(r)) : renderVerify(r, style));
      setExit(r.ok ? EXIT.ok : EXIT.errors);
    });

  program.command('settings')
    .argument('<name>', 'an imported job')
    .argument('[qube...]', 'only these qubes (default: every qube with captured settings)')
    .option('--diff', 'compare the captured settings with the live system (what changed since this backup)')
    .description('Show the qube settings (prefs, features, tags, firewall, devices, volumes, notes) captured by snapshot for the job\'s target snapshot')
    .addHelpText('after', EPILOG)
    .action(async (name: string, qubes: string[], o: { diff?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await settings({ name, qubes, diff: o.diff === true }, contextFor(g));
      stdout(g.json ? toJson(settingsJson(r)) : renderSettings(r, style, g.verbose === true));
      setExit(EXIT.ok);
    });

  program.command('restore')
    .argument('[name]', 'an imported job (or none, with --receiver and --dataset)')
    .argument('[qube...]', 'the qubes to restore (default: every qube in the backup)')
    .option('--list', 'list what the receiver holds for the job: qubes, labels, volumes, sizes, whether settings are there')
    .option('--label <@label>', 'restore from this backup label (default: the newest one of each qube)')
    .option('--as <new>', 'restore the one qube named under this new name')
    .option('--template <name>', 'use this template where the recorded one does not exist')
    .option('--netvm <name>', 'use this netvm where the recorded one does not exist ("none": no network)')
    .option('--devices', 'apply the recorded device assignments too (R4.2 persistent Attach, R4.3 Assign; best-effort: what cannot be applied is a warning)')
    .option('--accept-settings', 'use settings whose SHA-256 differs from the one recorded at snapshot time')
    .option('--zfs-receive', "receive the volumes with dom0's own zfs receive instead of the import path: later backups stay incremental, but dom0's kernel parses the backup qube's stream (only for a backup qube you trust as much as dom0)")
    .option('--receiver <qube>', 'without metadata: the receiver qube')
    .option('--dataset <dataset>', 'without metadata: the receive root on the receiver')
    .option('--dry-run', 'show the settings and the plan, and change nothing')
    .description('Restore qubes from the backup disk: settings through the Admin API, volume data through Qubes\' own import path (dom0 never parses it); never overwrites a qube')
    .addHelpText('after', EPILOG)
    .action(async (name: string | undefined, qubes: string[], o: { list?: boolean; label?: string; as?: string; template?: string; netvm?: string; devices?: boolean; acceptSettings?: boolean; zfsReceive?: boolean; receiver?: string; dataset?: string; dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const noMetadata = o.receiver !== undefined || o.dataset !== undefined;
      if (noMetadata && (o.receiver === undefined || o.dataset === undefined)) program.error('error: restore: --receiver and --dataset go together', { exitCode: EXIT.usage });
      // Without metadata every positional argument is a qube.
      const jobName = noMetadata ? null : (name ?? null);
      if (!noMetadata && jobName === null) program.error('error: restore: name a job, or give --receiver and --dataset', { exitCode: EXIT.usage });
      const wanted = noMetadata && name !== undefined ? [name, ...qubes] : qubes;
      if (o.label !== undefined && !o.label.startsWith('@')) program.error('error: restore: --label takes a label with its @ (for example @backup-1)', { exitCode: EXIT.usage });
      const verbose = g.verbose ? { onCommand: (l: string) => stderr(`${printSafeLines(l)}\n`) } : {};
      const ctx = {
        ...contextFor(g),
        restore: {
          startImport: (q: string, v: string, size: bigint) => startImportWithSize(q, v, size, verbose),
          receiveVolume: (v: ReceiveVolume, link: Pick<ReceiverClient, 'sendSnapshot'>, onBytes?: (bytes: bigint, estimate: bigint | null) => void) => receiveVolume(v, link, verbose, onBytes),
        },
      };
      // Ctrl-C: a qube being restored stays tagged restore-in-progress (autostart off); say so.
      onInterrupt = () => {
        process.stderr.write('\ninterrupted: a qube being restored stays tagged restore-in-progress with autostart off; run the same restore again to continue it (or qvm-remove it to undo)\n');
        process.exit(EXIT.interrupted);
      };
      const r = await restore({
        name: jobName, receiver: o.receiver ?? null, dataset: o.dataset ?? null, qubes: wanted, list: o.list === true, label: o.label ?? null,
        as: o.as ?? null, template: o.template ?? null, netvm: o.netvm === undefined ? null : o.netvm === 'none' ? '' : o.netvm,
        devices: o.devices === true, acceptSettings: o.acceptSettings === true, zfsReceive: o.zfsReceive === true, dryRun: o.dryRun === true,
      }, ctx, g.quiet || g.json ? undefined : (p) => stderr(`${printSafe(progressLine(p))}\n`));
      onInterrupt = null;
      stdout(g.json ? toJson(restoreJson(r)) : renderRestore(shown(r, g), style));
      setExit(r.ok ? EXIT.ok : EXIT.errors);
    });

  program.command('status')
    .argument('[name]', 'an imported job (default: every job)')
    .description('Show imported jobs and the recorded state of their targets (reads only the metadata directory)')
    .addHelpText('after', EPILOG)
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await status({ name }, contextFor(g));
      stdout(g.json ? toJson(statusJson(r)) : renderStatus(r, style));
      setExit(EXIT.ok);
    });

  // Our own `help [command]`: commander's prints the program help for an unknown name; this one
  // says which name is unknown (exit 2), and lists the commands there are.
  program.helpCommand(false);
  program.command('help')
    .argument('[command]', 'the command to show help for')
    .description('show help for the program or a command')
    .action((name: string | undefined) => {
      if (name === undefined) return void program.outputHelp();
      const found = program.commands.find((c) => c.name() === name);
      if (found) return void found.outputHelp();
      const names = program.commands.map((c) => c.name()).filter((n) => n !== 'help');
      program.error(`error: help: unknown command '${name}' (the commands are: ${names.join(', ')})`, { exitCode: EXIT.usage, code: 'commander.unknownCommand' });
    });
  return program;
}

function reportError(e: unknown, g: GlobalOptions): number {
  const style = styleFor(process.stderr);
  if (isQzbError(e)) {
    stderr(`${style.red('error:')} ${printSafe(e.message)} [${printSafe(e.code)}]\n${e.hint ? `  ${printSafe(e.hint)}\n` : ''}`);
    if (g.verbose && e.stack) stderr(`${printSafeLines(e.stack, MAX_MESSAGE_CHARS)}\n`);
    if (g.json) stdout(toJson({ ok: false, error: { code: e.code, message: e.message, hint: e.hint ?? null } }));
    return EXIT.errors;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code ?? 'UNEXPECTED';
  stderr(`${style.red('error:')} unexpected failure: ${printSafe(err.message)} [${printSafe(String(code))}]\n${g.verbose ? `${printSafeLines(err.stack ?? '', MAX_MESSAGE_CHARS)}\n` : '  Run again with --verbose for details, and report it if it persists.\n'}`);
  if (g.json) stdout(toJson({ ok: false, error: { code, message: err.message, hint: null } }));
  return EXIT.errors;
}

// The --json document of a usage error (commander has printed the message on stderr already).
function usageErrorJson(e: CommanderError): unknown {
  const message = e.code === 'commander.help' ? 'no command given' : e.message.replace(/^error: /, '');
  return { ok: false, error: { code: 'USAGE_ERROR', message, hint: 'Run with --help for usage.' } };
}

// Parses argv, runs one command, and returns the exit status (never throws).
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((c) => { exitCode = c; });
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, --version and `help` exit 0; a bare invocation or a bad option exits 2.
      if (e.exitCode === 0) return EXIT.ok;
      if (argv.includes('--json')) stdout(toJson(usageErrorJson(e)));
      return EXIT.usage;
    }
    return reportError(e, program.opts<GlobalOptions>());
  }
  return exitCode;
}

/** A running command's own handling of Ctrl-C/SIGTERM (send stops cleanly); false: exit at once. */
let onInterrupt: ((signal: NodeJS.Signals) => boolean) | null = null;

// True when this file is the program being run (the bundle, or dom0/cli.ts from source), not a module
// a test imported for buildProgram; symlinks on PATH are resolved on both sides.
function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isProgram()) {
  // A closed pipe on stdout (`| head`) is not a failure worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (onInterrupt?.(signal)) return;
      process.stderr.write('\ninterrupted; nothing is left half-done: run the same command again to continue\n');
      process.exit(EXIT.interrupted);
    });
  }
  const code = await main(process.argv);
  process.exitCode = code;
}
