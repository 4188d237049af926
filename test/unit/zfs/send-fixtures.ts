// Reads the real `zfs send` recordings of fixtures/send/ (OpenZFS 2.3.2, see README.md there).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('./fixtures/send/', import.meta.url));

/** One recorded file's text ('' for a file that was not written). */
export function sendFixture(name: string): string {
  return existsSync(dir + name) ? readFileSync(dir + name, 'utf8') : '';
}

/** A recorded case: stdout, stderr and exit status. */
export function sendCase(name: string): { stdout: string; stderr: string; exitCode: number } {
  return { stdout: sendFixture(`${name}.out`), stderr: sendFixture(`${name}.err`), exitCode: Number(sendFixture(`${name}.exit`).trim()) };
}

/** A recorded token (trailing newline removed). */
export function recordedToken(name: string): string {
  return sendFixture(`token-${name}.txt`).trim();
}

/** Decimal GUIDs by name from `zfs list -H -p -t all -o name,guid` before anything was destroyed. */
export function recordedGuids(): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const line of sendFixture('guids-before.txt').split('\n')) {
    const [name, guid] = line.split('\t');
    if (name && guid) m.set(name, BigInt(guid));
  }
  return m;
}

export const fixtureDir = dir;
