// `check <file|name>`: a path to an existing file (or anything that looks like a path) is a job
// file; anything else is the name of an imported job.
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { QzbError } from '../../shared/errors.ts';
import { shellQuote } from '../../shared/shell.ts';
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

async function isFile(full: string): Promise<boolean> {
  return stat(full).then((s) => s.isFile(), () => false);
}

// Job files close to what was typed: `backup1` → backup1.yaml or backup1.yml; `x.yml` ↔ `x.yaml`.
export async function similarFiles(arg: string, cwd: string): Promise<string[]> {
  const stem = arg.replace(/\.ya?ml$/i, '');
  const candidates = [`${stem}.yaml`, `${stem}.yml`].filter((c) => c !== arg);
  const found: string[] = [];
  for (const c of candidates) if (await isFile(path.resolve(cwd, c))) found.push(c);
  return found;
}

function didYouMean(found: readonly string[], command: string): string {
  return found.length > 0 ? `Did you mean the file ${found.join(' or ')}? Run: qubes-zfs-backup ${command} ${found[0] ?? ''}` : '';
}

/**
 * Reads a job file from disk, with a clear error when it cannot. Only a regular file is read
 * (a device, FIFO or directory is refused by what it is, without reading), and never more than
 * MAX_FILE_BYTES + 1 bytes: the loader then reports FILE_TOO_LARGE.
 */
export async function readJobFile(file: string, ctx: Context, command = 'import'): Promise<JobSource> {
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
    if (code === 'ENOENT') {
      const suggestion = didYouMean(await similarFiles(file, ctx.cwd), command);
      throw new QzbError('FILE_NOT_READABLE', `cannot read the job file ${file}: no such file`, {
        hint: suggestion || `Check the path (relative paths are from the current directory, ${ctx.cwd}).`,
        cause: e,
      });
    }
    throw fail(code === 'EACCES' ? 'permission denied' : (e as Error).message, e);
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

// Finds the job text for a check: an existing file first, else an imported job of that name. When
// it is neither, "no such file" comes first, with the job file the user probably meant.
export async function resolveJobSource(arg: string, ctx: Context): Promise<JobSource> {
  if (looksLikePath(arg) || await isFile(path.resolve(ctx.cwd, arg))) return readJobFile(arg, ctx, 'check');
  const notFound = async (why: string, otherwise: string): Promise<QzbError> => new QzbError('JOB_NOT_FOUND',
    `${JSON.stringify(arg)} is not a file in ${ctx.cwd} (no such file), and ${why}`, {
      hint: didYouMean(await similarFiles(arg, ctx.cwd), 'check') || otherwise,
    });
  try {
    await requireMetadataDir(ctx.metadataDir);
  } catch (e) {
    if (e instanceof QzbError && e.code === 'METADATA_DIR_MISSING') {
      throw await notFound(`no job is imported under that name (the metadata directory ${ctx.metadataDir} does not exist yet)`,
        `Give the path of a job file (e.g. ./backup1.yaml). Imported jobs live in the metadata directory: create it once (mkdir -m 700 ${shellQuote(ctx.metadataDir)}), then import a job file.`);
    }
    throw e;
  }
  const stored = await new MetadataStore(ctx.metadataDir).read(arg).catch(async (e: unknown) => {
    if (e instanceof QzbError && e.code === 'JOB_NOT_FOUND') {
      throw await notFound(`not an imported job in ${ctx.metadataDir}`, 'Give the path of a job file (e.g. ./backup1.yaml), or the name of a job you imported (see `status`).');
    }
    throw e;
  });
  return { kind: 'imported', path: path.join(stored.dir, 'job.yaml'), bytes: Buffer.from(stored.text, 'utf8'), text: stored.text };
}
