// The shipped bundles: reproducible bytes, self-contained (no node_modules beside them), and running
// on the Node versions Qubes dom0 ships (18.18 on 4.2, 22 on 4.3), with exactly five runtime packages.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectReceiver } from '../../dom0/receiver-link/spawn.ts';
import { PROTOCOL_VERSION } from '../../shared/protocol/limits.ts';
// @ts-expect-error plain .mjs helper without type declarations
import { NODE_VERSIONS, nodeBinary } from '../../scripts/node-binaries.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOM0 = 'qubes-zfs-backup.mjs';
const RECEIVER = 'qubes-zfs-backup-receiver.mjs';

function buildInto(dir: string): string {
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', dir], { cwd: root, stdio: 'pipe' });
  return readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8');
}

// One build serves every Node-version test (the reproducibility test makes its own two).
let sharedBuild: string | undefined;
function builtOnce(): string {
  if (sharedBuild === undefined) {
    sharedBuild = mkdtempSync(path.join(os.tmpdir(), 'qzb-build-'));
    buildInto(sharedBuild);
  }
  return sharedBuild;
}
after(() => {
  if (sharedBuild !== undefined) rmSync(sharedBuild, { recursive: true, force: true });
});

test('runtime dependencies are exactly yaml, zod, execa, msgpackr, commander', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['commander', 'execa', 'msgpackr', 'yaml', 'zod']);
  for (const [name, range] of Object.entries(pkg.dependencies)) assert.match(range, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
});

test('two builds of the same source are byte-identical', () => {
  const a = mkdtempSync(path.join(os.tmpdir(), 'qzb-build-a-'));
  const b = mkdtempSync(path.join(os.tmpdir(), 'qzb-build-b-'));
  try {
    const sumsA = buildInto(a);
    const sumsB = buildInto(b);
    assert.equal(sumsA, sumsB);
    assert.match(sumsA, new RegExp(`^[0-9a-f]{64}  ${DOM0}\n[0-9a-f]{64}  ${RECEIVER}\n$`));
    for (const f of [DOM0, RECEIVER]) assert.ok(readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

for (const version of NODE_VERSIONS as string[]) {
  test(`bundles run on Node ${version} with no node_modules beside them`, () => {
    const node = nodeBinary(version) as string;
    const built = builtOnce();
    const lonely = mkdtempSync(path.join(os.tmpdir(), 'qzb-lonely-'));
    try {
      for (const f of [DOM0, RECEIVER]) copyFileSync(path.join(built, f), path.join(lonely, f));
      const env = { PATH: '/usr/bin:/bin', HOME: lonely };
      const help = spawnSync(node, [path.join(lonely, DOM0), '--help'], { cwd: lonely, env, encoding: 'utf8' });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /Usage: qubes-zfs-backup/);
      const ver = spawnSync(node, [path.join(lonely, DOM0), '--version'], { cwd: lonely, env, encoding: 'utf8' });
      assert.equal(ver.status, 0, ver.stderr);
      const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
      assert.equal(ver.stdout.trim(), pkg.version);
      // With stdin closed at once the receiver exits without a crash or a syntax error.
      const recv = spawnSync(node, [path.join(lonely, RECEIVER)], { cwd: lonely, env, encoding: 'utf8', input: '' });
      assert.doesNotMatch(recv.stderr, /SyntaxError|ReferenceError|Cannot find (module|package)/);
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });

  test(`the receiver bundle answers a protocol hello on Node ${version}`, async () => {
    const node = nodeBinary(version) as string;
    const built = builtOnce();
    const lonely = mkdtempSync(path.join(os.tmpdir(), 'qzb-lonely-'));
    try {
      copyFileSync(path.join(built, RECEIVER), path.join(lonely, RECEIVER));
      // No ZFS on this host: a zfs/zpool stand-in that answers like ZFS does for a missing dataset.
      const stub = path.join(lonely, 'zfs-missing');
      writeFileSync(stub, "#!/bin/sh\necho \"cannot open '$(eval echo \\$$#)': dataset does not exist\" >&2\nexit 1\n");
      // A stand-in for qrexec-client: runs the bundle as the service would, with only qrexec's variables.
      const launcher = path.join(lonely, 'qrexec-client');
      writeFileSync(launcher, `#!/bin/sh\nexec env -i PATH=/usr/bin:/bin QREXEC_REMOTE_DOMAIN=dom0 QREXEC_SERVICE_FULL_NAME=qubes.ZfsBackupReceive QZB_ZFS=${stub} QZB_ZPOOL=${stub} ${node} ${path.join(lonely, RECEIVER)}\n`);
      chmodSync(stub, 0o755);
      chmodSync(launcher, 0o755);
      const link = connectReceiver('backups-disp', { env: { PATH: '/usr/bin:/bin', QZB_QREXEC_CLIENT: launcher }, graceMs: 2000, termMs: 1000 });
      try {
        const hello = await link.client.hello('backuppool/backups/mydesktop');
        assert.equal(hello.protocol, PROTOCOL_VERSION);
        const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
        assert.equal(hello.agent, `qubes-zfs-backup-receiver ${pkg.version}`);
        assert.equal(hello.receiveRoot.exists, false);
        // Its stdin was put back into blocking mode on this Node (makeStdinBlocking): unframed offered.
        assert.equal(hello.unframed, true);
      } finally {
        await link.client.close();
      }
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });
}
