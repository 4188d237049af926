// The README's dom0 install, done as written: the bundle copied to /root/qzb-style directory with
// mode 0755, a metadata directory beside it, and a symlink (or a two-line wrapper) on PATH. Run by
// its name, it finds node through its shebang and its metadata directory through the symlink, and
// `check --file-only` checks a job file with no qubesd or zfs anywhere.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'qzb-install-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const JOB = `name: first
scope:
  target-snapshot: "@backup-1"
  since: beginning
  progressive: no
  honour-origins: no
allowed-behaviours:
  snapshot-creation: yes
  patching: no
receiver:
  qube: backups
  dataset: backuppool/backups/x
include-groups: [core]
forgo-groups: []
void-groups: []
core:
  type: qubes
  members: [work]
`;

// Steps 2–5 of the README, in a temporary root.
function install(): { qzb: string; bin: string; env: NodeJS.ProcessEnv } {
  const dist = path.join(tmp, 'dist');
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', dist], { cwd: root, stdio: 'pipe' });
  const qzb = path.join(tmp, 'root', 'qzb');
  mkdirSync(path.join(qzb, 'metadata'), { recursive: true, mode: 0o700 });
  copyFileSync(path.join(dist, 'qubes-zfs-backup.mjs'), path.join(qzb, 'qubes-zfs-backup.mjs'));
  chmodSync(path.join(qzb, 'qubes-zfs-backup.mjs'), 0o755);
  const bin = path.join(tmp, 'usr-local-bin');
  mkdirSync(bin);
  symlinkSync(path.join(qzb, 'qubes-zfs-backup.mjs'), path.join(bin, 'qubes-zfs-backup'));
  // Only what root's PATH has: the symlink's directory and node's; no test variables.
  const env = { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmp };
  return { qzb, bin, env };
}

test('installed as the README says: the shebang, the symlink, the metadata directory, check --file-only', () => {
  const { qzb, bin, env } = install();
  const bundle = readFileSync(path.join(qzb, 'qubes-zfs-backup.mjs'), 'utf8');
  assert.equal(bundle.split('\n')[0], '#!/usr/bin/env node');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const run = (cmd: string, args: string[], cwd = tmp) => spawnSync(cmd, args, { cwd, env, encoding: 'utf8' });

  const version = run('qubes-zfs-backup', ['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  // The metadata directory is found beside the real file, through the symlink.
  const status = run('qubes-zfs-backup', ['--json', 'status']);
  assert.equal(status.status, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { metadataDir: string }).metadataDir, path.join(qzb, 'metadata'));
  // A job file checked on its own, anywhere.
  writeFileSync(path.join(tmp, 'backup1.yaml'), JOB);
  const check = run('qubes-zfs-backup', ['check', '--file-only', 'backup1.yaml']);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /OK: the job file is sound/);

  // The wrapper variant, for a node that is not on PATH by that name.
  const wrapper = path.join(bin, 'qzb-wrapper');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${path.join(qzb, 'qubes-zfs-backup.mjs')} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const wrapped = spawnSync(wrapper, ['--json', 'status'], { cwd: tmp, env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
  assert.equal(wrapped.status, 0, wrapped.stderr);
  assert.equal((JSON.parse(wrapped.stdout) as { metadataDir: string }).metadataDir, path.join(qzb, 'metadata'));
});
