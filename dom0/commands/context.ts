// What every command function receives: the adapters (so tests can pass fakes) and the settings
// the CLI resolved. Commands return data; they never print or exit.
import type { Finding } from '../job/findings.ts';
import type { Job } from '../job/types.ts';
import type { QubesInventory, ZfsInventory, ZfsSnapshot } from '../inventory/types.ts';
import type { ResolvedDesignation, Target } from '../plan/types.ts';

/** The pure core, injected so commands can be tested without the other modules' fixtures. */
export interface Core {
  loadJob(text: string): { job: Job | null; findings: Finding[] };
  resolveDesignations(job: Job, qubes: QubesInventory, zfs: ZfsInventory): { designations: ResolvedDesignation[]; findings: Finding[] };
  computeTargets(job: Job, designations: ResolvedDesignation[], qubes: QubesInventory, zfs: ZfsInventory): { targets: Target[]; findings: Finding[] };
}

/** The adapters that touch the system. */
export interface SystemAdapters {
  collectZfs(): Promise<ZfsInventory>;
  collectQubes(): Promise<QubesInventory>;
  createSnapshots(names: readonly string[]): Promise<void>;
  listSnapshots(names: readonly string[]): Promise<ZfsSnapshot[]>;
  /** One Admin API call (settings capture and comparison); absent in tests that need none. */
  adminApi?: (method: string, dest: string, arg?: string) => Promise<string>;
}

// Everything a command function gets.
export interface Context {
  core: Core;
  system: SystemAdapters;
  /** The resolved metadata directory (may not exist: commands that need it check). */
  metadataDir: string;
  cwd: string;
  now(): Date;
  /** A progress or notice line for the user (stderr); never data. */
  notice(line: string): void;
}
