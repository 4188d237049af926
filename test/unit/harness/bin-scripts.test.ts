// The bash pieces of the harness, run on the host with stand-ins for the real binaries: the zfs/zpool
// views (test/harness/bin/zfs-view) and the qrexec-client launcher (test/harness/bin/qrexec-client).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildViewBinary } from '../../harness/view-binary.ts';

const BIN = fileURLToPath(new URL('../../harness/bin/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'qzb-bin-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// A stand-in for /sbin/zfs: prints its argv, one <arg> each.
const fakeZfs = join(tmp, 'fake-zfs');
writeFileSync(fakeZfs, '#!/bin/sh\nfor a in "$@"; do printf "<%s>" "$a"; done; echo\n', { mode: 0o755 });

// The fast path (bin/zfs-view.c), one copy per kind, configured as the guest does it. Its fallback
// is a marker script that records the call, then runs the bash view: every case below must come
// out the same either way, and the plain ones must not fall back.
const fallbacks = join(tmp, 'fallbacks');
const marker = join(tmp, 'view-marker');
writeFileSync(marker, `#!/bin/bash\necho "$*" >> ${fallbacks}\n. ${join(BIN, 'zfs-view')}\n`, { mode: 0o755 });
const fastWhy = buildViewBinary(join(tmp, 'fast-zfs'));
if (fastWhy === null) {
  copyFileSync(join(tmp, 'fast-zfs'), join(tmp, 'fast-zpool'));
  for (const kind of ['zfs', 'zpool']) writeFileSync(join(tmp, `fast-${kind}.view`), `kind=${kind}\nreal=${fakeZfs}\npools=mainpool auxpool\nscript=${marker}\n`);
}
// Elsewhere a machine without a C compiler skips the fast path's tests, saying why; CI must build it.
const skipFast = { skip: fastWhy !== null && process.env.CI !== 'true' ? fastWhy : false };
const fellBack = (): string[] => (existsSync(fallbacks) ? readFileSync(fallbacks, 'utf8').split('\n').filter(Boolean) : []);

let impl: 'bash' | 'fast' = 'bash';
function view(kind: 'zfs' | 'zpool', ...args: string[]): { out: string; err: string; code: number | null } {
  const [file, argv] = impl === 'bash' ? ['bash', [join(BIN, 'zfs-view'), ...args]] : [join(tmp, `fast-${kind}`), args];
  const r = spawnSync(file, argv, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', QZB_VIEW_KIND: kind, QZB_VIEW_POOLS: 'mainpool auxpool', QZB_VIEW_REAL: fakeZfs },
    encoding: 'utf8',
  });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

/** Runs `body` against the bash view, then against the fast path (a CI machine must build it). */
function bothViews(name: string, body: () => void): void {
  test(`${name} (bash)`, () => {
    impl = 'bash';
    body();
  });
  test(`${name} (fast path)`, skipFast, () => {
    assert.equal(fastWhy, null, `the fast path did not build: ${fastWhy}`);
    impl = 'fast';
    body();
  });
}

bothViews('zfs-view: listings without operands get the view pools (and -r)', () => {
  assert.equal(view('zfs', 'list').out, '<list><-r><mainpool><auxpool>\n');
  assert.equal(view('zfs', 'list', '-Hpo', 'name,guid', '-t', 'all').out, '<list><-r><-Hpo><name,guid><-t><all><mainpool><auxpool>\n');
  assert.equal(view('zfs', 'list', '-d', '1').out, '<list><-d><1><mainpool><auxpool>\n');
  assert.equal(view('zfs', 'get', '-H', 'guid').out, '<get><-r><-H><guid><mainpool><auxpool>\n');
  assert.equal(view('zpool', 'list', '-H', '-o', 'name').out, '<list><-H><-o><name><mainpool><auxpool>\n');
  assert.equal(view('zpool', 'get', 'feature@async_destroy').out, '<get><feature@async_destroy><mainpool><auxpool>\n');
});

bothViews('zfs-view: visible operands pass straight through', () => {
  assert.equal(view('zfs', 'list', '-r', 'mainpool/qubes').out, '<list><-r><mainpool/qubes>\n');
  assert.equal(view('zfs', 'snapshot', 'mainpool/a b@x', 'auxpool/c@x').out, '<snapshot><mainpool/a b@x><auxpool/c@x>\n');
  assert.equal(view('zfs', 'send', '-i', '@a', 'mainpool/x@b').out, '<send><-i><@a><mainpool/x@b>\n');
  assert.equal(view('zfs', 'set', 'org.qubes:dirty=on', 'mainpool/q').out, '<set><org.qubes:dirty=on><mainpool/q>\n');
  assert.equal(view('zfs', 'bookmark', 'mainpool/x@a', 'mainpool/x#a').out, '<bookmark><mainpool/x@a><mainpool/x#a>\n');
  assert.equal(view('zfs', 'receive', '-s', '-u', '-o', 'volmode=none', 'mainpool/b/x@s').out, '<receive><-s><-u><-o><volmode=none><mainpool/b/x@s>\n');
  assert.equal(view('zpool', 'get', '-Hpo', 'property,value', 'all', 'auxpool').out, '<get><-Hpo><property,value><all><auxpool>\n');
  assert.equal(view('zpool', 'iostat', 'mainpool', '5').out, '<iostat><mainpool><5>\n');
  assert.equal(view('zfs', 'version').out, '<version>\n');
  assert.equal(view('zfs').out, '\n');
});

test('zfs-view fast path: plain calls never start bash; hidden, long-option and malformed ones do', skipFast, () => {
  assert.equal(fastWhy, null, `the fast path did not build: ${fastWhy}`);
  impl = 'fast';
  rmSync(fallbacks, { force: true });
  view('zfs', 'list', '-Hp', '-t', 'snapshot');
  view('zfs', 'send', '-L', '-c', '-i', 'mainpool/x#a', 'mainpool/x@b');
  view('zpool', 'list');
  assert.deepEqual(fellBack(), []);
  view('zfs', 'get', '-o');
  view('zfs', 'destroy', 'backuppool/x');
  view('zfs', 'send', '--raw', 'mainpool/x@b');
  view('zfs', 'send', '-i', 'backuppool/x@a', 'mainpool/x@b');
  assert.deepEqual(fellBack(), ['get -o', 'destroy backuppool/x', 'send --raw mainpool/x@b', 'send -i backuppool/x@a mainpool/x@b']);
});

bothViews('zfs-view: hidden datasets fail as if missing', () => {
  let r = view('zfs', 'destroy', '-r', 'backuppool/b');
  assert.deepEqual([r.code, r.out, r.err], [1, '', "cannot open 'backuppool/b': dataset does not exist\n"]);
  r = view('zfs', 'snapshot', 'mainpool/a@x', 'backuppool/b@x');
  assert.deepEqual([r.code, r.out], [1, '']);
  r = view('zfs', 'send', '-i', 'backuppool/x@a', 'mainpool/x@b');
  assert.deepEqual([r.code, r.err], [1, "cannot open 'backuppool/x@a': dataset does not exist\n"]);
  r = view('zfs', 'get', '-Hpo', 'value', 'guid', 'backuppool/x#bm');
  assert.deepEqual([r.code, r.out, r.err], [1, '', "cannot open 'backuppool/x#bm': dataset does not exist\n"]);
  r = view('zpool', 'status', 'backuppool');
  assert.deepEqual([r.code, r.err], [1, "cannot open 'backuppool': no such pool\n"]);
  // `mainpoolx` is not `mainpool`
  assert.equal(view('zfs', 'list', 'mainpoolx').code, 1);
});

bothViews('zfs-view: list/get show the visible operands and still exit 1', () => {
  const r = view('zfs', 'list', '-H', 'mainpool/dom0', 'backuppool', 'auxpool');
  assert.deepEqual([r.code, r.out, r.err], [1, '<list><-H><mainpool/dom0><auxpool>\n', "cannot open 'backuppool': dataset does not exist\n"]);
});

// Seeded random calls, the same through both: the fast path decides exactly as the script does.
test('zfs-view fast path: 400 random calls come out exactly as through the script', skipFast, () => {
  assert.equal(fastWhy, null, `the fast path did not build: ${fastWhy}`);
  let seed = 20261207;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const pick = <T,>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const subs = { zfs: ['list', 'get', 'send', 'receive', 'recv', 'snapshot', 'bookmark', 'destroy', 'create', 'set', 'hold', 'rename', 'program', 'version', 'clone'], zpool: ['list', 'get', 'set', 'status', 'iostat', 'destroy', 'history', 'import', 'sync'] } as const;
  const words = ['-r', '-H', '-p', '-Hp', '-o', 'name,guid', '-t', 'all', '-d', '1', '-i', '-I', '@a', '#a', '-s', '-u', '-Hpo', '-ovalue', '--raw', '--', '-', '', '5', '1.5', 'a=b', 'guid',
    'mainpool', 'mainpool/x', 'mainpool/x@s', 'mainpool/x#b', 'auxpool/y', 'backuppool', 'backuppool/z@s', 'mainpoolx', '/dev/sda'];
  for (let n = 0; n < 400; n++) {
    const kind = pick(['zfs', 'zpool'] as const);
    const args = [pick(subs[kind]), ...Array.from({ length: rnd(6) }, () => pick(words))];
    impl = 'bash';
    const slow = view(kind, ...args);
    impl = 'fast';
    assert.deepEqual(view(kind, ...args), slow, `${kind} ${JSON.stringify(args)}`);
  }
});

// The qrexec launcher with a shell script standing in for the agent bundle.
const scn = join(tmp, 'scn');
mkdirSync(join(scn, 'qubes-state'), { recursive: true });
mkdirSync(join(scn, 'channel'), { recursive: true });
writeFileSync(join(scn, 'qubes-state', 'backups-disp'), 'Running');
writeFileSync(join(scn, 'qubes-state', 'work'), 'Running');
writeFileSync(join(scn, 'qubes-state', 'vault'), 'Halted');
const agent = join(tmp, 'agent.sh');
writeFileSync(agent, [
  'env | grep -E "^(QREXEC|QZB|PATH=|HOME=|USER=)" | sort',
  // Anything else in the environment leaked from the caller (the sh running this may add PWD; bash
  // exports SHLVL to whatever it execs, as for a service started through a shell).
  'env | grep -vE "^(QREXEC_[A-Z_]+|QZB_ZFS|QZB_ZPOOL|PATH|HOME|USER|LOGNAME|PWD|SHLVL)=" | sed "s/^/LEAK /" >&2',
  'echo "argv:$#:$*"',
  'echo "to the journal" >&2',
  'cat',
  'exit 7',
].join('\n'));

function qrexec(args: string[], input = ''): { out: string; err: string; code: number | null } {
  const r = spawnSync('bash', [join(BIN, 'qrexec-client'), ...args], {
    input,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      QZB_SCN_DIR: scn, QZB_RECEIVER_QUBE: 'backups-disp', QZB_AGENT: agent, QZB_NODE: '/bin/sh',
      QZB_AGENT_ZFS: '/x/receiver-zfs', QZB_AGENT_ZPOOL: '/x/receiver-zpool', QZB_ZFS: '/dom0/view/must/not/leak',
    },
    encoding: 'utf8',
  });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

test('qrexec-client: runs the agent with a qrexec service environment, stdio as the channel', () => {
  const r = qrexec(['-d', 'backups-disp', 'root:QUBESRPC qubes.ZfsBackupReceive dom0'], 'hello\n');
  assert.equal(r.code, 7);
  assert.equal(r.err, '');
  assert.equal(
    r.out,
    [
      'HOME=/root',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'QREXEC_REMOTE_DOMAIN=dom0',
      'QREXEC_REQUESTED_TARGET_TYPE=',
      'QREXEC_SERVICE_FULL_NAME=qubes.ZfsBackupReceive',
      'QZB_ZFS=/x/receiver-zfs',
      'QZB_ZPOOL=/x/receiver-zpool',
      'USER=root',
      'argv:0:',
      'hello',
      '',
    ].join('\n'),
  );
  assert.match(readFileSync(join(scn, 'receiver-journal.log'), 'utf8'), /^--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z qubes\.ZfsBackupReceive from dom0\nto the journal\n/m);
  assert.doesNotMatch(readFileSync(join(scn, 'receiver-journal.log'), 'utf8'), /LEAK/);
});

test('qrexec-client: a service argument is argv[1] and QREXEC_SERVICE_ARGUMENT', () => {
  const r = qrexec(['-d', 'backups-disp', 'root:QUBESRPC qubes.ZfsBackupReceive+v1 dom0']);
  assert.match(r.out, /QREXEC_SERVICE_ARGUMENT=v1\n/);
  assert.match(r.out, /QREXEC_SERVICE_FULL_NAME=qubes\.ZfsBackupReceive\+v1\n/);
  assert.match(r.out, /argv:1:v1\n/);
});

test('qrexec-client: halted or unknown qubes cannot be reached (exit 125), others lack the service (127)', () => {
  const r = qrexec(['-d', 'vault', 'root:QUBESRPC qubes.ZfsBackupReceive dom0']);
  assert.equal(r.code, 125);
  assert.match(r.err, /connect \/var\/run\/qubes\/qrexec\.vault: No such file or directory/);
  assert.equal(qrexec(['-d', 'nosuch', 'root:QUBESRPC qubes.ZfsBackupReceive dom0']).code, 125);
  assert.equal(qrexec(['-d', 'work', 'root:QUBESRPC qubes.ZfsBackupReceive dom0']).code, 127);
  assert.equal(qrexec(['-d', 'backups-disp', 'root:QUBESRPC qubes.Other dom0']).code, 127);
});

test('qrexec-client: the remote command must be one argument', () => {
  const r = qrexec(['-d', 'backups-disp', 'root:QUBESRPC', 'qubes.ZfsBackupReceive', 'dom0']);
  assert.equal(r.code, 1);
  assert.match(r.err, /uses only 'root:QUBESRPC'/);
  assert.equal(qrexec(['root:QUBESRPC qubes.ZfsBackupReceive dom0']).code, 1);
});

test('qrexec-client: a watched channel is counted; a truncated one ends early', () => {
  writeFileSync(join(scn, 'channel', 'count'), '');
  let r = qrexec(['-d', 'backups-disp', 'root:QUBESRPC qubes.ZfsBackupReceive dom0'], 'x'.repeat(10000));
  assert.equal(r.code, 7);
  assert.equal(readFileSync(join(scn, 'channel', 'count')).length, 10000);
  assert.ok(r.out.endsWith('x'.repeat(10000)));
  assert.match(readFileSync(join(scn, 'channel', 'agent.pid'), 'utf8'), /^\d+\n$/);
  writeFileSync(join(scn, 'channel', 'count'), '');
  writeFileSync(join(scn, 'channel', 'truncate'), '100');
  r = qrexec(['-d', 'backups-disp', 'root:QUBESRPC qubes.ZfsBackupReceive dom0'], 'y'.repeat(10000));
  assert.equal(r.code, 7);
  assert.ok(r.out.endsWith(`argv:0:\n${'y'.repeat(100)}`), r.out.slice(-200));
  rmSync(join(scn, 'channel', 'truncate'));
});

test('qrexec-client: a held channel stops at exactly the hold byte (summed over sessions) until released', async () => {
  const ch = join(scn, 'channel');
  for (const f of ['truncate', 'agent.pid']) rmSync(join(ch, f), { force: true });
  writeFileSync(join(ch, 'count'), 'a'.repeat(1000)); // an earlier session of the same step
  writeFileSync(join(ch, 'hold'), '4000');
  const child = spawn('bash', [join(BIN, 'qrexec-client'), '-d', 'backups-disp', 'root:QUBESRPC qubes.ZfsBackupReceive dom0'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', QZB_SCN_DIR: scn, QZB_RECEIVER_QUBE: 'backups-disp', QZB_AGENT: agent, QZB_NODE: '/bin/sh', QZB_AGENT_ZFS: '/x/z', QZB_AGENT_ZPOOL: '/x/zp' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  // A first small frame passes at once, before the hold byte and without EOF (a session's hello).
  child.stdin.write('z'.repeat(100));
  for (let i = 0; i < 200 && !out.includes('argv:0:\nzzz'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(out.endsWith('z'.repeat(100)), `the first 100 bytes did not pass before the hold: ${JSON.stringify(out.slice(-50))}`);
  child.stdin.write('z'.repeat(9900));
  child.stdin.end();
  let reached: string | undefined;
  for (let i = 0; i < 200 && !reached; i++) {
    await new Promise((r) => setTimeout(r, 25));
    reached = readdirSync(ch).find((f) => f.startsWith('reached.'));
  }
  const data = (): string => out.slice(out.indexOf('argv:0:\n') + 'argv:0:\n'.length);
  try {
    assert.ok(reached, 'the launcher never held the channel');
    await new Promise((r) => setTimeout(r, 200));
    // Held: exactly 3000 of this session's bytes went through (4000 with the earlier session's).
    assert.equal(statSync(join(ch, 'count')).size, 4000);
    assert.equal(data(), 'z'.repeat(3000));
  } finally {
    if (reached) writeFileSync(join(ch, `release.${reached.slice('reached.'.length)}`), '');
    else child.kill();
  }
  assert.equal(await done, 7);
  assert.equal(data(), 'z'.repeat(10000));
  assert.equal(statSync(join(ch, 'count')).size, 11000);
  for (const f of readdirSync(ch)) rmSync(join(ch, f), { force: true });
});
