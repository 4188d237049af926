// `check <file|name>`: a path to an existing file (or anything that looks like a path) is a job
// file; anything else is the name of an imported job.
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { QzbError } from '../../shared/errors.ts';
import { MetadataStore } from '../metadata/store.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MAX_FILE_BYTES } from '../job/yaml-source.ts';
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

// What a non-regular file is, in words.
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * Reads a job file from disk, with a clear error when it cannot. Only a regular file is read
 * (a device, FIFO or directory is refused by what it is, without reading), and never more than
 * MAX_FILE_BYTES + 1 bytes: the loader then reports FILE_TOO_LARGE.
 */
export async function readJobFile(file: string, ctx: Context): Promise<JobSource> {
  const full = path.resolve(ctx.cwd, file);
  const fail = (why: string, cause?: unknown): QzbError => new QzbError('FILE_NOT_READABLE', `cannot read the job file ${file}: ${why}`, {
    hint: 'Give the path of a job file (relative paths are from the current directory).',
    cause,
  });
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not hang (it is refused just below).
    handle = await open(full, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message, e);
  }
  try {
    // fstat of the opened file: what is read is what was checked.
    const s = await handle.stat();
    if (!s.isFile()) throw fail(`it is ${kindOf(s)}, not a regular file (a job file is a YAML text file)`);
    // Not sized from st_size: files in /proc and /sys say 0 and have content.
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const bytes = buffer.subarray(0, length);
    return { kind: 'file', path: file, bytes, text: bytes.toString('utf8') };
  } catch (e) {
    if (e instanceof QzbError) throw e;
    throw fail(e instanceof Error ? e.message : String(e), e);
  } finally {
    await handle.close();
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
