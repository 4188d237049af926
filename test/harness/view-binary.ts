// Builds bin/zfs-view.c (the views' fast path) on the host, for the guest to run: the guest sees the
// host's files, and compiling there under emulation would take seconds per boot.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const VIEW_SOURCE = fileURLToPath(new URL('./bin/zfs-view.c', import.meta.url));

/** Compiles the fast path to `out`; null when it built, else why not (no C compiler, an error).
 *  No -Werror: a newer compiler's new warning must not turn the fast path off. */
export function buildViewBinary(out: string): string | null {
  let why = 'no C compiler (cc or gcc) on PATH';
  for (const cc of ['cc', 'gcc']) {
    const r = spawnSync(cc, ['-O2', '-o', out, VIEW_SOURCE], { encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
    if (r.status === 0) return null;
    why = `${cc} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}`;
    break;
  }
  return why;
}
