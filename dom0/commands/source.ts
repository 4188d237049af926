// `check <file|name>`: a path to an existing file (or anything that looks like a path) is a job
// file; anything else is the name of an imported job.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { QzbError } from '../../shared/errors.ts';
import { MetadataStore } from '../metadata/store.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import type { Context } from './context.ts';

// Where a job text came from, and its bytes.
export interface JobSource {
  kind: 'file' | 'imported';
  /** The file path, or the job directory's job.yaml. */
  path: string;
  bytes: Buffer;
  text: string;
}

// True when the argument is meant as a file path rather than a job name.
export function looksLikePath(arg: string): boolean {
  return arg.includes('/') || /\.ya?ml$/i.test(arg);
}

// Reads a job file from disk, with a clear error when it cannot.
export async function readJobFile(file: string, ctx: Context): Promise<JobSource> {
  const full = path.resolve(ctx.cwd, file);
  try {
    const bytes = await readFile(full);
    return { kind: 'file', path: file, bytes, text: bytes.toString('utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new QzbError('FILE_NOT_READABLE', `cannot read the job file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`, {
      hint: 'Check the path (relative paths are from the current directory).',
      cause: e,
    });
  }
}

// Finds the job text for a check: an existing file first, else an imported job of that name.
export async function resolveJobSource(arg: string, ctx: Context): Promise<JobSource> {
  const isFile = await stat(path.resolve(ctx.cwd, arg)).then((s) => s.isFile(), () => false);
  if (isFile || looksLikePath(arg)) return readJobFile(arg, ctx);
  await requireMetadataDir(ctx.metadataDir);
  const stored = await new MetadataStore(ctx.metadataDir).read(arg).catch((e: unknown) => {
    if (e instanceof QzbError && e.code === 'JOB_NOT_FOUND') {
      throw new QzbError('JOB_NOT_FOUND', `${JSON.stringify(arg)} is neither a file in ${ctx.cwd} nor an imported job in ${ctx.metadataDir}`, {
        hint: 'Give the path of a job file (e.g. ./backup1.yaml), or the name of a job you imported (see `status`).',
      });
    }
    throw e;
  });
  return { kind: 'imported', path: path.join(stored.dir, 'job.yaml'), bytes: Buffer.from(stored.text, 'utf8'), text: stored.text };
}
