// Real processes standing in for `zfs` in the process-handling tests (no ZFS semantics): small shell
// scripts in a temporary directory removed after the file's tests, and a liveness probe.
import { test } from 'node:test';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A directory for stand-ins (removed after the calling test file) and a maker of scripts in it. */
export function standIns(prefix: string): { dir: string; standIn: (name: string, script: string) => string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  test.after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    standIn: (name, script) => {
      const p = path.join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${script}\n`);
      chmodSync(p, 0o755);
      return p;
    },
  };
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
