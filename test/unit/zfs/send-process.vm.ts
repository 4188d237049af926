// Real-ZFS check of dom0's send adapters (not a unit test: it needs the test VM).
//   node --import tsx test/unit/zfs/send-process.vm.ts            (host: boots the VM, runs itself inside)
//   ZFS_SERIES=2.1 node --import tsx test/unit/zfs/send-process.vm.ts
// Inside: a pool with a zvol of random data; startZfsSend read to the end (byte count = a shell
// `zfs send | wc -c`), stopped mid-stream, stopped while blocked on a full pipe nobody reads, its
// reader vanishing, a missing snapshot; then a send piped into `zfs receive -s` stopped half-way,
// the token decoded by decodeResumeToken, resumed with resumeArgs, the GUIDs compared; a bookmark
// made with createBookmark and the incremental from it. After each: no `zfs` process is left.
// Prints PASS/FAIL lines (and RECORD lines: what real zfs reported); exits 1 if any check failed.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let failures = 0;
function check(what: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}`);
}
const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function zfsProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'zfs') out.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}
async function noZfsLeft(what: string): Promise<void> {
  for (let i = 0; i < 20 && zfsProcesses().length > 0; i++) await sleep(100);
  const left = zfsProcesses();
  check(`${what}: no zfs process left`, left.length === 0, left.join('; '));
}

async function guest(): Promise<void> {
  const { startZfsSend } = await import('../../../dom0/zfs/send-process.ts');
  const { sendArgs, resumeArgs, estimateArgs, parseEstimate } = await import('../../../dom0/zfs/send-args.ts');
  const { decodeResumeToken } = await import('../../../dom0/zfs/resume-token.ts');
  const { classifySendFailure } = await import('../../../dom0/zfs/send-errors.ts');
  const { createBookmark } = await import('../../../dom0/zfs/bookmark.ts');
  const { runZfs } = await import('../../../dom0/zfs/runner.ts');
  const flags = { raw: false, largeBlocks: true, compressed: true, embedded: true };

  console.log(`zfs: ${sh('zfs version').trim().replace(/\n/g, ' / ')}`);
  sh(`set -e
    mkdir -p /tmp/img /tmp/mnt
    truncate -s 512M /tmp/img/s.img /tmp/img/d.img
    zpool create -R /tmp/mnt -O mountpoint=none s /tmp/img/s.img
    zpool create -R /tmp/mnt -O mountpoint=none d /tmp/img/d.img
    zfs create -V 48M s/vol
    udevadm settle
    dd if=/dev/urandom of=/dev/zvol/s/vol bs=1M count=40 conv=fsync status=none
    zfs snapshot s/vol@a
    dd if=/dev/urandom of=/dev/zvol/s/vol bs=1M seek=40 count=4 conv=fsync status=none
    zfs snapshot s/vol@b`);
  const expected = BigInt(sh('zfs send -L -c -e s/vol@a | wc -c').trim());
  const est = parseEstimate((await runZfs(estimateArgs({ snapshot: 's/vol@a', from: null, flags }))).stdout);
  console.log(`RECORD estimate ${est} actual ${expected}`);

  // 1. read to the end
  {
    const t0 = Date.now();
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@a', from: null, flags }));
    let n = 0n;
    for await (const c of p.stdout) n += BigInt((c as Buffer).length);
    const end = await p.done;
    const ms = Date.now() - t0;
    check('full read: exit 0, every byte', end.exitCode === 0 && n === expected, `${n} of ${expected} bytes, ${JSON.stringify(end)}`);
    console.log(`RECORD full-read ${n} bytes in ${ms} ms (${((Number(n) / 1048576) / (ms / 1000)).toFixed(1)} MiB/s through node)`);
    await noZfsLeft('full read');
  }
  // 2. stop while reading
  {
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@a', from: null, flags }));
    let n = 0;
    await new Promise<void>((resolve) => {
      p.stdout.on('data', (c: Buffer) => {
        n += c.length;
        if (n >= 4 << 20) resolve();
      });
    });
    const t0 = Date.now();
    await p.stop();
    const end = await p.done;
    console.log(`RECORD stop-while-reading ${JSON.stringify(end)} after ${n} bytes, stop took ${Date.now() - t0} ms`);
    check('stop mid-stream: ends (not exit 0)', end.exitCode !== 0, JSON.stringify(end));
    await noZfsLeft('stop mid-stream');
  }
  // 3. stop while blocked on a full pipe nobody reads
  {
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@a', from: null, flags }));
    await sleep(2000);
    const blocked = zfsProcesses().length > 0;
    const t0 = Date.now();
    await p.stop();
    const end = await p.done;
    const ms = Date.now() - t0;
    console.log(`RECORD stop-blocked ${JSON.stringify(end)}, stop took ${ms} ms`);
    check('stop while blocked on a full pipe: was running, stopped within the grace period', blocked && ms < 5000, `${ms} ms`);
    await noZfsLeft('stop blocked');
  }
  // 4. the reader vanishes (stdout destroyed, no kill)
  {
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@a', from: null, flags }));
    await new Promise((r) => p.stdout.once('data', r));
    p.stdout.destroy();
    const end = await Promise.race([p.done, sleep(20000).then(() => null)]);
    console.log(`RECORD reader-vanished ${JSON.stringify(end)} -> ${JSON.stringify(end && classifySendFailure({ exitCode: end.exitCode, signal: end.signal, stderr: end.stderrTail }))}`);
    check('reader vanished: zfs send ends by itself', end !== null && end.exitCode !== 0);
    if (end === null) await p.stop();
    await noZfsLeft('reader vanished');
  }
  // 5. a missing snapshot
  {
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@nope', from: null, flags }));
    p.stdout.resume();
    const end = await p.done;
    const f = classifySendFailure({ exitCode: end.exitCode, signal: end.signal, stderr: end.stderrTail });
    check('missing snapshot: exit 1, classified missing', end.exitCode === 1 && f?.kind === 'missing', JSON.stringify(end));
  }
  // 6. cut into a real receive with stop(), decode the token, resume, compare GUIDs
  {
    const recv = (): { child: ReturnType<typeof spawn>; done: Promise<number | null> } => {
      const child = spawn('zfs', ['receive', '-s', '-u', '-o', 'volmode=none', 'd/vol'], { stdio: ['pipe', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
      return { child, done: new Promise((r) => child.on('close', (c) => r(c))) };
    };
    const r1 = recv();
    const p = startZfsSend(sendArgs({ snapshot: 's/vol@a', from: null, flags }));
    let n = 0;
    let stopped = false;
    p.stdout.on('data', (c: Buffer) => {
      n += c.length;
      if (!r1.child.stdin!.write(c)) {
        p.stdout.pause();
        r1.child.stdin!.once('drain', () => p.stdout.resume());
      }
      if (n >= 8 << 20 && !stopped) {
        stopped = true;
        void p.stop().then(() => r1.child.stdin!.end());
      }
    });
    const end = await p.done;
    if (!stopped) r1.child.stdin!.end();
    const rc = await r1.done;
    const token = sh('zfs get -H -p -o value receive_resume_token d/vol').trim();
    check('stopped send into receive -s: receive failed, token left', rc !== 0 && token !== '-', `send ${JSON.stringify(end)}, receive ${rc}, ${n} bytes`);
    const decoded = await decodeResumeToken(token);
    const guid = BigInt(sh('zfs get -H -p -o value guid s/vol@a').trim());
    check('token decodes as resumable for s/vol@a with its GUID', decoded.status === 'resumable' && decoded.dump.toname === 's/vol@a' && decoded.dump.toguid === guid,
      JSON.stringify(decoded, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    const r2 = recv();
    const q = startZfsSend(resumeArgs(token));
    q.stdout.pipe(r2.child.stdin!);
    const end2 = await q.done;
    const rc2 = await r2.done;
    const got = BigInt(sh('zfs get -H -p -o value guid d/vol@a').trim());
    check('resume via startZfsSend(resumeArgs) completes with the same GUID', end2.exitCode === 0 && rc2 === 0 && got === guid, `${JSON.stringify(end2)} recv ${rc2}`);
    // 7. bookmark, destroy the snapshot, incremental from the bookmark
    check('createBookmark: created, then exists', (await createBookmark('s/vol@a', 's/vol#a')) === 'created' && (await createBookmark('s/vol@a', 's/vol#a')) === 'exists');
    sh('zfs destroy s/vol@a');
    const r3 = recv();
    const b = startZfsSend(sendArgs({ snapshot: 's/vol@b', from: 's/vol#a', flags }));
    b.stdout.pipe(r3.child.stdin!);
    const end3 = await b.done;
    const rc3 = await r3.done;
    check('incremental from a bookmark of a destroyed snapshot', end3.exitCode === 0 && rc3 === 0 &&
      sh('zfs get -H -p -o value guid d/vol@b').trim() === sh('zfs get -H -p -o value guid s/vol@b').trim());
    await noZfsLeft('resume and bookmark');
  }
  console.log(failures === 0 ? 'ALL PASS' : `${failures} FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}

async function host(): Promise<void> {
  const { runInVm, VmError } = await import('../../vm/vm.ts');
  const self = fileURLToPath(import.meta.url);
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  try {
    const r = await runInVm({
      command: ['node', '--import', 'tsx', self, '--guest'],
      cwd: root,
      timeoutMs: 8 * 60 * 1000,
      onStdoutLine: (l) => console.log(l),
      onStderrLine: (l) => console.error(`[guest stderr] ${l}`),
    });
    process.exit(r.exitCode === 0 ? 0 : 1);
  } catch (e) {
    if (e instanceof VmError) {
      console.error(`VM failed (${e.stage}): ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}

if (process.argv.includes('--guest')) await guest();
else await host();
