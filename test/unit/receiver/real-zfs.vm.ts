// Real-ZFS check of the receiver agent (not a unit test: it needs the test VM).
//   node --import tsx test/unit/receiver/real-zfs.vm.ts        (host: boots the VM, runs itself inside)
//   ZFS_SERIES=2.1 node --import tsx test/unit/receiver/real-zfs.vm.ts   (an older OpenZFS, if provisioned)
// Inside the VM it builds two pools, then drives the real agent handlers with the real zfs runner
// through the in-process client→agent pipe (createLinkedPair): full, incremental, volume, clone,
// raw encrypted, a name with a space, a truncated stream (token → resume), abort of full and
// incremental partial state, dom0 vanishing mid-stream, placeholders, properties; plus the agent
// as a separate process through connectReceiver (the qrexec path with a local launcher).
// Prints one line per check; exits non-zero if any failed.
import { execFileSync, spawn } from 'node:child_process';
import { Readable, Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = 'backup/qzb';
let failures = 0;
/** Runs one group of checks; an exception in it counts as one failure instead of ending the run. */
async function section(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    check(`${name}: no unexpected error`, false, error instanceof Error ? error.message : String(error));
  }
}
function check(what: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}`);
}
const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
const prop = (name: string, p: string): string => sh(`zfs get -H -p -o value '${p}' '${name}'`).trim();
const sends: string[] = [];
const zfsSend = (args: string[]): Readable => {
  const child = spawn('zfs', ['send', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('exit', (code, signal) => sends.push(`zfs send ${args.join(' ')} → ${code ?? signal}${err ? `: ${err.trim()}` : ''}`));
  return child.stdout;
};
/** Passes through the first `limit` bytes of `source`, then ends (a truncated stream). */
function truncate(source: Readable, limit: number): Readable {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const room = limit - seen;
      if (room > 0) this.push(chunk.subarray(0, room));
      seen += chunk.length;
      if (seen >= limit) {
        this.push(null);
        source.destroy();
      }
      done();
    },
  });
  return source.pipe(t);
}

async function guest(): Promise<void> {
  const { createLinkedPair } = await import('../../../dom0/receiver-link/linked-pair.ts');
  const { connectReceiver } = await import('../../../dom0/receiver-link/spawn.ts');
  const { createZfsRunner } = await import('../../../receiver/zfs-runner.ts');
  const { ReceiveFailedError } = await import('../../../dom0/receiver-link/errors.ts');

  console.log(`zfs: ${sh('zfs version').trim().replace(/\n/g, ' / ')}`);
  sh(`set -e
    mkdir -p /tmp/img /tmp/mnt
    truncate -s 768M /tmp/img/src.img /tmp/img/dst.img
    zpool create -R /tmp/mnt src /tmp/img/src.img
    zpool create -R /tmp/mnt backup /tmp/img/dst.img
    zfs create -o mountpoint=none backup/qzb
    zfs create src/fs
    dd if=/dev/urandom of=/tmp/mnt/src/fs/a bs=1M count=3 status=none
    zfs snapshot src/fs@a
    dd if=/dev/urandom of=/tmp/mnt/src/fs/b bs=1M count=1 status=none
    zfs snapshot src/fs@b
    zfs create -s -V 32M src/vol
    udevadm settle --timeout=30
    dd if=/dev/urandom of=/dev/zvol/src/vol bs=1M count=6 status=none conv=fsync
    zfs snapshot src/vol@a
    zfs clone src/fs@a src/clone
    dd if=/dev/urandom of=/tmp/mnt/src/clone/c bs=1M count=1 status=none
    zfs snapshot src/clone@c1
    zfs create 'src/with space'
    zfs snapshot 'src/with space@s 1'
    zfs create src/big
    dd if=/dev/urandom of=/tmp/mnt/src/big/x bs=1M count=24 status=none
    zfs snapshot src/big@t
    zfs create src/big2
    dd if=/dev/urandom of=/tmp/mnt/src/big2/x bs=1M count=24 status=none
    zfs snapshot src/big2@t
    dd if=/dev/urandom of=/tmp/mnt/src/fs/c bs=1M count=16 status=none
    zfs snapshot src/fs@c
    printf 'correct horse battery staple' > /tmp/key
    zfs create -o encryption=on -o keyformat=passphrase -o keylocation=file:///tmp/key src/enc
    dd if=/dev/urandom of=/tmp/mnt/src/enc/e bs=1M count=1 status=none
    zfs snapshot src/enc@e
    zfs create src/p
    dd if=/dev/urandom of=/tmp/mnt/src/p/f bs=1M count=8 status=none
    zfs snapshot src/p@s
    zfs create src/p/c
    dd if=/dev/urandom of=/tmp/mnt/src/p/c/f bs=1M count=1 status=none
    zfs snapshot src/p/c@c1
    dd if=/dev/urandom of=/tmp/mnt/src/p/c/g bs=1M count=1 status=none
    zfs snapshot src/p/c@c2
    zfs create -s -V 16M src/p/v
    zfs create src/q
    dd if=/dev/urandom of=/tmp/mnt/src/q/f bs=1M count=1 status=none
    zfs snapshot src/q@s
    zfs create src/q/c
    zfs snapshot src/q/c@c1
    zfs create src/m
    dd if=/dev/urandom of=/tmp/mnt/src/m/f bs=1M count=1 status=none
    zfs snapshot src/m@1
    dd if=/dev/urandom of=/tmp/mnt/src/m/g bs=1M count=1 status=none
    zfs snapshot src/m@2
    zfs create -s -V 16M src/mv
    zfs create src/w
    zfs snapshot src/w@1
    zfs snapshot src/w@2
    zfs snapshot src/w@3
    udevadm settle --timeout=30
    dd if=/dev/urandom of=/dev/zvol/src/p/v bs=1M count=2 status=none conv=fsync
    zfs snapshot src/p/v@v1
    dd if=/dev/urandom of=/dev/zvol/src/mv bs=1M count=1 status=none conv=fsync
    zfs snapshot src/mv@1
    dd if=/dev/urandom of=/dev/zvol/src/mv bs=1M count=1 seek=4 status=none conv=fsync
    zfs snapshot src/mv@2
  `);

  const logs = agentLog;
  let pair = createLinkedPair(createZfsRunner(process.env), { log: (l) => logs.push(l) });
  let client = pair.client;
  const hello = await client.hello(ROOT);
  check('hello: root exists, filesystem, unencrypted', hello.receiveRoot.exists && hello.receiveRoot.type === 'filesystem' && hello.receiveRoot.encryption === 'off', JSON.stringify(hello.receiveRoot));
  check('hello: pool features reported', hello.features.get('extensible_dataset') !== undefined && hello.features.has('large_blocks'), JSON.stringify([...hello.features]));
  check('hello: zfs version lines', hello.zfsVersion.length >= 1 && /^zfs-/.test(hello.zfsVersion[0]!), hello.zfsVersion.join(' / '));

  const fsHeader: Header = { dataset: `${ROOT}/src/fs`, snapshot: 'a', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  const full = await client.receive(fsHeader, zfsSend(['-L', '-c', 'src/fs@a']));
  check('full filesystem: GUID read back equals source', full.guid === BigInt(prop('src/fs@a', 'guid')), `${full.guid} / ${full.bytes} bytes`);
  check('placeholder backup/qzb/src: canmount=off, not mounted, marked', prop(`${ROOT}/src`, 'canmount') === 'off' && prop(`${ROOT}/src`, 'mounted') === 'no' && prop(`${ROOT}/src`, 'org.qubes-zfs-backup:placeholder') === 'on');
  check('received filesystem: canmount=noauto, not mounted, mountpoint none (inherited)', prop(fsHeader.dataset, 'canmount') === 'noauto' && prop(fsHeader.dataset, 'mounted') === 'no' && prop(fsHeader.dataset, 'mountpoint') === 'none');

  const inc = await client.receive({ ...fsHeader, snapshot: 'b', stream: 'incremental' }, zfsSend(['-L', '-c', '-i', '@a', 'src/fs@b']));
  check('incremental filesystem: GUID matches', inc.guid === BigInt(prop('src/fs@b', 'guid')));

  const vol = await client.receive({ dataset: `${ROOT}/src/vol`, snapshot: 'a', type: 'volume', stream: 'full', origin: null, raw: false, resume: false }, zfsSend(['-L', '-c', 'src/vol@a']));
  check('full volume: GUID matches (no canmount option for volumes)', vol.guid === BigInt(prop('src/vol@a', 'guid')));
  check('received volume: volmode=none', prop(`${ROOT}/src/vol`, 'volmode') === 'none');

  const clone = await client.receive({ dataset: `${ROOT}/src/clone`, snapshot: 'c1', type: 'filesystem', stream: 'clone', origin: `${ROOT}/src/fs@a`, raw: false, resume: false }, zfsSend(['-L', '-c', '-i', 'src/fs@a', 'src/clone@c1']));
  check('clone with -o origin=: GUID matches, origin set', clone.guid === BigInt(prop('src/clone@c1', 'guid')) && prop(`${ROOT}/src/clone`, 'origin') === `${ROOT}/src/fs@a`, prop(`${ROOT}/src/clone`, 'origin'));

  const space = await client.receive({ dataset: `${ROOT}/src/with space`, snapshot: 's 1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false }, zfsSend(['src/with space@s 1']));
  check('a name with a space', space.guid === BigInt(prop('src/with space@s 1', 'guid')));

  const raw = await client.receive({ dataset: `${ROOT}/src/enc`, snapshot: 'e', type: 'filesystem', stream: 'full', origin: null, raw: true, resume: false }, zfsSend(['-w', 'src/enc@e']));
  check('raw encrypted: GUID matches, keystatus unavailable on the receiver', raw.guid === BigInt(prop('src/enc@e', 'guid')) && prop(`${ROOT}/src/enc`, 'keystatus') === 'unavailable', prop(`${ROOT}/src/enc`, 'keystatus'));

  // Truncated full stream → resumable state → resume with the token.
  const bigHeader: Header = { dataset: `${ROOT}/src/big`, snapshot: 't', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  const cut = await client.receive(bigHeader, truncate(zfsSend(['-L', '-c', 'src/big@t']), 6 * 1024 * 1024)).catch((e: unknown) => e);
  const token = cut instanceof ReceiveFailedError ? cut.resumeToken : null;
  check('truncated full stream: receive-failed, incomplete-stream, token reported', cut instanceof ReceiveFailedError && cut.reason === 'incomplete-stream' && token !== null, cut instanceof ReceiveFailedError ? `${cut.stderr.join(' / ')} | token ${token?.length} chars` : String(cut));
  let inv = await client.inventory();
  const partial = inv.datasets.get(bigHeader.dataset);
  check('inventory: partial dataset inconsistent with the same token', partial?.inconsistent === true && partial.resumeToken === token, JSON.stringify({ inconsistent: partial?.inconsistent, hasToken: partial?.resumeToken !== null }));
  const resumed = await client.receive({ ...bigHeader, resume: true }, zfsSend(['-t', token ?? '']));
  check('resume with zfs send -t: GUID matches', resumed.guid === BigInt(prop('src/big@t', 'guid')), `${resumed.bytes} bytes resumed`);

  // Truncated full stream → abort destroys the inconsistent dataset.
  const big2: Header = { ...bigHeader, dataset: `${ROOT}/src/big2` };
  await client.receive(big2, truncate(zfsSend(['src/big2@t']), 5 * 1024 * 1024)).catch(() => {});
  const again = await client.receive(big2, zfsSend(['src/big2@t'])).catch((e: unknown) => e);
  check('a new full stream into a partial full receive: partial-state-exists (ZFS says "exists"; the token tells)', again instanceof ReceiveFailedError && again.reason === 'partial-state-exists', stderrOf(again));
  const ab = await client.abort(big2.dataset);
  inv = await client.inventory();
  check('abort of a partial full receive: hadState, dataset gone', ab.hadState && !inv.datasets.has(big2.dataset));
  const ab2 = await client.abort(big2.dataset).catch((e: unknown) => e);
  check('abort again: a typed error or hadState false', (ab2 as { hadState?: boolean }).hadState === false || (ab2 as { code?: string }).code !== undefined, JSON.stringify(ab2 instanceof Error ? ab2.message : ab2));

  // Truncated incremental → token on the existing dataset → abort clears it.
  await client.receive({ ...fsHeader, snapshot: 'c', stream: 'incremental' }, truncate(zfsSend(['-i', '@b', 'src/fs@c']), 4 * 1024 * 1024)).catch(() => {});
  inv = await client.inventory();
  const fsInv = inv.datasets.get(fsHeader.dataset);
  check('truncated incremental: token on the existing dataset, snapshots intact', fsInv?.resumeToken !== null && fsInv?.inconsistent === false && fsInv.snapshots.map((s) => s.label).join(',') === 'a,b');
  const again2 = await client.receive({ ...fsHeader, snapshot: 'c', stream: 'incremental' }, zfsSend(['-i', '@b', 'src/fs@c'])).catch((e: unknown) => e);
  check('a new incremental into partial incremental state: partial-state-exists', again2 instanceof ReceiveFailedError && again2.reason === 'partial-state-exists', stderrOf(again2));
  const ab3 = await client.abort(fsHeader.dataset);
  check('abort of partial incremental: token cleared', ab3.hadState && prop(fsHeader.dataset, 'receive_resume_token') === '-');
  check('inventory: GUIDs and clone origin', inv.datasets.get(`${ROOT}/src/clone`)?.origin === `${ROOT}/src/fs@a` && inv.datasets.get(`${ROOT}/src/vol`)?.snapshots[0]?.guid === vol.guid);

  // A section that throws is one failure; the sections after it still run (on their own datasets).
  await section('placeholders', () => placeholderChecks(client, ReceiveFailedError));
  await writtenAndFailureChecks(client, ReceiveFailedError);
  // Settings documents as user properties of a received snapshot (chunked under the 8 KiB limit).
  const { canonicalJson, sha256OfBytes } = await import('../../../dom0/settings/canonical.ts');
  const docBytes = Buffer.from(canonicalJson({ format: 'test', notes: `${'x'.repeat(9000)} é ${'y'.repeat(9000)}`, n: 1 }), 'utf8');
  const docSha = sha256OfBytes(docBytes);
  const snapA = `${ROOT}/src/fs@a`;
  const stored = await client.storeSettings(snapA, docBytes, docSha);
  check('store-settings: 3 chunks, hash and count as user properties of the snapshot', !stored.alreadyStored && prop(snapA, 'org.qubes-zfs-backup:settings-chunks') === '3' && prop(snapA, 'org.qubes-zfs-backup:settings-sha256') === docSha, `${docBytes.length} bytes`);
  const byHand = sh(`zfs get -H -o property,value -s local all '${snapA}' | grep '^org.qubes-zfs-backup:settings\\.' | sort | cut -f2 | tr -d '\\n' | sha256sum`).split(' ')[0];
  check('store-settings: readable with zfs get | sort | cut (same SHA-256)', byHand === docSha, byHand);
  const back = await client.readSettings(snapA);
  check('read-settings: same bytes, computed and stored hash match', back !== null && back.bytes.equals(docBytes) && back.sha256 === docSha && back.storedSha256 === docSha);
  check('store-settings again with the same document: alreadyStored', (await client.storeSettings(snapA, docBytes, docSha)).alreadyStored);
  const otherBytes = Buffer.from(canonicalJson({ format: 'other' }));
  const conflict = await client.storeSettings(snapA, otherBytes, sha256OfBytes(otherBytes)).catch((e: unknown) => e);
  check('store-settings of a different document: SETTINGS_CONFLICT, nothing changed', (conflict as { code?: string }).code === 'RECEIVER_SETTINGS_CONFLICT' && prop(snapA, 'org.qubes-zfs-backup:settings-sha256') === docSha, String((conflict as Error).message));
  check('read-settings on a snapshot without settings: null (tied to its snapshot)', (await client.readSettings(`${ROOT}/src/fs@b`)) === null);
  const outside = await client.readSettings('src/fs@a').catch((e: unknown) => e);
  check('read-settings outside the receive root: refused in dom0', (outside as { code?: string }).code === 'RECEIVER_USAGE');
  sh(`zfs set org.qubes-zfs-backup:settings.001=tampered '${snapA}'`);
  const tampered = await client.readSettings(snapA);
  check('an altered chunk: the computed hash differs from the stored and recorded one', tampered !== null && tampered.sha256 !== docSha && tampered.storedSha256 === docSha);
  const snapSp = `${ROOT}/src/with space@s 1`;
  await client.storeSettings(snapSp, otherBytes, sha256OfBytes(otherBytes));
  sh(`zfs destroy '${snapSp}'`);
  const afterDestroy = await client.readSettings(snapSp).catch((e: unknown) => e);
  check('destroying the snapshot takes its settings with it (read fails: no such snapshot)', (afterDestroy as { code?: string }).code === 'RECEIVER_ZFS_COMMAND_FAILED', String((afterDestroy as Error).message));

  // dom0 vanishes mid-stream: the agent closes zfs's stdin; ZFS keeps resumable state.
  sh(`zfs create src/gone && dd if=/dev/urandom of=/tmp/mnt/src/gone/x bs=1M count=24 status=none && zfs snapshot src/gone@g`);
  let forwarded = 0n;
  const pending = client.receive({ ...bigHeader, dataset: `${ROOT}/src/gone`, snapshot: 'g' }, zfsSend(['src/gone@g']), {
    onProgress: (b) => {
      forwarded = b;
      if (b > 4n * 1024n * 1024n && !pair.toAgent.writableEnded) pair.toAgent.end();
    },
  }).catch((e: unknown) => e);
  const outcome = await pending;
  const end = await pair.agent;
  check('dom0 vanishing mid-stream: session ends "disconnected", link fails', end === 'disconnected' && outcome instanceof Error, `${end}, ${(outcome as Error).message}, forwarded ${forwarded}`);
  check('…and the dataset holds a resume token', prop(`${ROOT}/src/gone`, 'receive_resume_token') !== '-');
  await client.close();

  // The agent as its own process through connectReceiver (qrexec path, local launcher).
  const launcher = path.join(path.dirname(fileURLToPath(import.meta.url)), 'local-qrexec-client.sh');
  const link = connectReceiver('backup-vm', { env: { ...process.env, QZB_QREXEC_CLIENT: launcher } });
  client = link.client;
  const h2 = await client.hello(ROOT);
  inv = await client.inventory();
  check('separate agent process: hello + inventory', h2.receiveRoot.exists && inv.datasets.has(`${ROOT}/src/gone`), `${inv.datasets.size} datasets`);
  const gone = await client.receive({ ...bigHeader, dataset: `${ROOT}/src/gone`, snapshot: 'g', resume: true }, zfsSend(['-t', prop(`${ROOT}/src/gone`, 'receive_resume_token')]));
  check('separate agent process: resume after dom0 vanished, GUID matches', gone.guid === BigInt(prop('src/gone@g', 'guid')));
  // SIGTERM to the agent process mid-receive: it closes zfs's stdin, waits, exits 0; token left.
  sh(`zfs create src/sig && dd if=/dev/urandom of=/tmp/mnt/src/sig/x bs=1M count=24 status=none && zfs snapshot src/sig@s`);
  const { outcome: sig, exit: sigExit } = await sigtermMidStream(link, { ...bigHeader, dataset: `${ROOT}/src/sig`, snapshot: 's' }, 'src/sig@s');
  check('SIGTERM to the agent mid-receive: link fails, agent exits 0, resume token left', sig instanceof Error && sigExit === 0 && prop(`${ROOT}/src/sig`, 'receive_resume_token') !== '-', `${(sig as Error).message}; exit ${sigExit}; ${link.stderrTail().filter((l) => /receive:/.test(l)).slice(-2).join(' | ')}`);
  await client.close();
  const link2 = connectReceiver('backup-vm', { env: { ...process.env, QZB_QREXEC_CLIENT: launcher } });
  await link2.client.hello(ROOT);
  check('…and abort clears it', (await link2.client.abort(`${ROOT}/src/sig`)).hadState);
  await link2.client.close();
  check('separate agent process: clean exit after close', (await link2.exited) === 0, `exit ${await link2.exited}; ${link2.stderrTail().slice(-2).join(' | ')}`);
  await unframedChecks(() => connectReceiver('backup-vm', { env: { ...process.env, QZB_QREXEC_CLIENT: launcher } }), ReceiveFailedError);
  await poolFullChecks(ReceiveFailedError);
  pair = createLinkedPair(createZfsRunner(process.env));
  await pair.client.hello(ROOT);
  const finalInv = await pair.client.inventory();
  check('nothing was destroyed besides the aborted partial dataset', ['src', 'src/fs', 'src/vol', 'src/clone', 'src/with space', 'src/enc', 'src/big', 'src/gone', 'src/p', 'src/p/c', 'src/p/v', 'src/p/manual', 'src/q', 'src/q/c', 'src/m', 'src/mv', 'src/w', 'src/u', 'src/uv', 'src/uc', 'src/uw'].every((d) => finalInv.datasets.has(`${ROOT}/${d}`)));
  await pair.client.close();
  console.log(`agent log (last lines):\n  ${logs.slice(-6).join('\n  ')}`);
  console.log(failures === 0 ? 'ALL PASSED' : `${failures} FAILED`);
  process.exitCode = failures === 0 ? 0 : 1;
}

// Unframed receives (the agent's zfs receive reads the channel itself), through the agent as its
// own process: several streams and then a framed one and an inventory on ONE session prove that
// zfs receive stops reading exactly at each stream's end; a cut one ends the session with a
// token; a resume and a SIGTERM mid-stream behave as framed ones do.
async function unframedChecks(connect: () => Link, ReceiveFailedError: FailedClass): Promise<void> {
  sh(`set -e
    zfs create src/u
    dd if=/dev/urandom of=/tmp/mnt/src/u/a bs=1M count=6 status=none
    zfs snapshot src/u@1
    dd if=/dev/urandom of=/tmp/mnt/src/u/b bs=1M count=3 status=none
    zfs snapshot src/u@2
    zfs create -s -V 16M src/uv
    udevadm settle --timeout=30
    dd if=/dev/urandom of=/dev/zvol/src/uv bs=1M count=5 status=none conv=fsync
    zfs snapshot src/uv@1
    zfs create src/uc
    dd if=/dev/urandom of=/tmp/mnt/src/uc/a bs=1M count=12 status=none
    zfs snapshot src/uc@1
    zfs create src/us
    dd if=/dev/urandom of=/tmp/mnt/src/us/a bs=1M count=24 status=none
    zfs snapshot src/us@1`);
  const ok = Promise.resolve(true);
  const U: Header = { dataset: `${ROOT}/src/u`, snapshot: '1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  let link = connect();
  const h = await link.client.hello(ROOT);
  check('unframed: the agent process offers it at hello', h.unframed);
  const r1 = await link.client.receive(U, zfsSend(['-L', '-c', 'src/u@1']), { unframed: true, sourceOk: ok });
  const r2 = await link.client.receive({ ...U, snapshot: '2', stream: 'incremental' }, zfsSend(['-L', '-c', '-i', '@1', 'src/u@2']), { unframed: true, sourceOk: ok });
  const r3 = await link.client.receive({ ...U, dataset: `${ROOT}/src/uv`, type: 'volume' }, zfsSend(['-L', '-c', '-e', 'src/uv@1']), { unframed: true, sourceOk: ok });
  const r4 = await link.client.receive({ ...U, dataset: `${ROOT}/src/uw`, snapshot: 'w' }, zfsSend(['src/w@1']));
  const inv = await link.client.inventory();
  check('unframed: full, incremental and volume streams then a framed one on one session, GUIDs match',
    r1.guid === BigInt(prop('src/u@1', 'guid')) && r2.guid === BigInt(prop('src/u@2', 'guid')) && r3.guid === BigInt(prop('src/uv@1', 'guid')) && r4.guid === BigInt(prop('src/w@1', 'guid')) && inv.datasets.get(U.dataset)?.snapshots.length === 2,
    `${r1.bytes}+${r2.bytes}+${r3.bytes} bytes unframed`);
  check('unframed: counted bytes are the stream sizes', r1.bytes > 6n * 1024n * 1024n && r3.bytes > 5n * 1024n * 1024n, `${r1.bytes}, ${r3.bytes}`);
  // A cut stream (its process reported a failure): EOF to zfs receive, receive-failed with a token, the link ends.
  const C: Header = { ...U, dataset: `${ROOT}/src/uc` };
  const cut = await link.client.receive(C, truncate(zfsSend(['-L', '-c', 'src/uc@1']), 3 * 1024 * 1024), { unframed: true, sourceOk: Promise.resolve(false) }).catch((e: unknown) => e);
  const token = cut instanceof ReceiveFailedError ? cut.resumeToken : null;
  check('unframed cut stream: receive-failed with a token, then the link is closed', cut instanceof ReceiveFailedError && token !== null && (link.client.failed as { code?: string } | null)?.code === 'RECEIVER_CLOSED', stderrOf(cut));
  check('…and the agent ended the session and exited 0', (await link.exited) === 0, link.stderrTail().slice(-2).join(' | '));
  await link.client.close();
  link = connect();
  await link.client.hello(ROOT);
  const resumed = await link.client.receive({ ...C, resume: true }, zfsSend(['-t', token ?? '']), { unframed: true, sourceOk: ok });
  check('unframed resume with zfs send -t: GUID matches', resumed.guid === BigInt(prop('src/uc@1', 'guid')), `${resumed.bytes} bytes`);
  // SIGTERM to the agent mid-stream: its zfs receive is killed, the token kept, the agent exits 0.
  const S: Header = { ...U, dataset: `${ROOT}/src/us` };
  const { outcome: sig, exit } = await sigtermMidStream(link, S, 'src/us@1', { unframed: true, sourceOk: ok });
  check('unframed, SIGTERM to the agent mid-stream: link fails, agent exits 0, resume token left', sig instanceof Error && exit === 0 && prop(S.dataset, 'receive_resume_token') !== '-', `${(sig as Error).message}; exit ${exit}; ${link.stderrTail().filter((l) => /receive:/.test(l)).slice(-2).join(' | ')}`);
  await link.client.close();
}

/** A receive of `snapshot` during which the agent process gets SIGTERM once 4 MiB have gone: what receive gave, and the agent's exit. */
async function sigtermMidStream(link: Link, header: Header, snapshot: string, options: ReceiveOptions = {}): Promise<{ outcome: unknown; exit: number | null }> {
  let killed = false;
  const outcome = await link.client.receive(header, zfsSend([snapshot]), {
    ...options,
    onProgress: (b) => {
      if (b > 4n * 1024n * 1024n && !killed) {
        killed = true;
        process.kill(link.pid!, 'SIGTERM');
      }
    },
  }).catch((e: unknown) => e);
  return { outcome, exit: await link.exited };
}

type Link = import('../../../dom0/receiver-link/spawn.ts').ReceiverLink;
type ReceiveOptions = import('../../../dom0/receiver-link/client.ts').ReceiveOptions;
type Client = import('../../../dom0/receiver-link/client.ts').ReceiverClient;
type FailedClass = typeof import('../../../dom0/receiver-link/errors.ts').ReceiveFailedError;
type Header = import('../../../dom0/receiver-link/types.ts').ReceiveHeader;
const stderrOf = (e: unknown): string => (e instanceof Error && 'stderr' in e ? `${(e as { reason?: string }).reason ?? ''}: ${(e as { stderr: string[] }).stderr.join(' / ')}` : String(e));
const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String(e);
/** Every filesystem/volume/snapshot under `ds` (itself excluded) with its GUID. */
const guidsBelow = (ds: string): string => sh(`zfs list -H -p -r -t all -o name,guid '${ds}'`).split('\n').filter((l) => l && !l.startsWith(`${ds}\t`) && !l.startsWith(`${ds}@`)).join(';');
/** Makes a dataset mountable at a temporary mountpoint, runs `script` with $M set to it, restores. */
const withMounted = (ds: string, script: string, canmountAfter: string): void => {
  sh(`set -e; zfs set mountpoint=/qzbtest '${ds}'; zfs set canmount=on '${ds}'; zfs mount '${ds}' 2>/dev/null || true
    M=/tmp/mnt/qzbtest; ${script}; sync
    zfs umount '${ds}'; zfs set canmount=${canmountAfter} '${ds}'; zfs inherit mountpoint '${ds}'; zpool sync backup`);
};

// Full receives into the agent's own placeholders (SPEC §6): refused unless the live re-check
// passes; then -F keeps the children; a cut one resumes (needs -F again on >= 2.2).
async function placeholderChecks(client: Client, ReceiveFailedError: FailedClass): Promise<void> {
  const P = `${ROOT}/src/p`;
  const marker = (ds: string): string => sh(`zfs get -H -o value,source org.qubes-zfs-backup:placeholder '${ds}'`).trim().replace('\t', ' ');
  const base: Header = { dataset: `${P}/c`, snapshot: 'c1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  await client.receive(base, zfsSend(['-L', '-c', 'src/p/c@c1']));
  await client.receive({ ...base, snapshot: 'c2', stream: 'incremental' }, zfsSend(['-L', '-c', '-i', '@c1', 'src/p/c@c2']));
  await client.receive({ ...base, dataset: `${P}/v`, snapshot: 'v1', type: 'volume' }, zfsSend(['-L', '-c', 'src/p/v@v1']));
  sh(`zfs create -o canmount=off '${P}/manual'`);
  let inv = await client.inventory();
  const ph = inv.datasets.get(P);
  check('inventory: a placeholder parent is placeholder, with written = its referenced', ph?.placeholder === true && ph.resumeToken === null && ph.written === BigInt(prop(P, 'referenced')), `written ${ph?.written}`);
  check('inventory: datasets received below a placeholder are not placeholders (marker set locally off)',
    inv.datasets.get(`${P}/c`)?.placeholder === false && inv.datasets.get(`${P}/v`)?.placeholder === false && marker(`${P}/c`) === 'off local' && marker(`${P}/v`) === 'off local', `${marker(`${P}/c`)} / ${marker(`${P}/v`)}`);
  check('inventory: written is 0 right after receiving a filesystem and a volume', inv.datasets.get(`${P}/c`)?.written === 0n && inv.datasets.get(`${P}/v`)?.written === 0n);
  const children = guidsBelow(P);

  const header: Header = { dataset: P, snapshot: 's', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  const noFlag = await client.receive(header, zfsSend(['-L', '-c', 'src/p@s'])).catch((e: unknown) => e);
  check('full into a placeholder without intoPlaceholder: no -F, ZFS refuses, destination-exists', noFlag instanceof ReceiveFailedError && noFlag.reason === 'destination-exists', stderrOf(noFlag));
  const into: Header = { ...header, intoPlaceholder: true };
  const vol = await client.receive({ ...into, type: 'volume' }, () => zfsSend(['src/p/v@v1'])).catch((e: unknown) => e);
  check('intoPlaceholder with a volume stream: REQUEST_REFUSED', codeOf(vol) === 'RECEIVER_REQUEST_REFUSED' && /volume stream/.test(String(vol)), String(vol));
  const raw = await client.receive({ ...into, raw: true }, () => zfsSend(['-w', 'src/p@s'])).catch((e: unknown) => e);
  check('intoPlaceholder with a raw stream: REQUEST_REFUSED', codeOf(raw) === 'RECEIVER_REQUEST_REFUSED' && /raw/.test(String(raw)), String(raw));
  const inherited = await client.receive({ ...into, dataset: `${P}/manual` }, () => zfsSend(['src/q/c@c1'])).catch((e: unknown) => e);
  check('intoPlaceholder into a dataset with an inherited marker: REQUEST_REFUSED', codeOf(inherited) === 'RECEIVER_REQUEST_REFUSED' && /inherited/.test(String(inherited)), String(inherited));
  const notPh = await client.receive({ ...into, dataset: `${P}/c`, snapshot: 'x' }, () => zfsSend(['src/p@s'])).catch((e: unknown) => e);
  check('intoPlaceholder into a received dataset: REQUEST_REFUSED', codeOf(notPh) === 'RECEIVER_REQUEST_REFUSED', String(notPh));
  withMounted(P, 'touch "$M/empty"', 'off');
  check('an empty file in the placeholder leaves written/referenced unchanged (why the check counts objects)', BigInt(prop(P, 'written')) === ph?.written, `${prop(P, 'written')} / ${ph?.written}`);
  const used = await client.receive(into, () => zfsSend(['src/p@s'])).catch((e: unknown) => e);
  check('intoPlaceholder after a file was written into the placeholder: REQUEST_REFUSED', codeOf(used) === 'RECEIVER_REQUEST_REFUSED' && /data was written/.test(String(used)), String(used));
  withMounted(P, 'rm "$M/empty"', 'off');
  check('placeholder restored: marker on local, canmount off', marker(P) === 'on local' && prop(P, 'canmount') === 'off');

  // Cut the full stream into the placeholder: partial state kept, the placeholder stays one.
  const cut = await client.receive(into, truncate(zfsSend(['-L', '-c', 'src/p@s']), 3 * 1024 * 1024)).catch((e: unknown) => e);
  const token = cut instanceof ReceiveFailedError ? cut.resumeToken : null;
  check('cut full receive into a placeholder: incomplete-stream, token', cut instanceof ReceiveFailedError && cut.reason === 'incomplete-stream' && token !== null, stderrOf(cut));
  inv = await client.inventory();
  const part = inv.datasets.get(P);
  check('inventory during the partial state: placeholder true, resumeToken set, not inconsistent; marker still local',
    part?.placeholder === true && part.resumeToken === token && part.inconsistent === false && marker(P) === 'on local' && prop(P, 'canmount') === 'off', JSON.stringify({ placeholder: part?.placeholder, inconsistent: part?.inconsistent, marker: marker(P) }));
  const fresh = await client.receive(into, () => zfsSend(['src/p@s'])).catch((e: unknown) => e);
  check('intoPlaceholder without resume while partial state exists: REQUEST_REFUSED', codeOf(fresh) === 'RECEIVER_REQUEST_REFUSED' && /partial receive state/.test(String(fresh)), String(fresh));
  const noF = await client.receive({ ...header, resume: true }, zfsSend(['-t', token ?? ''])).catch((e: unknown) => e);
  // OpenZFS 2.1 says "modified since most recent snapshot" instead, and its failed attempt writes
  // a new token (checked by hand on 2.1.11); the planner always takes the token from a fresh
  // inventory, so the resume below does too.
  const tokenNow = prop(P, 'receive_resume_token');
  if (/^zfs-2\.1\./m.test(sh('zfs version'))) {
    check('resume into a placeholder without intoPlaceholder (2.1): destination-modified, resumable state kept', noF instanceof ReceiveFailedError && noF.reason === 'destination-modified' && tokenNow !== '-', stderrOf(noF));
  } else {
    check('resume into a placeholder without intoPlaceholder: ZFS wants -F (>= 2.2), token kept', noF instanceof ReceiveFailedError && noF.reason === 'destination-exists' && tokenNow === token, stderrOf(noF));
  }
  const resumed = await client.receive({ ...into, resume: true }, zfsSend(['-t', tokenNow]));
  check('resume into the placeholder with intoPlaceholder (agent adds -F): GUID matches', resumed.guid === BigInt(prop('src/p@s', 'guid')), `${resumed.bytes} bytes resumed`);
  check('children of the placeholder (fs with 2 snapshots, volume, an unreceived child) survive with identical GUIDs', guidsBelow(P) === children, `${children.split(';').length} entries`);
  check('after the receive: marker off (local), canmount noauto, not mounted, no token', marker(P) === 'off local' && prop(P, 'canmount') === 'noauto' && prop(P, 'mounted') === 'no' && prop(P, 'receive_resume_token') === '-', `${marker(P)} ${prop(P, 'canmount')}`);
  inv = await client.inventory();
  check('inventory after: not a placeholder, written 0, snapshot s present', inv.datasets.get(P)?.placeholder === false && inv.datasets.get(P)?.written === 0n && inv.datasets.get(P)?.snapshots.map((x) => x.label).join() === 's');
  const twice = await client.receive({ ...into, snapshot: 's2' }, () => zfsSend(['src/p@s'])).catch((e: unknown) => e);
  check('intoPlaceholder again (received now: marker off, a snapshot): REQUEST_REFUSED', codeOf(twice) === 'RECEIVER_REQUEST_REFUSED' && /is "off" \(source local\)/.test(String(twice)), String(twice));

  // An uninterrupted full receive into a placeholder.
  const Q = `${ROOT}/src/q`;
  await client.receive({ ...base, dataset: `${Q}/c` }, zfsSend(['src/q/c@c1']));
  const qChildren = guidsBelow(Q);
  const q = await client.receive({ ...into, dataset: Q }, zfsSend(['src/q@s']));
  check('full receive into a placeholder in one go: GUID matches, child intact, marker off', q.guid === BigInt(prop('src/q@s', 'guid')) && guidsBelow(Q) === qChildren && marker(Q) === 'off local');
}

// `written` on the receiver, and the real stderr of failed receives against the classifier.
async function writtenAndFailureChecks(client: Client, ReceiveFailedError: FailedClass): Promise<void> {
  const M = `${ROOT}/src/m`;
  const fs: Header = { dataset: M, snapshot: '1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  await client.receive(fs, zfsSend(['src/m@1']));
  withMounted(M, 'dd if=/dev/urandom of="$M/x" bs=64K count=4 status=none', 'noauto');
  let inv = await client.inventory();
  const w = inv.datasets.get(M)?.written ?? 0n;
  check('written > 0 after a file was written into a received filesystem', w > 0n, `written ${w}`);
  const mod = await client.receive({ ...fs, snapshot: '2', stream: 'incremental' }, zfsSend(['-i', '@1', 'src/m@2'])).catch((e: unknown) => e);
  check('incremental into a modified filesystem: destination-modified, nothing rolled back', mod instanceof ReceiveFailedError && mod.reason === 'destination-modified' && BigInt(prop(M, 'written')) === w, stderrOf(mod));

  const V = `${ROOT}/src/mv`;
  const vol: Header = { ...fs, dataset: V, type: 'volume' };
  await client.receive(vol, zfsSend(['src/mv@1']));
  sh(`set -e; zfs set volmode=dev '${V}'; udevadm settle --timeout=30
    for i in $(seq 1 100); do [ -e '/dev/zvol/${V}' ] && break; sleep 0.1; done
    dd if=/dev/urandom of='/dev/zvol/${V}' bs=64K count=1 seek=10 status=none conv=fsync
    zfs set volmode=none '${V}'; udevadm settle --timeout=30; zpool sync backup`);
  inv = await client.inventory();
  const wv = inv.datasets.get(V)?.written ?? 0n;
  check('written > 0 after a write into a received volume (volmode=dev for a moment)', wv > 0n && prop(V, 'volmode') === 'none', `written ${wv}`);
  const modv = await client.receive({ ...vol, snapshot: '2', stream: 'incremental' }, zfsSend(['-i', '@1', 'src/mv@2'])).catch((e: unknown) => e);
  check('incremental into a modified volume: destination-modified', modv instanceof ReceiveFailedError && modv.reason === 'destination-modified', stderrOf(modv));

  const W = `${ROOT}/src/w`;
  await client.receive({ ...fs, dataset: W }, zfsSend(['src/w@1']));
  const mismatch = await client.receive({ ...fs, dataset: W, snapshot: '3', stream: 'incremental' }, zfsSend(['-i', '@2', 'src/w@3'])).catch((e: unknown) => e);
  check('incremental from a base the receiver lacks: base-mismatch', mismatch instanceof ReceiveFailedError && mismatch.reason === 'base-mismatch', stderrOf(mismatch));
  const exists = await client.receive({ ...fs, dataset: W, snapshot: '2' }, zfsSend(['src/w@2'])).catch((e: unknown) => e);
  check('full into an existing received dataset: destination-exists', exists instanceof ReceiveFailedError && exists.reason === 'destination-exists', stderrOf(exists));
}

// The receiver pool full: a clear reason, resumable partial state, completes after space is freed.
async function poolFullChecks(ReceiveFailedError: FailedClass): Promise<void> {
  const { createLinkedPair } = await import('../../../dom0/receiver-link/linked-pair.ts');
  const { createZfsRunner } = await import('../../../receiver/zfs-runner.ts');
  sh(`set -e; truncate -s 256M /tmp/img/tiny.img; zpool create -R /tmp/mnt tiny /tmp/img/tiny.img
    zfs create -o mountpoint=none tiny/qzb; zfs create -o mountpoint=none -o refreservation=80M tiny/filler
    zfs create src/huge; dd if=/dev/urandom of=/tmp/mnt/src/huge/x bs=1M count=64 status=none; zfs snapshot src/huge@h`);
  const pair = createLinkedPair(createZfsRunner(process.env));
  await pair.client.hello('tiny/qzb');
  const h: Header = { dataset: 'tiny/qzb/huge', snapshot: 'h', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false };
  const avail = prop('tiny', 'available');
  const full = await pair.client.receive(h, zfsSend(['src/huge@h'])).catch((e: unknown) => e);
  const token = full instanceof ReceiveFailedError ? full.resumeToken : null;
  check('receiver pool full: out-of-space, resumable partial state kept', full instanceof ReceiveFailedError && full.reason === 'out-of-space' && token !== null, `${stderrOf(full)}; available before ${avail}`);
  sh('zfs destroy tiny/filler');
  const resumed = await pair.client.receive({ ...h, resume: true }, zfsSend(['-t', token ?? '']));
  check('…after space is freed the resume completes with the source GUID', resumed.guid === BigInt(prop('src/huge@h', 'guid')), `${resumed.bytes} bytes resumed`);
  await pair.client.close();
}

async function host(): Promise<void> {
  const { runInVm } = await import('../../vm/vm.ts');
  const { mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  // The separate agent process runs the shipped bundle (what qrexec starts in a real qube), built
  // into the VM's out share: cheaper and steadier under emulation than transpiling with tsx there.
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'qzb-real-zfs-'));
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', path.join(outDir, 'dist')], { cwd: repo, stdio: 'ignore' });
  const r = await runInVm({
    command: ['node', '--import', 'tsx', 'test/unit/receiver/real-zfs.vm.ts'],
    outDir,
    env: { QZB_RECEIVER_BUNDLE: path.join(outDir, 'dist', 'qubes-zfs-backup-receiver.mjs') },
    timeoutMs: 20 * 60 * 1000,
    onStdoutLine: (l) => console.log(l),
    ...(process.env.ZFS_SERIES ? { zfsSeries: process.env.ZFS_SERIES } : {}),
  });
  if (r.stderr) process.stderr.write(r.stderr);
  console.log(`[vm] zfs ${r.zfsVersion}; boot ${r.bootMs} ms; total ${r.totalMs} ms; exit ${r.exitCode}`);
  const { rmSync } = await import('node:fs');
  rmSync(outDir, { recursive: true, force: true });
  process.exitCode = r.exitCode;
}

const agentLog: string[] = [];
if (process.env.QZB_VM === '1') {
  await guest().catch((error: unknown) => {
    console.log(`FAIL unexpected: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    console.log(`zfs send processes:\n  ${sends.join('\n  ')}`);
    console.log(`agent log:\n  ${agentLog.join('\n  ')}`);
    process.exitCode = 1;
  });
} else {
  await host();
}
