// The dom0 command-line entry: command declarations only. Each command is a plain async function in
// dom0/commands/ that returns data; rendering and process.exit happen here, in one place.
import { Command } from 'commander';
import { VERSION } from '../shared/version.ts';

export function buildProgram(): Command {
  const program = new Command('qubes-zfs-backup')
    .description('Back up Qubes OS qubes and dom0 datasets on ZFS to a receiver qube, with zfs send/receive over qrexec.')
    .version(VERSION, '--version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)');
  return program;
}

const program = buildProgram();
await program.parseAsync(process.argv);
