// Where the metadata lives: `metadata/` beside the installed program (as in the seed), unless
// --metadata-dir or QUBES_ZFS_BACKUP_METADATA_DIR says otherwise. Never created implicitly: a
// missing directory is an error that says how to create it.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QzbError } from '../../shared/errors.ts';
import { shellQuote } from '../../shared/shell.ts';

/** Environment variable that overrides the default metadata directory. */
export const METADATA_DIR_ENV = 'QUBES_ZFS_BACKUP_METADATA_DIR';

// The inputs that choose the metadata directory.
export interface MetadataDirSource {
  /** The --metadata-dir flag, if given (wins over everything). */
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** import.meta.url of the running program (the bundle, or dom0/cli.ts in development). */
  programUrl: string;
}

// The default directory for a program URL: `<dir of program>/metadata`; in development (running
// dom0/cli.ts from source) the repository's `metadata/`, so it never lands inside the sources.
export function defaultMetadataDir(programUrl: string): string {
  const file = fileURLToPath(programUrl);
  const dir = path.dirname(file);
  if (file.endsWith('.ts')) return path.resolve(dir, '..', 'metadata');
  return path.join(dir, 'metadata');
}

// Picks the metadata directory: flag, then environment, then the default.
export function resolveMetadataDir(source: MetadataDirSource): { dir: string; from: 'flag' | 'env' | 'default' } {
  if (source.flag) return { dir: path.resolve(source.flag), from: 'flag' };
  const env = (source.env ?? process.env)[METADATA_DIR_ENV];
  if (env) return { dir: path.resolve(env), from: 'env' };
  return { dir: defaultMetadataDir(source.programUrl), from: 'default' };
}

// Fails with a clear message unless `dir` exists and is a directory.
export async function requireMetadataDir(dir: string): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new QzbError('METADATA_DIR_MISSING', `the metadata directory ${dir} does not exist`, {
        hint: `Create it with: mkdir -m 700 ${shellQuote(dir)}   (or choose another with --metadata-dir or ${METADATA_DIR_ENV})`,
      });
    }
    throw new QzbError('METADATA_DIR_UNREADABLE', `cannot open the metadata directory ${dir}: ${(e as Error).message}`, {
      hint: 'Run as root, or choose another directory with --metadata-dir.',
      cause: e,
    });
  }
  if (!s.isDirectory()) {
    throw new QzbError('METADATA_DIR_MISSING', `the metadata path ${dir} exists but is not a directory`, {
      hint: `Move it away and create the directory with: mkdir -m 700 ${shellQuote(dir)}`,
    });
  }
}
