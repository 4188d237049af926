// The program's version: the bundler replaces __QZB_VERSION__ with package.json's version; run from
// source (`npm run cli`, tests) it is read from package.json, so both say the same.
import { readFileSync } from 'node:fs';

declare const __QZB_VERSION__: string | undefined;

function sourceVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0-dev';
  } catch {
    return '0.0.0-dev';
  }
}

/** The version printed by --version and sent in the protocol hello. */
export const VERSION: string = typeof __QZB_VERSION__ === 'string' ? __QZB_VERSION__ : sourceVersion();
