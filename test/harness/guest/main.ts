// The guest executor: ONE node process per VM boot that runs every scenario of a plan
// (test/harness/run-scenarios.ts writes the plan and bundles this file with esbuild). Per scenario:
// fresh pools on sparse files in /tmp, the system built (dom0 datasets, Qubes pools and qubes with
// the zfs driver's layout, the receiver's pool and dataset), the fake qubesd started, each step run
// and reported as one NDJSON line on stdout, then a `final` line with every dataset, snapshot and
// bookmark on each side, then the pools are destroyed. Diagnostics go to stderr.
import { chmod, copyFile, mkdir, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { basename, join } from 'node:path';
import type { NScenario, NStep } from '../scenario.ts';
import { checkExpect } from '../expect.ts';
import { startQubesd } from '../qubesd.ts';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync as fileExists } from 'node:fs';

/** SHA-256 of a block device (waits for udev to create its node). */
async function sha256Of(path: string): Promise<string> {
  for (let i = 0; i < 600 && !fileExists(path); i++) await new Promise((r) => setTimeout(r, 50));
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
import type { QubesdServer } from '../qubesd.ts';
import { QubesSim, writeRandom } from './qubes-sim.ts';
import { BASE_PATH, must, optionArgs, run, runPipe, ZFS, zfs, zfsTry, ZPOOL, zpool } from './proc.ts';
import { destroyedBetween, listSide, partialStateProblems, replicationProblems } from './assertions.ts';
import type { Listed, Vanished } from './assertions.ts';
import { sampleCpu } from './cpu.ts';
import type { ProcResult } from './proc.ts';

export interface Plan {
  repo: string;
  /** Where the two bundles are: a copy of dist/ taken when the run started (a rebuild of dist/
   *  during a long run, by anyone, cannot change the programs under test half-way). */
  distDir: string;
  outDir: string;
  scenarios: NScenario[];
  /** The views' fast path built on the host (bin/zfs-view.c), or null: the bash views alone. */
  viewBin?: string | null;
}

type Rec = Record<string, unknown>;
const DEFAULT_RUN_TIMEOUT_MS = 10 * 60 * 1000;
/** Random bytes a `qube: import NAME:VOLUME` step writes into the new volume. */
const IMPORT_BYTES = 256 * 1024;

function emit(rec: Rec): void {
  process.stdout.write(`${JSON.stringify(rec)}\n`);
}
function note(msg: string): void {
  process.stderr.write(`[guest] ${msg}\n`);
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

class ScenarioRun {
  readonly dir: string;
  readonly sim: QubesSim;
  qubesd?: QubesdServer;
  readonly createdPools: string[] = [];
  failed = 0;
  private cliEnv: Record<string, string> = {};
  /** What `run` steps made disappear so far (only watched when the scenario asserts it). */
  readonly vanished: Vanished[] = [];

  constructor(
    readonly plan: Plan,
    readonly s: NScenario,
    readonly index: number,
  ) {
    this.dir = `/tmp/qzb/s${index}`;
    this.sim = new QubesSim(s, (qube, state) =>
      state === null ? rm(join(this.dir, 'qubes-state', qube), { force: true }) : writeFile(join(this.dir, 'qubes-state', qube), state),
    );
  }

  get dom0Pools(): string[] {
    return this.s.pools.map((p) => p.name);
  }

  rec(r: Rec): void {
    emit({ ...r, scenario: this.s.file });
  }

  async prepareDirs(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    for (const d of ['bin', 'qubes-state', 'metadata', 'work', 'channel', 'keys', 'pools', 'mnt', 'receiver-mnt']) {
      await mkdir(join(this.dir, d), { recursive: true });
    }
    const harnessBin = join(this.plan.repo, 'test/harness/bin');
    // The view runs in the shim's own bash (sourced, not a second exec): under TCG every exec costs
    // ~0.1-0.2 s, and every zfs call of the CLI and the agent goes through here.
    const view = (kind: string, real: string, pools: string[]): string =>
      `#!/bin/bash\nexport QZB_VIEW_KIND=${kind} QZB_VIEW_POOLS=${q(pools.join(' '))} QZB_VIEW_REAL=${real}\n. ${q(join(harnessBin, 'zfs-view'))}\n`;
    const recvPools = this.s.receiver ? [this.s.receiver.pool] : [];
    const bin = join(this.dir, 'bin');
    const views: [name: string, kind: string, real: string, pools: string[]][] = [
      ['zfs', 'zfs', ZFS, this.dom0Pools], ['zpool', 'zpool', ZPOOL, this.dom0Pools],
      ['receiver-zfs', 'zfs', ZFS, recvPools], ['receiver-zpool', 'zpool', ZPOOL, recvPools],
    ];
    const files: Record<string, string> = {
      'qrexec-client':
        `#!/bin/bash\nexport QZB_SCN_DIR=${q(this.dir)} QZB_RECEIVER_QUBE=${q(this.s.receiver?.qube ?? '')} ` +
        `QZB_AGENT=${q(join(this.plan.distDir, 'qubes-zfs-backup-receiver.mjs'))} QZB_NODE=${q(process.execPath)} ` +
        `QZB_AGENT_ZFS=${q(join(bin, 'receiver-zfs'))} QZB_AGENT_ZPOOL=${q(join(bin, 'receiver-zpool'))}\n` +
        `. ${q(join(harnessBin, 'qrexec-client'))}\n`,
    };
    // dom0's qrexec service scripts that qubesadmin runs itself for streamed payloads (restore).
    files['qubes-rpc/admin.vm.volume.ImportWithSize'] =
      `#!/bin/sh\nQZB_QUBESD_SOCKET=${q(join(this.dir, 'qubesd.sock'))} exec ${q(process.execPath)} ${q(join(harnessBin, 'admin.vm.volume.ImportWithSize.mjs'))} "$@"\n`;
    // With the fast path, each view is a copy of it configured by NAME.view (it hands anything but
    // the plain cases to the bash view); without it, a bash wrapper.
    for (const [name, kind, real, pools] of views) {
      if (!this.plan.viewBin) {
        files[name] = view(kind, real, pools);
        continue;
      }
      await copyFile(this.plan.viewBin, join(bin, name));
      await chmod(join(bin, name), 0o755);
      await writeFile(join(bin, `${name}.view`), `kind=${kind}\nreal=${real}\npools=${pools.join(' ')}\nscript=${join(harnessBin, 'zfs-view')}\n`);
    }
    await mkdir(join(bin, 'qubes-rpc'), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(bin, name), text);
      await chmod(join(bin, name), 0o755);
    }
    for (const [name, text] of Object.entries(this.s.files)) await writeFile(join(this.dir, 'work', name), text);
    this.cliEnv = {
      PATH: BASE_PATH,
      HOME: '/root',
      USER: 'root',
      LOGNAME: 'root',
      LANG: 'C.UTF-8',
      QZB_QUBESD_SOCKET: join(this.dir, 'qubesd.sock'),
      QZB_ZFS: join(bin, 'zfs'),
      QZB_ZPOOL: join(bin, 'zpool'),
      QZB_QREXEC_CLIENT: join(bin, 'qrexec-client'),
      QZB_QUBES_RPC_DIR: join(bin, 'qubes-rpc'),
      QUBES_ZFS_BACKUP_METADATA_DIR: join(this.dir, 'metadata'),
    };
  }

  private async createPool(name: string, size: number, altroot: string): Promise<void> {
    const img = join(this.dir, 'pools', `${name}.img`);
    await must(['truncate', '-s', String(size), img]);
    await zpool('create', '-f', '-R', altroot, '-O', 'compression=lz4', name, img);
    this.createdPools.push(name);
  }

  private async keyFile(name: string): Promise<string> {
    const f = join(this.dir, 'keys', `${name.replace(/\//g, '_')}.key`);
    await writeFile(f, `qzb-test-passphrase-${name}\n`, { mode: 0o600 });
    return f;
  }

  async build(): Promise<void> {
    const s = this.s;
    let t = Date.now();
    const phase = (name: string): void => {
      note(`${s.file}: ${name} ${Date.now() - t} ms`);
      t = Date.now();
    };
    for (const p of s.pools) await this.createPool(p.name, p.size, join(this.dir, 'mnt'));
    for (const d of s.datasets) {
      const opts = optionArgs(d.properties);
      if (d.encrypted) opts.push('-o', 'encryption=on', '-o', 'keyformat=passphrase', '-o', `keylocation=file://${await this.keyFile(d.name)}`);
      if (d.type === 'volume') await zfs('create', '-p', ...opts, '-V', String(d.size), d.name);
      else await zfs('create', '-p', ...opts, d.name);
      const snaps = d.snapshots.length ? d.snapshots : [undefined];
      for (const snap of snaps) {
        if (d.data) await writeRandom(d.name, d.data, 0, this.sim.nextFileTag());
        if (snap) await zfs('snapshot', `${d.name}${snap}`);
      }
    }
    phase('pools and dom0 datasets');
    await this.sim.setupPools();
    await this.sim.createQubes(s.qubes);
    phase(`${s.qubes.length} qubes created`);
    await this.sim.startQubes(s.qubes.filter((x) => x.state !== 'Halted' && x.state !== 'NA'));
    phase('qubes started');
    if (s.receiver) {
      const r = s.receiver;
      await this.createPool(r.pool, r.poolSize, join(this.dir, 'receiver-mnt'));
      if (r.create) {
        const enc = r.encrypted ? ['-o', 'encryption=on', '-o', 'keyformat=passphrase', '-o', `keylocation=file://${await this.keyFile(r.dataset)}`] : [];
        await zfs('create', '-p', '-o', 'volmode=none', '-o', 'mountpoint=none', ...enc, r.dataset);
      }
    }
    this.qubesd = await startQubesd(join(this.dir, 'qubesd.sock'), this.sim, note);
  }

  private async withChannel<T>(step: Extract<NStep, { kind: 'run' }>, body: (hooks: { onSpawn: (c: ChildProcess) => void; result: Rec; failures: string[]; settled: () => Promise<void> }) => Promise<T>): Promise<T> {
    const ch = join(this.dir, 'channel');
    const result: Rec = {};
    const failures: string[] = [];
    const killAt = step.fault?.killAgentAfterBytes ?? step.fault?.receiverShutdownAfterBytes;
    const watch = step.interrupt ?? (killAt !== undefined ? { afterBytes: killAt, signal: 'SIGKILL' } : undefined);
    let filler: string | undefined;
    if (watch || step.fault?.truncateStreamAt !== undefined) await writeFile(join(ch, 'count'), '');
    if (step.fault?.truncateStreamAt !== undefined) await writeFile(join(ch, 'truncate'), String(step.fault.truncateStreamAt));
    if (step.fault?.receiverPoolFull && this.s.receiver) {
      const pool = this.s.receiver.pool;
      filler = `${pool}/qzb-fault-filler`;
      const avail = BigInt((await zfs('get', '-H', '-p', '-o', 'value', 'available', pool)).trim());
      const reserve = avail > 262144n ? avail - 131072n : 0n;
      await zfs('create', '-o', 'mountpoint=none', '-o', `refreservation=${reserve}`, filler);
    }
    // The launcher holds the channel once exactly `afterBytes` bytes reached the agent (a
    // `reached.<session>` file appears), until this side has delivered the signal or the kill and
    // written `release.<session>`: the interrupt lands at that byte, not "shortly after".
    if (watch) await writeFile(join(ch, 'hold'), String(watch.afterBytes));
    // after-bytes-from-receiver: the launcher counts and holds the agent's direction instead.
    if (step.interrupt?.fromReceiver) await writeFile(join(ch, 'direction'), 'from-receiver');
    let timer: NodeJS.Timeout | undefined;
    let fired = false;
    let busy = false;
    // The fault or interrupt being delivered: the CLI may end before it does (a receiver shutdown
    // exports and re-imports the pool), and nothing may look at the pools until it has.
    let delivering: Promise<void> = Promise.resolve();
    const onSpawn = (child: ChildProcess): void => {
      if (!watch) return;
      timer = setInterval(() => {
        if (busy) return;
        busy = true;
        delivering = (async () => {
          const held = (await readdir(ch).catch(() => [] as string[])).filter((f) => f.startsWith('reached.'));
          for (const f of held) {
            const session = f.slice('reached.'.length);
            const size = (await stat(join(ch, 'count')).catch(() => ({ size: 0 }))).size;
            if (!fired && size >= watch.afterBytes) {
              fired = true;
              if (step.interrupt) {
                child.kill(step.interrupt.signal as NodeJS.Signals);
                result['interrupted'] = { signal: step.interrupt.signal, 'at-bytes': size };
              } else {
                const pid = Number((await readFile(join(ch, 'agent.pid'), 'utf8').catch(() => '')).trim());
                if (step.fault?.receiverShutdownAfterBytes !== undefined) {
                  await this.shutDownReceiver(pid);
                  result['fault'] = { 'receiver-shut-down-at-bytes': size };
                } else {
                  if (pid > 0) {
                    try {
                      process.kill(pid, 'SIGKILL');
                    } catch {
                      /* already gone */
                    }
                  }
                  result['fault'] = { 'killed-agent-at-bytes': size };
                }
              }
              // Let the signal be seen before the held bytes flow on.
              await new Promise((res) => setTimeout(res, 50));
            }
            await rm(join(ch, f), { force: true });
            await writeFile(join(ch, `release.${session}`), '');
          }
        })().finally(() => {
          busy = false;
        });
      }, 20);
    };
    const settled = (): Promise<void> => delivering.catch(() => {});
    try {
      return await body({ onSpawn, result, failures, settled });
    } finally {
      if (timer) clearInterval(timer);
      if (watch && !fired) failures.push(`${step.interrupt ? 'interrupt' : 'fault'}: the CLI finished before ${step.interrupt?.fromReceiver ? `receiving ${watch.afterBytes} bytes from` : `forwarding ${watch.afterBytes} bytes to`} the receiver`);
      if (step.fault?.truncateStreamAt !== undefined) result['fault'] = { 'truncated-at': step.fault.truncateStreamAt };
      if (filler) {
        await zfsTry('destroy', filler);
        result['fault'] = { 'receiver-pool-full': true };
      }
      for (const f of await readdir(ch).catch(() => [] as string[])) await rm(join(ch, f), { force: true });
    }
  }

  /**
   * `fault: receiver-shutdown-after-bytes`: what dom0 sees when the receiver qube is shut down (or
   * killed) mid-stream. Every process of the session dies at once (the agent and its `zfs receive`,
   * SIGKILL, children first so none outlives its parent), the qube is Halted (qrexec to it fails
   * until `qube: start`), and its pool goes away and comes back (export, then import, as when the
   * disk is detached and attached to the restarted qube): whatever partial receive state ZFS had
   * synced is all that is left.
   */
  private async shutDownReceiver(agentPid: number): Promise<void> {
    const r = this.s.receiver;
    if (!r) throw new Error('receiver-shutdown-after-bytes needs a receiver in the scenario');
    const tree = agentPid > 0 ? await descendants(agentPid) : [];
    for (const p of [...tree].reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (agentPid > 0) {
      try {
        process.kill(agentPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await this.sim.stop(r.qube);
    // The killed `zfs receive` may take a moment to release the pool.
    for (let i = 0; ; i++) {
      const ex = await run([ZPOOL, 'export', r.pool]);
      if (ex.exit === 0) break;
      if (i >= 50) throw new Error(`receiver shutdown: zpool export ${r.pool}: ${ex.stderr.trim()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    await zpool('import', '-d', join(this.dir, 'pools'), '-R', join(this.dir, 'receiver-mnt'), r.pool);
  }

  async runStep(n: number, step: NStep): Promise<void> {
    const expect = 'expect' in step ? step.expect : undefined;
    let rec: Rec = { step: n };
    let failures: string[] = [];
    let outcome: ProcResult | undefined;
    try {
      switch (step.kind) {
        case 'run': {
          rec['run'] = step.argv;
          let channel: { result: Rec } | undefined;
          await this.withChannel(step, async (hooks) => {
            channel = hooks;
            const before = this.s.watchDestroyed ? await this.listBoth() : undefined;
            let cpu: ReturnType<typeof sampleCpu> | undefined;
            const prof = process.env['QZB_SCENARIO_CPU_PROF'];
            outcome = await run([process.execPath, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), join(this.plan.distDir, 'qubes-zfs-backup.mjs'), ...step.argv], {
              env: { ...this.cliEnv, ...step.env },
              cwd: join(this.dir, 'work'),
              timeoutMs: step.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
              onSpawn: (child) => {
                if (child.pid) cpu = sampleCpu(child.pid);
                hooks.onSpawn(child);
              },
            });
            const usage = cpu?.stop();
            await hooks.settled();
            rec = { ...rec, exit: outcome.exit, ...(outcome.signal ? { signal: outcome.signal } : {}), stdout: outcome.stdout, stderr: outcome.stderr, ms: outcome.ms, ...(usage ? { cpu: usage } : {}) };
            if (before) {
              const after = await this.listBoth();
              const gone = [...destroyedBetween('source', before.source, after.source), ...destroyedBetween('receiver', before.receiver, after.receiver)].map((v) => ({ ...v, step: n }));
              this.vanished.push(...gone);
              if (gone.length) rec['vanished'] = gone;
            }
            // The same array: failures found after the body (an interrupt that never fired) land here.
            failures = hooks.failures;
          });
          if (channel) Object.assign(rec, channel.result);
          break;
        }
        case 'qube': {
          rec['qube'] = `${step.action} ${step.qube}${step.volume ? `:${step.volume}` : ''}`;
          if (step.action === 'start') await this.sim.start(step.qube);
          else if (step.action === 'stop') await this.sim.stop(step.qube);
          else if (step.action === 'remove') await this.sim.remove(step.qube);
          else if (step.action === 'import') await this.sim.importData(step.qube, step.volume!, IMPORT_BYTES);
          else rec['reverted-to'] = await this.sim.revert(step.qube, step.volume!);
          break;
        }
        case 'settings': {
          rec[step.change.what] = { qube: step.qube, ...Object.fromEntries(Object.entries(step.change).filter(([k]) => k !== 'what')) };
          this.sim.applySettings(step.qube, step.change);
          break;
        }
        case 'write': {
          const dataset = step.dataset ?? this.sim.volumeDataset(step.qube!, step.volume!);
          rec['write'] = { ...(step.qube ? { qube: step.qube, volume: step.volume } : {}), dataset, bytes: step.bytes, offset: step.offset };
          await writeRandom(dataset, step.bytes, step.offset, this.sim.nextFileTag());
          break;
        }
        case 'zfs-pipe': {
          rec['zfs-pipe'] = { send: step.send, receive: step.receive };
          const p = await runPipe([join(this.dir, 'bin', 'zfs'), ...step.send], [join(this.dir, 'bin', 'receiver-zfs'), ...step.receive], { cwd: join(this.dir, 'work') });
          outcome = { exit: p.sendExit !== 0 ? p.sendExit : p.receiveExit, stdout: '', stderr: p.stderr, ms: p.ms };
          rec = { ...rec, exit: outcome.exit, 'send-exit': p.sendExit, 'receive-exit': p.receiveExit, stderr: p.stderr, ms: p.ms, ...(p.sendCpu ? { 'send-cpu': p.sendCpu } : {}) };
          if (!expect && outcome.exit !== 0) failures.push(`zfs-pipe exited ${outcome.exit} (send ${p.sendExit}, receive ${p.receiveExit})`);
          break;
        }
        case 'assert-replicated': {
          rec['assert-replicated'] = { 'receiver-root': step.receiverRoot, snapshots: step.snapshots, exact: step.exact, 'source-bookmarks': step.sourceBookmarks };
          const both = await this.listBoth();
          failures.push(...replicationProblems(step, both.source, both.receiver));
          break;
        }
        case 'assert-same-bytes': {
          rec['assert-same-bytes'] = { qube: step.qube, volume: step.volume, 'receiver-snapshot': step.receiverSnapshot };
          const vid = this.sim.volumeDataset(step.qube, step.volume);
          const pool = step.receiverSnapshot.split('/')[0]!;
          const clone = `${pool}/qzb-harness-compare`;
          await zfs('clone', '-o', 'volmode=dev', '-o', 'readonly=on', step.receiverSnapshot, clone);
          try {
            const [mine, backed] = [await sha256Of(`/dev/zvol/${vid}`), await sha256Of(`/dev/zvol/${clone}`)];
            rec['sha256'] = { restored: mine, backup: backed };
            if (mine !== backed) failures.push(`${step.qube}:${step.volume} (${vid}, SHA-256 ${mine}) differs from ${step.receiverSnapshot} (SHA-256 ${backed})`);
          } finally {
            for (let i = 0; i < 40; i++) {
              const r = await zfsTry('destroy', clone);
              if (r.exit === 0 || !/busy/.test(r.stderr)) break;
              await new Promise((res) => setTimeout(res, 250));
            }
          }
          break;
        }
        case 'assert-no-partial-state': {
          rec['assert-no-partial-state'] = { 'receiver-root': step.receiverRoot };
          failures.push(...partialStateProblems(step.receiverRoot, (await this.listBoth()).receiver));
          break;
        }
        case 'read-volume': {
          rec['read-volume'] = { dataset: step.dataset };
          await waitForBlockDevice(`/dev/zvol/${step.dataset}`);
          const dev = await realpath(`/dev/zvol/${step.dataset}`);
          const t0 = Date.now();
          await must(['dd', `if=${dev}`, 'of=/dev/null', 'bs=1M', 'status=none']);
          rec['ms'] = Date.now() - t0;
          rec['bytes'] = (await must(['blockdev', '--getsize64', dev])).trim();
          break;
        }
        case 'assert-content-hash': {
          rec['assert-content-hash'] = { job: step.job, snapshots: step.snapshots };
          const state = JSON.parse(await readFile(join(this.dir, 'metadata', step.job, 'state.json'), 'utf8').catch(() => '{}')) as { targets?: Record<string, { contentHash?: { sha256: string; bytes: string } }> };
          const found: Record<string, unknown> = {};
          for (const snap of step.snapshots) {
            const recorded = state.targets?.[snap]?.contentHash;
            const actual = await independentHash(snap, Object.keys(found).length);
            found[snap] = { recorded: recorded ?? null, actual };
            if (!recorded) failures.push(`${snap}: no contentHash recorded in ${step.job}'s state.json`);
            else if (recorded.sha256 !== actual.sha256 || recorded.bytes !== actual.bytes) failures.push(`${snap}: recorded sha256 ${recorded.sha256} (${recorded.bytes} bytes), computed ${actual.sha256} (${actual.bytes} bytes)`);
          }
          rec['hashes'] = found;
          break;
        }
        case 'assert-nothing-destroyed': {
          rec['assert-nothing-destroyed'] = { side: step.side };
          const gone = this.vanished.filter((v) => step.side === 'both' || v.side === step.side);
          for (const v of gone) failures.push(`step ${v.step} (run) made ${v.side} ${v.type} ${v.name}${v.type === 'snapshot' || v.type === 'bookmark' ? ` (guid ${v.guid})` : ''} disappear`);
          rec['checked-runs'] = runStepsUpTo(this.s, n);
          break;
        }
        default: {
          const bin = join(this.dir, 'bin', step.kind);
          rec[step.kind] = step.argv;
          outcome = await run([bin, ...step.argv], { env: { PATH: BASE_PATH, LC_ALL: 'C' }, cwd: join(this.dir, 'work') });
          rec = { ...rec, exit: outcome.exit, stdout: outcome.stdout, stderr: outcome.stderr, ms: outcome.ms };
          // A zfs/zpool step without `expect` is a set-up action: it must succeed.
          if (!expect && outcome.exit !== 0) failures.push(`${step.kind} exited ${outcome.exit}`);
        }
      }
    } catch (e) {
      rec['error'] = (e as Error).message;
      // A qube/write step that fails counts as exit 1 (like qvm-start on a running qube); without
      // an `expect` that says so, it is a failed step.
      if (!outcome && step.kind !== 'run') rec['exit'] = 1;
      if (!expect || expect.exit === undefined || outcome) failures.push(`step did not run: ${(e as Error).message}`);
    }
    if (expect) {
      failures.push(...checkExpect(expect, { exit: outcome?.exit ?? (rec['error'] ? 1 : 0), stdout: outcome?.stdout ?? '', stderr: outcome?.stderr ?? String(rec['error'] ?? '') }));
    }
    rec['ok'] = failures.length === 0;
    if (failures.length) {
      rec['failures'] = failures;
      this.failed++;
    }
    this.rec(rec);
  }

  /** Both sides' datasets, snapshots and bookmarks with GUID and resume token (real zfs, no view). */
  async listBoth(): Promise<{ source: Listed[]; receiver: Listed[] }> {
    const recv = this.s.receiver && this.createdPools.includes(this.s.receiver.pool) ? [this.s.receiver.pool] : [];
    // One zfs call for both sides (it runs before and after every run step), split by pool.
    const source = this.dom0Pools.filter((p) => this.createdPools.includes(p));
    const all = await listSide([...source, ...recv]);
    const poolOf = (l: Listed): string => l.name.split(/[/@#]/)[0]!;
    return { source: all.filter((l) => !recv.includes(poolOf(l))), receiver: all.filter((l) => recv.includes(poolOf(l))) };
  }

  async listing(pools: string[]): Promise<Rec[]> {
    if (pools.length === 0) return [];
    const out = await zfs('list', '-H', '-p', '-t', 'filesystem,volume,snapshot,bookmark', '-o', 'name,type,guid,origin', '-r', ...pools);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name = '', type = '', guid = '', origin = '-'] = l.split('\t');
        return { name, type, guid, origin: origin === '-' ? null : origin };
      });
  }

  async finish(setupFailed: boolean): Promise<void> {
    let final: Rec;
    try {
      final = { source: await this.listing(this.dom0Pools.filter((p) => this.createdPools.includes(p))), receiver: await this.listing(this.s.receiver && this.createdPools.includes(this.s.receiver.pool) ? [this.s.receiver.pool] : []) };
    } catch (e) {
      final = { error: (e as Error).message };
      this.failed++;
    }
    this.rec({ final, ok: this.failed === 0 && !setupFailed, failed: this.failed + (setupFailed ? 1 : 0) });
  }

  async cleanup(): Promise<void> {
    await this.qubesd?.close().catch(() => undefined);
    const keep = join(this.plan.outDir, `s${this.index}-${basename(this.s.file).replace(/[^A-Za-z0-9_.-]/g, '_')}.logs`);
    await mkdir(keep, { recursive: true }).catch(() => undefined);
    for (const f of ['receiver-journal.log']) await copyFile(join(this.dir, f), join(keep, f)).catch(() => undefined);
    if (this.qubesd) await writeFile(join(keep, 'qubesd-calls.txt'), this.qubesd.calls.join('\n') + '\n').catch(() => undefined);
    for (const p of [...this.createdPools].reverse()) {
      for (let i = 0; i < 10; i++) {
        const r = await run([ZPOOL, 'destroy', '-f', p]);
        if (r.exit === 0) break;
        if (i === 9) note(`zpool destroy ${p} failed: ${r.stderr.trim()}`);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** How many `run` steps a scenario has among its first n steps (what an assert-nothing-destroyed covered). */
function runStepsUpTo(s: NScenario, n: number): number {
  return s.steps.slice(0, n).filter((x) => x.kind === 'run').length;
}

async function runScenario(plan: Plan, s: NScenario, index: number): Promise<boolean> {
  const r = new ScenarioRun(plan, s, index);
  let setupFailed = false;
  const t0 = Date.now();
  try {
    await r.prepareDirs();
    await r.build();
    note(`${s.file}: system built in ${Date.now() - t0} ms`);
  } catch (e) {
    setupFailed = true;
    r.rec({ step: 0, setup: 'system', ok: false, error: (e as Error).message, failures: [`building the system failed: ${(e as Error).message}`] });
  }
  if (!setupFailed) {
    for (const [i, step] of s.steps.entries()) await r.runStep(i + 1, step);
  }
  await r.finish(setupFailed);
  await r.cleanup();
  return !setupFailed && r.failed === 0;
}

async function main(): Promise<number> {
  const planPath = process.argv[2];
  if (!planPath) {
    note('usage: guest.mjs PLAN.json');
    return 2;
  }
  const plan = JSON.parse(await readFile(planPath, 'utf8')) as Plan;
  await must(['udevadm', 'settle', '--timeout=30']).catch(() => undefined);
  let allOk = true;
  for (const [i, s] of plan.scenarios.entries()) {
    if (!(await runScenario(plan, s, i))) allOk = false;
  }
  return allOk ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    note(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(3);
  },
);

/** Every descendant of `pid` (children before grandchildren), read from /proc. */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    const st = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) follows the command name in parentheses, which may itself hold spaces.
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(e)]);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of parents.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

// The SHA-256 and size of a volume snapshot's bytes, computed without the tool: the harness's own
// read-only clone (a name the tool never uses), udev's device link, coreutils sha256sum and
// blockdev; the clone is destroyed afterwards.
async function independentHash(snapshot: string, n: number): Promise<{ sha256: string; bytes: string }> {
  const clone = `${snapshot.split('/')[0]}/harness-sha-check-${n}`;
  await zfs('clone', '-o', 'readonly=on', '-o', 'volmode=dev', snapshot, clone);
  try {
    await waitForBlockDevice(`/dev/zvol/${clone}`);
    // The kernel's node, not udev's link (which udev may re-create while the new zvol settles).
    const dev = await realpath(`/dev/zvol/${clone}`).catch(() => '');
    const sha256 = (await must(['sha256sum', dev])).split(' ')[0]!;
    const bytes = (await must(['blockdev', '--getsize64', dev])).trim();
    return { sha256, bytes };
  } finally {
    for (let i = 0; i < 20; i++) {
      if ((await zfsTry('destroy', clone)).exit === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function waitForBlockDevice(dev: string): Promise<void> {
  const t0 = Date.now();
  while (!(await stat(dev).then((s) => s.isBlockDevice()).catch(() => false))) {
    if (Date.now() - t0 > 60_000) throw new Error(`${dev} did not appear within 60 s (udev)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
