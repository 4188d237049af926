// Real OpenZFS in a throwaway QEMU VM (TCG): boot Debian's kernel with the DKMS-built zfs.ko,
// share the host's root read-only over 9p, run one command as root inside, power off.
// See test/vm/README.md. The host needs: qemu-system-x86, busybox-static, a Debian kernel with
// zfs.ko under /lib/modules/<kver>/updates/dkms (npm run vm:provision does all of it).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, realpath, rename, rm, rmdir, stat, writeFile, copyFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This checkout's root, wherever it was cloned (the guest sees it at the same path). */
const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface VmRunOptions {
  /** argv of the command to run as root inside the guest (no shell unless you pass one). */
  command: string[];
  /** Working directory inside the guest; default this checkout's root. Host paths are visible read-only. */
  cwd?: string;
  /** Extra environment for the command. The guest starts from a clean environment with
   *  PATH, HOME=/tmp, USER=root, LANG=C.UTF-8, QZB_VM=1 and QZB_VM_OUT=<outDir>. */
  env?: Record<string, string>;
  /** Host-side limit for the whole run (boot + command); qemu is killed after it. Default 10 min. */
  timeoutMs?: number;
  /** Host directory shared writable with the guest, mounted in the guest at the same absolute
   *  path (also in $QZB_VM_OUT). Default: a fresh temporary directory, left in place unless the
   *  command left it empty. */
  outDir?: string;
  /** Called with each complete stdout line of the command while it runs (~0.2 s latency). */
  onStdoutLine?: (line: string) => void;
  /** Same for stderr lines. */
  onStderrLine?: (line: string) => void;
  /** OpenZFS series to run, e.g. "2.1" or "2.3". Default: $ZFS_SERIES, else the system's
   *  (DKMS) OpenZFS. A series other than the system's must have been provisioned side by side
   *  (ZFS_SERIES=2.1 npm run vm:provision); otherwise runInVm throws a VmError (stage "host"). */
  zfsSeries?: string;
}

export interface VmRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** qemu start until the command started (kernel, modules, udev, zfs loaded). */
  bootMs: number;
  /** qemu start until qemu exited. */
  totalMs: number;
  /** The out share directory on the host (opts.outDir or the temporary one). */
  outDir: string;
  /** The serial console (kernel messages, stage markers); handy when something looks odd. */
  console: string;
  /** The loaded OpenZFS module version, e.g. "2.3.2-2~bpo12+2". */
  zfsVersion: string;
  /** Host milliseconds since qemu start at which each boot stage was reached. */
  stages: Record<string, number>;
  /** The signal that killed the command (exit code 129+), e.g. "SIGSEGV"; its description and the
   *  guest kernel's lines about it (else its last ten) are in `crashNote`, also appended to `stderr`.
   *  Undefined for a normal exit. */
  signal?: string;
  crashNote?: string;
}

/** A VM that did not get as far as reporting the command's exit code: boot failure, ZFS not
 *  loading, timeout, qemu missing... `stage` says which stage failed. Never a pass. */
export class VmError extends Error {
  readonly stage: string;
  readonly console: string;
  readonly stdout: string;
  readonly stderr: string;
  constructor(stage: string, message: string, details: { console?: string; stdout?: string; stderr?: string } = {}) {
    const tail = (details.console ?? '').split('\n').filter((l) => l.trim() !== '').slice(-25).join('\n');
    super(`test VM failed at stage "${stage}": ${message}${tail ? `\n--- console (last lines) ---\n${tail}` : ''}`);
    this.name = 'VmError';
    this.stage = stage;
    this.console = details.console ?? '';
    this.stdout = details.stdout ?? '';
    this.stderr = details.stderr ?? '';
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const BUILD_SCRIPT = join(here, 'build-initramfs.sh');
const STAGE2_SCRIPT = join(here, 'guest-stage2.sh');
const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const QEMU = 'qemu-system-x86_64';

/** Cache directory outside the checkout ($QZB_VM_CACHE overrides). */
export function cacheDir(): string {
  return process.env.QZB_VM_CACHE || '/var/cache/qubes-zfs-backup-testvm';
}

export interface ZfsKernel {
  kver: string;
  vmlinuz: string;
  zfsModule: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** The kernel to boot: one under /lib/modules with zfs.ko built by DKMS (updates/dkms) and a
 *  /boot/vmlinuz-<kver>; the newest if several. $QZB_VM_KVER forces one. */
export function findZfsKernel(): { kernel?: ZfsKernel; why?: string } {
  let kvers: string[];
  try {
    kvers = readdirSync('/lib/modules');
  } catch {
    return { why: '/lib/modules is missing' };
  }
  const forced = process.env.QZB_VM_KVER;
  if (forced) kvers = kvers.filter((k) => k === forced);
  const found: ZfsKernel[] = [];
  for (const kver of kvers) {
    const dkms = join('/lib/modules', kver, 'updates', 'dkms');
    const mod = ['zfs.ko', 'zfs.ko.xz', 'zfs.ko.zst', 'zfs.ko.gz'].map((f) => join(dkms, f)).find((p) => existsSync(p));
    const vmlinuz = join('/boot', `vmlinuz-${kver}`);
    if (mod && existsSync(vmlinuz)) found.push({ kver, vmlinuz, zfsModule: mod });
  }
  found.sort((a, b) => compareVersions(b.kver, a.kver));
  const kernel = found[0];
  if (!kernel) {
    return {
      why: `no kernel with a DKMS-built zfs.ko and a /boot/vmlinuz-<kver>${forced ? ` (QZB_VM_KVER=${forced})` : ''} under /lib/modules (run: npm run vm:provision)`,
    };
  }
  return { kernel };
}

async function onPath(cmd: string): Promise<string | undefined> {
  for (const d of (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      await access(p, fsConstants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

let systemZfs: string | undefined;
/** Version of the system's DKMS zfs.ko for `kernel` (modinfo), e.g. "2.3.2-2~bpo12+2". */
export async function systemZfsVersion(kernel: ZfsKernel): Promise<string> {
  if (systemZfs === undefined) {
    const r = await runCollect('modinfo', ['-F', 'version', kernel.zfsModule]);
    systemZfs = r.code === 0 ? r.stdout.trim() : '';
  }
  return systemZfs;
}

/** Directory of the side-by-side OpenZFS tree for a series (built by build-zfs-tree.sh). */
export function zfsTreeDir(series: string, kver: string): string {
  return join(cacheDir(), `zfs-${series}-${kver}`);
}

/** undefined: use the system's OpenZFS; a path: use that side-by-side tree; throws if unusable. */
async function resolveZfsTree(series: string | undefined, kernel: ZfsKernel): Promise<string | undefined> {
  if (!series) return undefined;
  if (!/^\d+\.\d+$/.test(series)) throw new VmError('host', `bad ZFS series ${JSON.stringify(series)} (want e.g. 2.1 or 2.3)`);
  const sys = await systemZfsVersion(kernel);
  if (sys.startsWith(`${series}.`)) return undefined;
  const dir = zfsTreeDir(series, kernel.kver);
  if (existsSync(join(dir, 'load-order'))) return dir;
  throw new VmError(
    'host',
    `OpenZFS ${series} requested but the system's is ${sys || 'unknown'} and ${dir} is not built (run: ZFS_SERIES=${series} npm run vm:provision)`,
  );
}

/** Whether a VM can be booted here (does not boot one). Honours $ZFS_SERIES. */
export async function vmAvailable(): Promise<{ ok: boolean; why?: string }> {
  const host = await hostCheck();
  if (!host.ok) return host;
  const { kernel } = findZfsKernel();
  try {
    if (kernel) await resolveZfsTree(process.env.ZFS_SERIES || undefined, kernel);
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
  return { ok: true };
}

async function hostCheck(): Promise<{ ok: boolean; why?: string }> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, why: `needs linux/x64, this is ${process.platform}/${process.arch}` };
  if (!(await onPath(QEMU))) return { ok: false, why: `${QEMU} not found (apt-get install qemu-system-x86; or npm run vm:provision)` };
  if (!existsSync('/bin/busybox') && !existsSync('/usr/bin/busybox')) return { ok: false, why: 'busybox not found (apt-get install busybox-static)' };
  const { kernel, why } = findZfsKernel();
  if (!kernel) return { ok: false, why };
  if (!existsSync('/usr/sbin/zfs') && !existsSync('/sbin/zfs')) return { ok: false, why: 'zfs userland not installed (zfsutils-linux)' };
  try {
    await access(kernel.vmlinuz, fsConstants.R_OK);
  } catch {
    return { ok: false, why: `${kernel.vmlinuz} is not readable` };
  }
  return { ok: true };
}

function scriptHash(): string {
  return createHash('sha256').update(readFileSync(BUILD_SCRIPT)).digest('hex').slice(0, 12);
}

/** Changes when the kernel package is updated in place (Debian keeps <kver> across ABI-compatible
 *  updates), so cached files derived from it are rebuilt. */
function kernelStamp(kernel: ZfsKernel): string {
  const st = statSync(kernel.vmlinuz);
  return `${st.size.toString(36)}${Math.floor(st.mtimeMs / 1000).toString(36)}`;
}

/** Path of the cached initramfs for `kver`, building it if missing. */
export async function ensureInitramfs(kernel: ZfsKernel, opts: { force?: boolean; log?: (s: string) => void } = {}): Promise<string> {
  const kver = kernel.kver;
  const dir = cacheDir();
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new VmError('initramfs', `cannot create the cache directory ${dir} (set QZB_VM_CACHE?): ${e instanceof Error ? e.message : String(e)}`);
  }
  const file = join(dir, `initramfs-${kver}-${kernelStamp(kernel)}-${scriptHash()}.cpio.gz`);
  if (!opts.force) {
    try {
      if ((await stat(file)).size > 0) return file;
    } catch {
      /* build it */
    }
  }
  const { code, stdout, stderr } = await runCollect('sh', [BUILD_SCRIPT, kver, file]);
  if (code !== 0) throw new VmError('initramfs', `build-initramfs.sh ${kver} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`);
  opts.log?.(stdout.trim());
  return file;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Whether `elf` is an x86-64 ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18). */
function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return false;
  for (const descsz of [4, 8]) {
    const note = Buffer.alloc(16);
    note.writeUInt32LE(4, 0);
    note.writeUInt32LE(descsz, 4);
    note.writeUInt32LE(18, 8);
    note.write('Xen\0', 12, 'latin1');
    if (elf.indexOf(note) >= 0) return true;
  }
  return false;
}

/** The kernel as an uncompressed vmlinux (cached), which qemu boots directly through its PVH
 *  entry: no firmware real-mode boot and no in-guest decompression, ~2-3 s less per boot under
 *  TCG. undefined if it cannot be made (not xz-compressed, no PVH note, no xz): then the
 *  bzImage is booted as usual. QZB_VM_PVH=0 disables it. */
export async function ensureVmlinux(kernel: ZfsKernel): Promise<string | undefined> {
  if (process.env.QZB_VM_PVH === '0') return undefined;
  const file = join(cacheDir(), `vmlinux-${kernel.kver}-${kernelStamp(kernel)}`);
  try {
    if ((await stat(file)).size > 0) return file;
  } catch {
    /* extract it */
  }
  try {
    await mkdir(cacheDir(), { recursive: true });
    const img = await readFile(kernel.vmlinuz);
    const off = img.indexOf(XZ_MAGIC);
    if (off < 0) return undefined;
    const elf = await new Promise<Buffer | undefined>((resolveP) => {
      // --single-stream: stop at the end of the kernel's xz stream, ignore what follows it.
      const child = spawn('xz', ['-dc', '--single-stream'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.on('error', () => resolveP(undefined));
      child.on('close', (code) => resolveP(code === 0 ? Buffer.concat(chunks) : undefined));
      child.stdin.on('error', () => undefined);
      child.stdin.end(img.subarray(off));
    });
    if (!elf || !hasPvhEntry(elf)) return undefined;
    const tmp = `${file}.tmp.${process.pid}.${Date.now()}`;
    await writeFile(tmp, elf, { mode: 0o644 });
    await rename(tmp, file);
    return file;
  } catch {
    return undefined;
  }
}

function runCollect(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolveP({ code: 127, stdout, stderr: stderr + String(e) }));
    child.on('close', (code, signal) => resolveP({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

// qemu processes still running are killed if this Node process exits (not on SIGKILL of course;
// the guest also enforces the time limit itself).
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function stageDescription(stage: string): string {
  switch (stage) {
    case 'qemu-start':
      return 'qemu started but the kernel never reached the initramfs (kernel/initramfs problem, or the boot is very slow)';
    case 'initramfs':
      return 'the initramfs started but the virtio/9p modules did not all load';
    case 'virtio-modules':
      return 'modules loaded but the host root (9p tag hostroot) was not mounted';
    case 'hostroot':
      return 'host root mounted but the control share / stage 2 was not reached';
    case 'ctl':
      return 'switch_root into the host root (stage 2, /bin/sh) did not start';
    case 'stage2':
      return 'stage 2 started but mounting the writable tmpfs/out share did not finish';
    case 'mounts':
      return 'mounts done but udev / modprobe zfs did not finish';
    case 'udev':
      return 'udev started but modprobe zfs did not finish';
    case 'zfs':
      return 'ZFS loaded but the command did not start';
    case 'command-start':
      return 'the command started but did not report an exit code';
    default:
      return `last stage reached: ${stage}`;
  }
}

// VMs started by this process run one at a time by default ($QZB_VM_PARALLEL raises it): each VM
// uses 2 TCG vCPUs, and on a 2-core machine parallel VMs only slow each other down. Waiting for a
// slot does not count towards timeoutMs.
let running = 0;
const waiting: (() => void)[] = [];
async function acquireSlot(): Promise<() => void> {
  const max = Math.max(1, Number(process.env.QZB_VM_PARALLEL) || 1);
  while (running >= max) await new Promise<void>((r) => waiting.push(r));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

/** Boot a fresh VM, run `opts.command` as root inside it, power it off. */
export async function runInVm(opts: VmRunOptions): Promise<VmRunResult> {
  if (!Array.isArray(opts.command) || opts.command.length === 0) throw new TypeError('runInVm: command must be a non-empty argv array');
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!ENV_NAME.test(k)) throw new TypeError(`runInVm: bad environment variable name ${JSON.stringify(k)}`);
    if (typeof v !== 'string') throw new TypeError(`runInVm: environment variable ${k} must be a string`);
  }
  const avail = await hostCheck();
  if (!avail.ok) throw new VmError('host', avail.why ?? 'VM not available');
  const { kernel } = findZfsKernel();
  if (!kernel) throw new VmError('host', 'no kernel');
  const zfsTree = await resolveZfsTree(opts.zfsSeries ?? (process.env.ZFS_SERIES || undefined), kernel);
  const initrd = await ensureInitramfs(kernel);
  const vmlinux = await ensureVmlinux(kernel);

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cwd = opts.cwd ?? CHECKOUT;
  let outDir: string;
  if (opts.outDir) {
    await mkdir(opts.outDir, { recursive: true });
    outDir = await realpath(resolve(opts.outDir));
  } else {
    outDir = await realpath(await mkdtemp(join(tmpdir(), 'qzbvm-out-')));
  }
  if (outDir === '/' || /[\s,]/.test(outDir)) throw new TypeError(`runInVm: outDir ${JSON.stringify(outDir)} cannot be shared (no whitespace or commas)`);

  const ctl = await realpath(await mkdtemp(join(tmpdir(), 'qzbvm-ctl-')));
  try {
    await copyFile(STAGE2_SCRIPT, join(ctl, 'stage2.sh'));
    await writeFile(join(ctl, 'argc'), String(opts.command.length));
    await Promise.all(opts.command.map((a, i) => writeFile(join(ctl, `arg.${i}`), a)));
    await mkdir(join(ctl, 'env'));
    await Promise.all(Object.entries(opts.env ?? {}).map(([k, v]) => writeFile(join(ctl, 'env', k), v)));
    await writeFile(join(ctl, 'cwd'), cwd);
    await writeFile(join(ctl, 'outpath'), outDir);
    await writeFile(join(ctl, 'repopath'), CHECKOUT);
    // Guest-side limit: a bit longer than the host's, only matters if the host process died.
    await writeFile(join(ctl, 'timeout'), String(Math.ceil(timeoutMs / 1000) + 30));
    await writeFile(join(ctl, 'udev'), process.env.QZB_VM_UDEV === '0' ? '0' : '1');
    if (zfsTree) await writeFile(join(ctl, 'zfstree'), zfsTree);
    await writeFile(join(ctl, 'stdout'), '');
    const release = await acquireSlot();
    try {
      return await boot(vmlinux ?? kernel.vmlinuz, initrd, ctl, outDir, timeoutMs, opts.onStdoutLine, opts.onStderrLine);
    } finally {
      release();
    }
  } finally {
    if (process.env.QZB_VM_KEEP !== '1') await rm(ctl, { recursive: true, force: true });
    // A temporary out dir the command left empty is not worth keeping (rmdir fails if not empty).
    if (!opts.outDir) await rmdir(outDir).catch(() => undefined);
  }
}

async function boot(
  kernelImage: string,
  initrd: string,
  ctl: string,
  outDir: string,
  timeoutMs: number,
  onStdoutLine: ((line: string) => void) | undefined,
  onStderrLine: ((line: string) => void) | undefined,
): Promise<VmRunResult> {
  const mem = process.env.QZB_VM_MEM || '3072';
  const smp = process.env.QZB_VM_SMP || '2';
  const rootCache = process.env.QZB_VM_ROOT_CACHE ?? 'loose';
  const append = ['console=ttyS0', 'panic=-1', 'oops=panic', 'quiet', 'loglevel=4', 'rdinit=/init'];
  // Debugging aid: extra kernel arguments, e.g. QZB_VM_APPEND='loglevel=7' (split on spaces).
  if (process.env.QZB_VM_APPEND) append.push(...process.env.QZB_VM_APPEND.split(' ').filter(Boolean));
  if (rootCache && rootCache !== 'none') append.push(`qzbvm.rootopts=cache=${rootCache}`);
  const args = [
    '-accel', 'tcg,thread=multi', '-smp', smp, '-cpu', 'max', '-m', mem,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-chardev', 'stdio,id=con0,signal=off', '-serial', 'chardev:con0',
    '-kernel', kernelImage, '-initrd', initrd, '-append', append.join(' '),
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${ctl},mount_tag=qzbctl,security_model=none,multidevs=remap`,
    '-virtfs', `local,path=${outDir},mount_tag=qzbout,security_model=none,multidevs=remap`,
    // The checkout again, on its own: a clone under /tmp (as CI may make) is hidden in the guest
    // by its tmpfs on /tmp, so the guest mounts this share at the same path when it cannot see it.
    '-virtfs', `local,path=${CHECKOUT},mount_tag=qzbrepo,security_model=none,readonly=on,multidevs=remap`,
  ];

  const t0 = Date.now();
  let stage = 'qemu-start';
  let failure: { stage: string; why: string } | undefined;
  let bootMs = -1;
  let zfsVersion = '';
  let consoleText = '';
  let consolePending = '';
  let qemuStderr = '';
  let timedOut = false;
  const stages: Record<string, number> = {};

  // setpriv --pdeathsig: qemu is SIGKILLed by the kernel if this Node process dies, however it dies.
  const setpriv = await onPath('setpriv');
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', QEMU, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);

  const onConsoleLine = (raw: string): void => {
    const line = raw.replace(/\r$/, '');
    const m = /QZBVM-(STAGE|FAIL) (.*)$/.exec(line);
    if (!m) return;
    const rest = m[2] ?? '';
    if (m[1] === 'FAIL') {
      const i = rest.indexOf(': ');
      failure ??= { stage: i > 0 ? rest.slice(0, i) : rest, why: i > 0 ? rest.slice(i + 2) : rest };
      return;
    }
    const [name = '', ...more] = rest.split(' ');
    stage = name;
    stages[name] ??= Date.now() - t0;
    if (name === 'zfs') zfsVersion = more.join(' ');
    if (name === 'command-start' && bootMs < 0) bootMs = Date.now() - t0;
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (consoleText.length < 4_000_000) consoleText += d;
    consolePending += d;
    const lines = consolePending.split('\n');
    consolePending = lines.pop() ?? '';
    for (const l of lines) onConsoleLine(l);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (qemuStderr.length < 100_000) qemuStderr += d;
  });

  // Stream the command's stdout/stderr: poll the files in the control share.
  const stdoutPath = join(ctl, 'stdout');
  const stderrPath = join(ctl, 'stderr');
  let callbackError: unknown;
  const tails = [
    { path: stdoutPath, cb: onStdoutLine },
    { path: stderrPath, cb: onStderrLine },
  ]
    .filter((t): t is { path: string; cb: (line: string) => void } => t.cb !== undefined)
    .map((t) => lineTailer(t.path, t.cb, (e) => (callbackError ??= e)));
  const poller = tails.length ? setInterval(() => tails.forEach((t) => void t.poll(false)), 200) : undefined;

  const killer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolveP) => {
    child.on('error', (e) => resolveP({ code: null, signal: null, spawnError: e }));
    child.on('close', (code, signal) => resolveP({ code, signal }));
  });
  clearTimeout(killer);
  if (poller) clearInterval(poller);
  live.delete(child);
  if (consolePending) onConsoleLine(consolePending);
  const totalMs = Date.now() - t0;

  for (const t of tails) await t.poll(true);

  const readOr = async (p: string): Promise<string> => {
    try {
      return await readFile(p, 'utf8');
    } catch {
      return '';
    }
  };
  const stdout = await readOr(stdoutPath);
  const stderr = await readOr(join(ctl, 'stderr'));
  const exitText = (await readOr(join(ctl, 'exitcode'))).trim();
  const details = { console: consoleText + (qemuStderr ? `\n--- qemu stderr ---\n${qemuStderr}` : ''), stdout, stderr };

  if (exit.spawnError) throw new VmError('qemu-start', `cannot run ${QEMU}: ${exit.spawnError.message}`, details);
  if (timedOut) {
    throw new VmError(stage === 'command-start' ? 'timeout' : stage, `timed out after ${timeoutMs} ms (${stageDescription(stage)}); qemu killed`, details);
  }
  if (failure) throw new VmError(failure.stage, failure.why, details);
  if (!/^\d+$/.test(exitText)) {
    const how = exit.signal ? `qemu killed by ${exit.signal}` : `qemu exited with ${exit.code}`;
    throw new VmError(stage, `${stageDescription(stage)}; ${how}${qemuStderr ? `: ${qemuStderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, details);
  }
  if (callbackError !== undefined) throw callbackError;
  const exitCode = Number(exitText);
  const signal = signalOfExit(exitCode);
  if (signal === undefined) return { exitCode, stdout, stderr, bootMs, totalMs, outDir, console: consoleText, zfsVersion, stages };
  const kernel = (await readOr(join(ctl, 'kernel-tail'))).trimEnd();
  const note = `[vm] the command was killed by ${signal} (exit ${exitCode}); the guest kernel's lines about it:\n${kernel ? kernel.replace(/^/gm, '[vm]   ') : '[vm]   (none)'}\n`;
  return { exitCode, stdout, stderr: `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${note}`, bootMs, totalMs, outDir, console: consoleText, zfsVersion, stages, signal, crashNote: note };
}

/** The signal name for an exit code of 129+ (a shell's way of reporting death by signal). */
export function signalOfExit(code: number): string | undefined {
  if (!Number.isInteger(code) || code <= 128 || code > 128 + 64) return undefined;
  const n = code - 128;
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

/** Follows a growing file, calling `cb` for each complete line (and the last partial one when
 *  `final`). Polls never overlap: a poll while one runs waits for it. */
function lineTailer(path: string, cb: (line: string) => void, onCallbackError: (e: unknown) => void): { poll: (final: boolean) => Promise<void> } {
  let offset = 0;
  let partial = '';
  let running: Promise<void> = Promise.resolve();
  const once = async (final: boolean): Promise<void> => {
    try {
      const fh = await open(path, 'r');
      try {
        for (;;) {
          const buf = Buffer.alloc(65536);
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          if (bytesRead <= 0) break;
          offset += bytesRead;
          partial += buf.subarray(0, bytesRead).toString('latin1');
        }
      } finally {
        await fh.close();
      }
    } catch {
      /* not there yet */
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    if (final && partial !== '') {
      lines.push(partial);
      partial = '';
    }
    for (const l of lines) {
      try {
        cb(Buffer.from(l, 'latin1').toString('utf8'));
      } catch (e) {
        onCallbackError(e);
      }
    }
  };
  return {
    poll: (final) => {
      running = running.then(() => once(final));
      return running;
    },
  };
}
