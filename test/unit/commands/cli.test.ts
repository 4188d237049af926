// The CLI as a process: exit codes, --json documents, --verbose lines, error messages. zfs is a
// script printing recorded real `zfs list` output; qubesd is the in-test fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFakeQubesd, systemHandler, type FakeQubesd } from '../qubes/fake-qubesd.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(root, 'test/unit/zfs/fixtures');
const dir = mkdtempSync(path.join(os.tmpdir(), 'qzb-cli-'));
const metadata = path.join(dir, 'metadata');
const zfsLog = path.join(dir, 'zfs.log');
let qubesd: FakeQubesd;

const JOB = `name: cli1
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
include-groups: [core, dom0]
forgo-groups: [system]
void-groups: []
core:
  type: qubes
  members: [work]
dom0:
  type: datasets
  members: [tank/dom0]
system:
  type: qubes
  members: [fedora-41]
`;

before(async () => {
  const fakeZfs = path.join(dir, 'zfs');
  writeFileSync(fakeZfs, `#!/bin/sh
echo "$*" >> '${zfsLog}'
case "$*" in
  *filesystem,volume*) cat '${fixtures}/datasets.txt' ;;
  *snapshot,bookmark*) cat '${fixtures}/snapshots.txt' ;;
  snapshot*) exit 0 ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`);
  chmodSync(fakeZfs, 0o755);
  writeFileSync(zfsLog, '');
  writeFileSync(path.join(dir, 'backup1.yaml'), JOB);
  writeFileSync(path.join(dir, 'broken.yaml'), 'name: [unclosed\n');
  qubesd = await startFakeQubesd((c) => {
    if (c.method === 'admin.vm.List') return { ok: 'dom0 class=AdminVM state=Running\nbackups class=DispVM state=Running\nfedora-41 class=TemplateVM state=Halted\nwork class=AppVM state=Running\n' };
    if (c.method === 'admin.vm.volume.List' && c.dest === 'backups') return { ok: '' };
    return systemHandler(c);
  });
});

after(async () => {
  await qubesd.close();
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, path.join(root, 'dom0/cli.ts'), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', QZB_ZFS: path.join(dir, 'zfs'), QZB_QUBESD_SOCKET: qubesd.socketPath, QUBES_ZFS_BACKUP_METADATA_DIR: metadata, ...env },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('--help, --version exit 0; usage errors exit 2', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit status:/);
  assert.equal((await cli(['snapshot', '--help'])).code, 0);
  assert.equal((await cli(['--version'])).code, 0);
  assert.equal((await cli(['bogus'])).code, 2);
  assert.equal((await cli(['calc'])).code, 2);
  assert.equal((await cli(['check', 'x.yaml', '--no-such-option'])).code, 2);
});

test('a missing metadata directory: exit 1 and the mkdir command', async () => {
  const r = await cli(['status'], { QUBES_ZFS_BACKUP_METADATA_DIR: path.join(dir, 'absent') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /mkdir -m 700 .*absent/);
  assert.match(r.stderr, /METADATA_DIR_MISSING/);
});

test('check a broken file: exit 1 and a positioned finding; --json ok:false', async () => {
  const r = await cli(['check', 'broken.yaml', '--json']);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout) as { ok: boolean; findings: { code: string; severity: string }[] };
  assert.equal(j.ok, false);
  assert.ok(j.findings.some((f) => f.severity === 'error'));
});

test('check with qubesd unreachable: exit 1 and a clear finding', async () => {
  const r = await cli(['check', 'backup1.yaml'], { QZB_QUBESD_SOCKET: path.join(dir, 'no.sock') });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /QUBESD_UNREACHABLE/);
  assert.match(r.stdout, /no\.sock/);
});

test('check → import → calc → snapshot --dry-run on recorded real zfs output', async () => {
  mkdirSync(metadata, { recursive: true });
  const before = readFileSync(zfsLog, 'utf8').split('\n').length;
  const c = await cli(['check', 'backup1.yaml', '--json', '--verbose']);
  // Two zfs calls per command, whatever the number of datasets.
  assert.equal(readFileSync(zfsLog, 'utf8').split('\n').length - before, 2);
  const j = JSON.parse(c.stdout) as { ok: boolean; findings: { code: string; message: string }[]; designations: { dataset: string; designation: string }[] };
  assert.equal(j.ok, true, JSON.stringify(j.findings));
  assert.equal(c.code, 0);
  assert.ok(j.designations.some((d) => d.dataset === 'tank/qubes/work' && d.designation === 'include'));
  assert.match(c.stderr, /^zfs list -H -p -t filesystem,volume -o name,type,guid,createtxg,origin,encryption,receive_resume_token,org.qubes:dirty$/m);
  assert.match(c.stderr, /^qubesd-query dom0 admin.vm.List dom0$/m);
  const i = await cli(['import', 'backup1.yaml']);
  assert.equal(i.code, 0, i.stderr + i.stdout);
  assert.equal(readFileSync(path.join(metadata, 'cli1', 'job.yaml'), 'utf8'), JOB);
  const k = await cli(['calc', 'cli1', '--json']);
  assert.equal(k.code, 0, k.stderr);
  const targets = (JSON.parse(k.stdout) as { targets: { snapshot: string; state: string; exists: boolean }[] }).targets;
  assert.ok(targets.some((t) => t.snapshot === 'tank/qubes/work/private@backup-1' && t.state === 'pending' && !t.exists));
  assert.ok(targets.some((t) => t.snapshot === 'tank/dom0@backup-1'));
  const s = await cli(['snapshot', 'cli1', '--dry-run']);
  // work is Running: its snapshots wait (exit 3); dom0's are created live.
  assert.equal(s.code, 3, s.stderr + s.stdout);
  assert.match(s.stdout, /^zfs snapshot tank\/dom0@backup-1/m);
  assert.match(s.stdout, /# pending: qube work is Running/);
  assert.ok(!readFileSync(zfsLog, 'utf8').includes('snapshot tank'), 'dry run ran zfs snapshot');
});

test('Ctrl-C: exit 130 with a one-line message', async () => {
  const silent = net.createServer(() => { /* accept and never answer */ });
  const sock = path.join(dir, 'silent.sock');
  await new Promise<void>((r) => silent.listen(sock, r));
  try {
    const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, path.join(root, 'dom0/cli.ts'), 'check', 'backup1.yaml'], {
      cwd: dir, env: { PATH: process.env.PATH ?? '', QZB_ZFS: path.join(dir, 'zfs'), QZB_QUBESD_SOCKET: sock },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    await new Promise<void>((r) => silent.once('connection', () => r()));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130);
    assert.match(stderr, /interrupted/);
  } finally {
    silent.close();
  }
});

// Terminal injection (issue 9 item 6) through the real process: the error printer and a job file's
// double-quoted YAML escapes. No control byte, bidi or invisible character may reach stdout/stderr.
test('hostile text in a job file and in an error message reaches no terminal raw', async () => {
  const forbidden = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
  const escapes = '\\e[2J\\e]0;owned\\a\\r\\b\\x7f\\x9b\\u202e\\u2066\\u200b\\u2060\\ufeff\\u2028';
  writeFileSync(path.join(dir, 'hostile.yaml'), JOB.replace('name: cli1', `name: "evil${escapes}${'x'.repeat(300_000)}"`).replace('core:\n', `"core${escapes}":\n  type: qubes\n  members: ["w${escapes}"]\ncore:\n`));
  const runs = [
    await cli(['check', 'hostile.yaml']),
    await cli(['check', 'hostile.yaml', '--json']),
    await cli(['import', 'hostile.yaml']),
    await cli(['check', `./no-such\u001b[31m\u202efile${'y'.repeat(5000)}.yaml`]),
    await cli(['check', `./no-such\u001b[31m\u202efile.yaml`, '--json']),
    await cli(['calc', `evil\u001b[2J\u202e`]),
  ];
  for (const [i, r] of runs.entries()) {
    for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
      const m = forbidden.exec(text);
      assert.equal(m, null, `run ${i} ${stream}: U+${(m?.[0].codePointAt(0) ?? 0).toString(16)} in ${JSON.stringify(text.slice(0, 300))}`);
      for (const line of text.split('\n')) assert.ok(line.length < 12_000, `run ${i} ${stream}: a line of ${line.length} characters`);
    }
    assert.equal(r.code, 1, `run ${i}: ${r.stderr}`);
  }
  assert.match(runs[0]!.stdout, /evil\\x1b\[2J/);
  assert.match(runs[0]!.stdout, /more characters cut/);
  assert.match(runs[3]!.stderr, /no-such\\x1b\[31m\\u202efile/);
  assert.match(runs[3]!.stderr, /more characters cut/);
  // --json stays exact JSON, on stdout, for findings and for errors.
  assert.equal((JSON.parse(runs[1]!.stdout) as { ok: boolean }).ok, false);
  // eslint-disable-next-line no-control-regex
  assert.match((JSON.parse(runs[4]!.stdout) as { error: { message: string } }).error.message, /no-such\u001b\[31m\u202efile/);
});
