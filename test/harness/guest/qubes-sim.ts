// The simulated Qubes system: qubes, their volumes and power states (the model the fake qubesd
// answers from), and the Qubes `zfs` storage driver's effects on real ZFS, reproduced command for
// command from qubes-core-admin qubes/storage/zfs.py (research qubes-facts §1.2–1.5):
//   container   zfs create -o mountpoint=none -o volmode=dev -o org.qubes-os:part-of-qvm-pool=true -p C
//               (an existing container: zfs set org.qubes-os:part-of-qvm-pool=true volmode=dev C)
//   create      save_on_stop: zfs create -p -s -V SIZE C/Q/V; @qubes:after-create:<ts> (when
//               revisions_to_keep > 0, then purge); _mark_clean (new @qubes-clean-<8 a-z>, older
//               clean snapshots zfs destroy -d -r). snap_on_start and volatile: nothing until start.
//   start       volatile: destroy -r if present, zfs create -p -s -V SIZE -o com.sun:auto-snapshot=false;
//               save_on_stop with org.qubes:dirty≠on: @qubes:before-start:<ts>, purge to
//               revisions_to_keep with zfs destroy -d -r, dirty=on; snap_on_start when missing or not
//               dirty: zfs clone -p -o com.sun:auto-snapshot=false SRC@<latest qubes-clean> C/.tmp/<vid_>,
//               destroy -r the old volume, zfs rename -p onto the vid, dirty=on; every volume ends
//               with readonly=<not rw>.
//   stop        volatile and snap_on_start: destroy -r; save_on_stop with dirty=on: dirty=off, _mark_clean.
//   remove      every volume destroy -r; "has dependent clones" → zfs promote the first clone of each
//               snapshot that has one, destroy again (remove_volume_retried_async).
//   clone-of    (qvm-clone, same pool) import_volume: clone the source's latest clean snapshot into
//               .tmp, rename -p onto the vid, @qubes:after-import-volume:<ts>, purge, _mark_clean (the
//               driver first creates the volume empty and destroys it here; nothing of it survives).
// Scenario `data:` is written into a new persistent volume right after `zfs create`, before its
// first snapshot, so the creation snapshots hold it.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { NQube, NScenario, QubeClass, SettingsChange } from '../scenario.ts';
import { emptySettings, LABELS, prefProblem, settableProblem, type FakeDevice } from '../qube-settings.ts';
import { QubesdError } from '../qubesd.ts';
import type { FakePool, FakeQube, FakeVolume, QubesModel } from '../qubesd.ts';
import { BASE_PATH, must, optionArgs, zfs, zfsTry, ZPOOL } from './proc.ts';

export const KERNEL_POOL = 'linux-kernel';
const pyStr = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const KERNEL_VERSION = '6.6.63-1.qubes.fc37';
const DEFAULT_SIZES: Record<string, number> = { root: 64 * 1024 ** 2, private: 64 * 1024 ** 2, volatile: 32 * 1024 ** 2 };

export interface SimVolume extends FakeVolume {
  driver: 'zfs' | 'file' | 'linux-kernel';
  /** The volume a snap_on_start volume is cloned from (template chain). */
  sourceVolume?: SimVolume;
}

export interface SimQube extends FakeQube {
  spec: NQube;
  volumes: SimVolume[];
}

interface SnapInfo {
  snap: string;
  txg: bigint;
  deferred: boolean;
}

type ZfsPoolCfg = { name: string; driver: 'zfs'; container: string; revisionsToKeep: number };

function flags(klass: QubeClass, vol: string): { snapOnStart: boolean; saveOnStop: boolean; rw: boolean } {
  if (vol === 'volatile') return { snapOnStart: false, saveOnStop: false, rw: true };
  if (vol === 'kernel') return { snapOnStart: false, saveOnStop: false, rw: false };
  const persistentRoot = klass === 'TemplateVM' || klass === 'StandaloneVM';
  if (vol === 'root') return persistentRoot ? { snapOnStart: false, saveOnStop: true, rw: true } : { snapOnStart: true, saveOnStop: false, rw: true };
  // private
  return klass === 'DispVM' ? { snapOnStart: true, saveOnStop: false, rw: true } : { snapOnStart: false, saveOnStop: true, rw: true };
}

function uuidFor(name: string): string {
  // Deterministic, well-formed v4-looking UUID from the name (R4.3 lists uuid=…).
  let h = 0x811c9dc5;
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) {
    for (const c of name + i) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    bytes.push(h & 0xff);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `qubes:<cause>:<time.time() as %.6f>` */
function revisionName(cause: string): string {
  const t = (performance.timeOrigin + performance.now()) / 1000;
  return `qubes:${cause}:${t.toFixed(6)}`;
}

function cleanName(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += String.fromCharCode(97 + randomInt(26));
  return `qubes-clean-${s}`;
}

async function waitForDevice(path: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${path} did not appear within ${timeoutMs} ms (udev)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes `bytes` random bytes into a zvol (via its /dev/zvol link) or a new file in a filesystem. */
export async function writeRandom(dataset: string, bytes: number, offset: number, fileTag: string): Promise<void> {
  const type = (await zfs('get', '-H', '-o', 'value', 'type', dataset)).trim();
  let target: string;
  if (type === 'volume') {
    target = `/dev/zvol/${dataset}`;
    await waitForDevice(target);
  } else {
    const mp = (await zfs('get', '-H', '-o', 'value', 'mountpoint', dataset)).trim();
    const mounted = (await zfs('get', '-H', '-o', 'value', 'mounted', dataset)).trim();
    if (mounted !== 'yes' || !mp.startsWith('/')) throw new Error(`${dataset} is not mounted (mountpoint ${mp}); cannot write data into it`);
    target = `${mp}/${fileTag}.bin`;
  }
  await must([
    'dd', 'if=/dev/urandom', `of=${target}`, 'bs=64K', `count=${bytes}`, `seek=${offset}`,
    'iflag=count_bytes', 'oflag=seek_bytes', 'conv=notrunc,fsync', 'status=none',
  ], { env: { PATH: BASE_PATH, LC_ALL: 'C' } });
}

/** What the driver reads of a volume live from ZFS. */
interface LiveVolume {
  usage: string;
  origin: string;
  volsize: string;
  latestClean?: string;
}

export class QubesSim implements QubesModel {
  readonly release: '4.2' | '4.3';
  readonly qubesByName = new Map<string, SimQube>();
  private readonly zfsPools = new Map<string, ZfsPoolCfg>();
  private readonly poolList: FakePool[] = [];
  private writeCounter = 0;

  constructor(
    private readonly scenario: NScenario,
    /** Called with the new power state, or null when the qube was removed. */
    private readonly onStateChange: (qube: string, state: string | null) => Promise<void>,
  ) {
    this.release = scenario.release;
    for (const p of scenario.qubesPools) {
      if (p.driver === 'zfs') {
        this.zfsPools.set(p.name, p);
        this.poolList.push({
          name: p.name,
          config: {
            container: p.container,
            driver: 'zfs',
            ephemeral_volatile: 'False',
            name: p.name,
            revisions_to_keep: String(p.revisionsToKeep),
            snap_on_start_forensics: 'False',
          },
        });
      } else {
        this.poolList.push({ name: p.name, config: { dir_path: p.dirPath, driver: 'file', name: p.name, revisions_to_keep: '1' } });
      }
    }
    this.poolList.push({ name: KERNEL_POOL, config: { dir_path: '/var/lib/qubes/vm-kernels', driver: 'linux-kernel', name: KERNEL_POOL } });
  }

  // ---- QubesModel (what the fake qubesd reads) ----
  qubes(): FakeQube[] {
    return [...this.qubesByName.values()];
  }
  pools(): FakePool[] {
    return this.poolList;
  }
  /** Global defaults that depend on the scenario (first zfs pool, first template), and the set ones. */
  globalProperties(): { defaults: Record<string, string>; set: Record<string, string> } {
    const firstTemplate = [...this.qubesByName.values()].find((q) => q.klass === 'TemplateVM')?.name ?? '';
    return { defaults: { default_pool: [...this.zfsPools.keys()][0] ?? '', default_template: firstTemplate }, set: this.scenario.globalPrefs };
  }

  /** qvm-prefs / qvm-features / qvm-tags / qvm-firewall / qvm-device assign|unassign on one qube. */
  applySettings(name: string, change: SettingsChange): void {
    const q = this.qubesByName.get(name);
    if (!q) throw new Error(`QubesVMNotFoundError: no such domain ${name}`);
    const s = q.settings!;
    const names = new Set(this.qubesByName.keys());
    switch (change.what) {
      case 'prefs':
        for (const [k, v] of Object.entries(change.set)) {
          const problem = prefProblem(q.klass, k, v, names);
          if (problem) throw new Error(`qvm-prefs: error: ${problem}`);
          s.prefs[k] = v;
        }
        for (const k of change.reset) {
          const problem = settableProblem(q.klass, k);
          if (problem) throw new Error(`qvm-prefs: error: ${problem}`);
          if (k === 'label' || k === 'template') throw new Error(`qvm-prefs: error: property ${k} has no default`);
          delete s.prefs[k];
        }
        break;
      case 'features':
        Object.assign(s.features, change.set);
        for (const k of change.remove) delete s.features[k];
        break;
      case 'tags':
        s.tags = [...new Set([...s.tags.filter((t) => !change.remove.includes(t)), ...change.add])];
        break;
      case 'firewall':
        s.firewall = [...change.set];
        break;
      case 'devices': {
        const same = (a: { devclass: string; backend: string; port: string }, b: { devclass: string; backend: string; port: string }): boolean =>
          a.devclass === b.devclass && a.backend === b.backend && a.port === b.port;
        for (const u of change.unassign) {
          if (!s.devices.some((d) => same(d, u))) throw new Error(`qvm-device: error: ${u.backend}:${u.port} is not assigned to ${name}`);
          s.devices = s.devices.filter((d) => !same(d, u));
        }
        for (const a of change.assign) {
          if (a.backend !== 'dom0' && !names.has(a.backend)) throw new Error(`qvm-device: error: no backend domain ${a.backend}`);
          s.devices = [...s.devices.filter((d) => !same(d, a)), a];
        }
        break;
      }
    }
  }
  // Live values for admin.vm.volume.Info (usage, is_outdated) come from ONE `zfs list` of every
  // container, shared by the calls of the next second: the CLI asks for every volume of every qube,
  // and a zfs process per call costs a few hundred milliseconds in the emulated VM.
  private live?: { at: number; data: Promise<Map<string, LiveVolume>> };

  private liveState(): Promise<Map<string, LiveVolume>> {
    if (this.live && Date.now() - this.live.at < 1000) return this.live.data;
    const containers = [...new Set([...this.zfsPools.values()].map((p) => p.container))];
    const data = (async () => {
      const map = new Map<string, LiveVolume>();
      if (containers.length === 0) return map;
      const r = await zfsTry('list', '-H', '-p', '-t', 'volume,snapshot', '-o', 'name,logicalreferenced,origin,defer_destroy,volsize', '-s', 'createtxg', '-r', ...containers);
      for (const line of r.stdout.split('\n')) {
        const [name = '', usage = '0', origin = '-', deferred = 'off', volsize = '-'] = line.split('\t');
        const at = name.indexOf('@');
        if (at < 0) {
          if (name) map.set(name, { usage, origin, volsize });
        } else if (name.slice(at + 1).startsWith('qubes-clean-') && deferred === 'off') {
          const e = map.get(name.slice(0, at));
          if (e) e.latestClean = name;
        }
      }
      return map;
    })();
    this.live = { at: Date.now(), data };
    return data;
  }

  async volumeUsage(_q: FakeQube, v: FakeVolume): Promise<string> {
    if ((v as SimVolume).driver !== 'zfs') return '0';
    return (await this.liveState()).get(v.vid)?.usage ?? '0';
  }

  /** size: the driver reads the zvol's volsize (it changes under qubesd when restore --zfs-receive puts a received dataset in place). */
  async volumeSize(_q: FakeQube, v: FakeVolume): Promise<string> {
    if ((v as SimVolume).driver !== 'zfs') return v.size;
    const live = (await this.liveState()).get(v.vid)?.volsize;
    return live !== undefined && /^[0-9]+$/.test(live) ? live : v.size;
  }

  /** is_outdated: a snap_on_start volume whose origin is no longer its source's newest clean snapshot. */
  async volumeOutdated(_q: FakeQube, v: FakeVolume): Promise<boolean> {
    const sv = v as SimVolume;
    if (sv.driver !== 'zfs' || !sv.sourceVolume) return false;
    const live = await this.liveState();
    const mine = live.get(v.vid);
    const latest = live.get(sv.sourceVolume.vid)?.latestClean;
    return mine !== undefined && latest !== undefined && mine.origin !== latest;
  }

  async poolSizeUsage(pool: FakePool): Promise<{ size: string; usage: string } | undefined> {
    const cfg = this.zfsPools.get(pool.name);
    if (!cfg) return undefined;
    const out = await must([ZPOOL, 'list', '-H', '-p', '-o', 'size,allocated', cfg.container.split('/')[0]!]);
    const [size = '0', usage = '0'] = out.trim().split('\t');
    return { size, usage };
  }

  // ---- building ----
  private containerOf(poolName: string): string | undefined {
    return this.zfsPools.get(poolName)?.container;
  }

  /** The Qubes pool setup (`qvm-pool add NAME zfs -o container=C`). */
  async setupPools(): Promise<void> {
    for (const p of this.zfsPools.values()) {
      const exists = (await zfsTry('list', '-H', '-o', 'name', p.container)).exit === 0;
      if (exists) await zfs('set', 'org.qubes-os:part-of-qvm-pool=true', 'volmode=dev', p.container);
      else await zfs('create', '-o', 'mountpoint=none', '-o', 'volmode=dev', '-o', 'org.qubes-os:part-of-qvm-pool=true', '-p', p.container);
    }
  }

  private makeVolumes(q: NQube): SimVolume[] {
    if (q.synthetic) return [];
    const vols: SimVolume[] = [];
    for (const name of ['root', 'private', 'volatile']) {
      const f = flags(q.class, name);
      let poolName = q.volumePools[name]!;
      let sourceVolume: SimVolume | undefined;
      let size = q.sizes[name] ?? DEFAULT_SIZES[name]!;
      if (f.snapOnStart) {
        // qubes/storage/__init__.py _update_volume_config_source: walk the template chain to the
        // first volume without a source; the pool and size come from it.
        let t = q.template ? this.qubesByName.get(q.template) : undefined;
        while (t) {
          const src = t.volumes.find((v) => v.name === name);
          if (!src) break;
          sourceVolume = src.sourceVolume ?? src;
          if (!src.sourceVolume) break;
          t = t.spec.template ? this.qubesByName.get(t.spec.template) : undefined;
        }
        if (sourceVolume) {
          poolName = sourceVolume.pool;
          size = Number(sourceVolume.size);
        }
      }
      const container = this.containerOf(poolName);
      const cfg = this.poolList.find((p) => p.name === poolName)!;
      let vid: string;
      let path: string;
      let driver: SimVolume['driver'];
      if (container) {
        driver = 'zfs';
        vid = `${container}/${q.name}/${name}`;
        path = '';
      } else {
        driver = 'file';
        const prefix = q.class === 'TemplateVM' ? 'vm-templates' : q.class === 'DispVM' ? 'appvms' : 'appvms';
        vid = `${prefix}/${q.name}/${name}`;
        const dir = cfg.config['dir_path'] ?? '/var/lib/qubes';
        path = `${dir}/${f.snapOnStart && sourceVolume ? sourceVolume.vid : vid}.img`;
      }
      vols.push({
        name,
        pool: poolName,
        vid,
        size: String(size),
        rw: f.rw,
        source: sourceVolume ? sourceVolume.vid : '',
        path,
        saveOnStop: f.saveOnStop,
        snapOnStart: f.snapOnStart,
        revisionsToKeep: this.zfsPools.get(poolName)?.revisionsToKeep ?? 1,
        ephemeral: false,
        driver,
        ...(sourceVolume ? { sourceVolume } : {}),
      });
    }
    vols.push({
      name: 'kernel', pool: KERNEL_POOL, vid: KERNEL_VERSION, size: '0', rw: false, source: '', path: '',
      saveOnStop: false, snapOnStart: false, revisionsToKeep: 0, ephemeral: false, driver: 'linux-kernel',
    });
    return vols;
  }

  /** qvm-create (and qvm-clone for clone-of) of every scenario qube, in order; one look at ZFS first. */
  async createQubes(qubes: NQube[]): Promise<void> {
    await this.loadView();
    for (const q of qubes) await this.createQube(q);
  }

  /** One qube: it exists, Halted, with its persistent volumes (the view must be loaded). */
  private async createQube(q: NQube): Promise<void> {
    const qube: SimQube = {
      name: q.name,
      klass: q.class,
      state: 'Halted',
      uuid: uuidFor(q.name),
      ...(q.template ? { template: q.template } : {}),
      spec: q,
      volumes: [],
      settings: structuredClone(q.settings),
    };
    qube.volumes = this.makeVolumes(q);
    this.qubesByName.set(q.name, qube);
    const src = q.cloneOf ? this.qubesByName.get(q.cloneOf) : undefined;
    for (const v of qube.volumes) {
      if (v.driver !== 'zfs' || !v.saveOnStop) continue;
      const data = q.data[v.name];
      const sv = src?.volumes.find((x) => x.name === v.name);
      if (sv && sv.driver === 'zfs' && sv.pool === v.pool && sv.saveOnStop) {
        // qvm-clone: the driver first creates the volume as below, then import_volume replaces it
        // (destroy -r, clone of the source's newest clean snapshot renamed onto the vid). Nothing of
        // the first volume survives, so the harness goes straight to the import.
        await this.cloneInto(v, sv, {});
        if (data) await writeRandom(v.vid, data, 0, this.nextFileTag());
        await this.createRevision(v, 'after-import-volume');
        await this.markClean(v);
      } else {
        await this.createEmpty(v, {});
        if (data) await writeRandom(v.vid, data, 0, this.nextFileTag());
        await this.createRevision(v, 'after-create');
        await this.markClean(v);
      }
    }
    await this.onStateChange(q.name, 'Halted');
  }

  /** Starts the qubes a scenario lists as not Halted, in order; one look at ZFS first. */
  async startQubes(qubes: NQube[]): Promise<void> {
    await this.loadView();
    for (const q of qubes) await this.start(q.name, q.state, false);
  }

  async start(name: string, state = 'Running', reload = true): Promise<void> {
    const q = this.qubesByName.get(name);
    if (!q) throw new Error(`no such qube ${name}`);
    if (q.state !== 'Halted') throw new Error(`QubesVMNotHaltedError: domain ${name} is not halted (${q.state})`);
    if (reload) await this.loadView();
    for (const v of q.volumes) {
      if (v.driver !== 'zfs') continue;
      let dirty = false;
      if (!v.snapOnStart && !v.saveOnStop) {
        await this.createEmpty(v, { 'com.sun:auto-snapshot': 'false' });
      } else if (v.saveOnStop) {
        if (!this.isDirty(v.vid)) {
          await this.createRevision(v, 'before-start');
          dirty = true;
        }
      } else if (!this.exists(v.vid) || !this.isDirty(v.vid)) {
        if (v.sourceVolume) await this.cloneInto(v, v.sourceVolume, { 'com.sun:auto-snapshot': 'false' });
        else await this.createEmpty(v, { 'com.sun:auto-snapshot': 'false' });
        dirty = true;
      }
      // The driver sets dirty=on, then (at the end of start) readonly=<not rw>: one zfs set here.
      await this.setProps(v.vid, { ...(dirty ? { 'org.qubes:dirty': 'on' } : {}), readonly: v.rw ? 'off' : 'on' });
    }
    q.state = state;
    await this.onStateChange(name, state);
  }

  async stop(name: string): Promise<void> {
    const q = this.qubesByName.get(name);
    if (!q) throw new Error(`no such qube ${name}`);
    if (q.state === 'Halted') throw new Error(`QubesVMNotStartedError: domain ${name} is powered off`);
    // libvirt reports the domain halted before the driver's stop() runs (research §1.7); a scenario
    // cannot observe the gap, so the state changes first, then the storage stops.
    q.state = 'Halted';
    await this.onStateChange(name, 'Halted');
    await this.loadView();
    for (const v of q.volumes) {
      if (v.driver !== 'zfs') continue;
      if (!v.saveOnStop) {
        await this.removeVolumeAndDerived(v);
      } else if (this.exists(v.vid) && this.isDirty(v.vid)) {
        await this.setProps(v.vid, { 'org.qubes:dirty': 'off' });
        await this.markClean(v);
      }
    }
    // A disposable with auto_cleanup (the dynamic disp1234 kind) is removed once it has stopped.
    if (q.spec.autoCleanup) await this.remove(name);
  }

  /** qvm-remove: every zfs volume removed (with the driver's promote of dependent clones); the
   *  qube leaves the inventory. The per-qube filesystem stays, as with the driver ("FIXME: if the
   *  last volume of the VM is removed, then the parent dataset should be removed too"). */
  async remove(name: string): Promise<void> {
    const q = this.qubesByName.get(name);
    if (!q) throw new Error(`no such qube ${name}`);
    if (q.state !== 'Halted') throw new Error(`QubesVMNotHaltedError: domain ${name} is not halted (${q.state})`);
    const users = [...this.qubesByName.values()].filter((x) => x.spec.template === name).map((x) => x.name);
    if (users.length) throw new Error(`QubesVMInUseError: ${name} is the template of ${users.join(', ')}`);
    await this.loadView();
    for (const v of q.volumes) if (v.driver === 'zfs') await this.removeVolumeAndDerived(v);
    this.qubesByName.delete(name);
    await this.onStateChange(name, null);
  }

  /** qvm-volume revert QUBE:VOLUME (to the newest revision): refused while the volume is dirty;
   *  zfs rollback -r to the revision (destroying every later snapshot and bookmark), the revision
   *  itself destroyed (DELETE_REVISION_UPON_REVERT), then _mark_clean. */
  async revert(qube: string, volume: string): Promise<string> {
    const q = this.qubesByName.get(qube);
    const v = q?.volumes.find((x) => x.name === volume);
    if (!q || !v) throw new Error(`qube ${qube} has no volume ${volume}`);
    if (v.driver !== 'zfs' || !v.saveOnStop) throw new Error(`${qube}:${volume} has no revisions (not a persistent volume on a zfs pool)`);
    await this.loadView();
    if (this.isDirty(v.vid)) throw new Error(`StoragePoolException: Cannot revert dirty volume ${v.vid} - stop the qube first`);
    const revs = this.snapshots(v.vid)
      .filter((x) => x.snap.startsWith('qubes:') && !x.deferred)
      .sort((a, b) => Number(a.snap.split(':')[2] ?? '0') - Number(b.snap.split(':')[2] ?? '0'));
    const rev = revs[revs.length - 1];
    if (!rev) throw new Error(`StoragePoolException: Cannot revert volume ${v.vid} with no revisions`);
    await zfs('rollback', '-r', `${v.vid}@${rev.snap}`);
    await this.loadView();
    await this.destroySnapshotDeferred(v.vid, rev.snap);
    await this.markClean(v);
    return `${v.vid}@${rev.snap}`;
  }

  /** qvm-volume import QUBE:VOLUME (import_data + import_data_end): refused while dirty; a new zvol
   *  `<container>/.importing/<vid_>` of the volume's size gets `bytes` random bytes, the old volume
   *  is destroyed (promoting dependent clones), the new one renamed onto the vid (a new GUID), then
   *  @qubes:after-import-data:<ts> and _mark_clean. */
  async importData(qube: string, volume: string, bytes: number): Promise<void> {
    const q = this.qubesByName.get(qube);
    const v = q?.volumes.find((x) => x.name === volume);
    if (!q || !v) throw new Error(`qube ${qube} has no volume ${volume}`);
    if (v.driver !== 'zfs' || !v.saveOnStop) throw new Error(`${qube}:${volume} is not a persistent volume on a zfs pool`);
    await this.loadView();
    if (this.isDirty(v.vid)) throw new Error(`StoragePoolException: Cannot import data to dirty volume ${v.vid} - stop the qube using it first`);
    const imp = `${this.containerOf(v.pool)}/.importing/${v.vid.replace(/\//g, '_')}`;
    if (this.exists(imp)) throw new Error(`StoragePoolException: Import operation in progress on ${v.vid}`);
    await zfs('create', '-p', '-s', '-V', v.size, imp);
    await writeRandom(imp, bytes, 0, this.nextFileTag());
    await this.removeIfExists(v.vid);
    await zfs('rename', '-p', imp, v.vid);
    this.view.set(v.vid, { dirty: false, snaps: [] });
    await this.createRevision(v, 'after-import-data');
    await this.markClean(v);
  }

  // ---- Admin API writes (restore): what qubesd and the zfs driver do for each call ----

  /** admin.vm.Create[InPool].<class>: a halted qube; its persistent volumes created empty by the
   *  driver (create: zfs create -p -s -V, @qubes:after-create, _mark_clean). */
  async createNewQube(klass: string, name: string, label: string, template: string | null, pools: Record<string, string>): Promise<void> {
    if (!['AppVM', 'TemplateVM', 'StandaloneVM', 'DispVM'].includes(klass)) throw new QubesdError('QubesValueError', `Unknown VM class: ${klass}`);
    if (!(LABELS as readonly string[]).includes(label)) throw new QubesdError('QubesLabelNotFoundError', `Label does not exist: ${pyStr(label)}`);
    if ((klass === 'AppVM' || klass === 'DispVM') && template === null) throw new QubesdError('QubesValueError', `${klass} needs a template`);
    if ((klass === 'TemplateVM' || klass === 'StandaloneVM') && template !== null) throw new QubesdError('QubesValueError', `${klass} takes no template`);
    const defaultPool = [...this.zfsPools.keys()][0];
    const volumePools: Record<string, string> = {};
    for (const v of ['root', 'private', 'volatile']) {
      const p = pools[v] ?? defaultPool;
      if (p === undefined || !this.poolList.some((x) => x.name === p)) throw new QubesdError('QubesException', `Pool ${p ?? '(default)'} does not exist`);
      volumePools[v] = p;
    }
    const settings = emptySettings();
    settings.prefs['label'] = label;
    const spec: NQube = {
      name, class: klass as QubeClass, ...(template !== null ? { template } : {}), volumePools, state: 'Halted', data: {}, sizes: {}, settings,
    };
    await this.loadView();
    await this.createQube(spec);
  }

  setProperty(qube: string, name: string, value: string): void {
    const q = this.mustQube(qube);
    const problem = prefProblem(q.klass, name, value, new Set(this.qubesByName.keys()));
    if (problem) throw new QubesdError('QubesValueError', problem);
    q.settings!.prefs[name] = value;
  }

  resetProperty(qube: string, name: string): void {
    const q = this.mustQube(qube);
    const problem = settableProblem(q.klass, name);
    if (problem) throw new QubesdError('QubesValueError', problem);
    if (name === 'label' || name === 'template' || name === 'name') throw new QubesdError('QubesValueError', `property ${name} has no default`);
    delete q.settings!.prefs[name];
  }

  setFeature(qube: string, name: string, value: string): void {
    this.mustQube(qube).settings!.features[name] = value;
  }

  setTag(qube: string, tag: string): void {
    const s = this.mustQube(qube).settings!;
    if (!s.tags.includes(tag)) s.tags = [...s.tags, tag];
  }

  removeTag(qube: string, tag: string): void {
    const s = this.mustQube(qube).settings!;
    if (!s.tags.includes(tag)) throw new QubesdError('QubesTagNotFoundError', `Tag not set for domain ${qube}: ${tag}`);
    s.tags = s.tags.filter((t) => t !== tag);
  }

  setFirewall(qube: string, rules: string[]): void {
    this.mustQube(qube).settings!.firewall = [...rules];
  }

  setNotes(qube: string, notes: string): void {
    this.mustQube(qube).settings!.notes = notes;
  }

  assignDevice(qube: string, device: FakeDevice): void {
    const s = this.mustQube(qube).settings!;
    s.devices = [...s.devices, device];
  }

  /** import_data(size): refused while dirty or while another import is in progress; a new sparse
   *  zvol `<container>/.importing/<vid_>` of `size`; its /dev/zvol path. */
  async importBegin(qube: string, volume: string, size: string): Promise<string> {
    const v = this.zfsVolume(qube, volume);
    await this.loadView();
    if (this.isDirty(v.vid)) throw new QubesdError('StoragePoolException', `Cannot import data to dirty volume ${v.vid} - stop the qube using it first`);
    const imp = this.importingName(v);
    if (this.exists(imp)) throw new QubesdError('StoragePoolException', `Import operation in progress on ${v.vid}`);
    await zfs('create', '-p', '-s', '-V', size, imp);
    this.view.set(imp, { dirty: false, snaps: [] });
    this.importSizes.set(imp, size);
    await waitForDevice(`/dev/zvol/${imp}`);
    return `/dev/zvol/${imp}`;
  }

  /** import_data_end(success): the old volume destroyed and the new one renamed onto the vid (a
   *  new GUID), @qubes:after-import-data and _mark_clean; or the import volume destroyed. */
  async importEnd(qube: string, volume: string, success: boolean): Promise<void> {
    const v = this.zfsVolume(qube, volume);
    await this.loadView();
    const imp = this.importingName(v);
    if (!this.exists(imp)) throw new QubesdError('StoragePoolException', `No import operation in progress on ${v.vid}`);
    if (!success) {
      await this.removeIfExists(imp);
      return;
    }
    await this.removeIfExists(v.vid);
    await zfs('rename', '-p', imp, v.vid);
    this.view.delete(imp);
    this.view.set(v.vid, { dirty: false, snaps: [] });
    v.size = this.importSizes.get(imp) ?? v.size;
    this.importSizes.delete(imp);
    await this.createRevision(v, 'after-import-data');
    await this.markClean(v);
  }

  private readonly importSizes = new Map<string, string>();

  private importingName(v: SimVolume): string {
    return `${this.containerOf(v.pool)}/.importing/${v.vid.replace(/\//g, '_')}`;
  }

  private mustQube(name: string): SimQube {
    const q = this.qubesByName.get(name);
    if (!q) throw new QubesdError('QubesVMNotFoundError', `No such domain: ${pyStr(name)}`);
    return q;
  }

  private zfsVolume(qube: string, volume: string): SimVolume {
    const v = this.mustQube(qube).volumes.find((x) => x.name === volume);
    if (!v || v.driver !== 'zfs' || !v.saveOnStop) throw new QubesdError('StoragePoolException', `${qube}:${volume} is not a persistent volume on a zfs pool`);
    return v;
  }

  /** The dataset behind a qube's volume (zfs pools only). */
  volumeDataset(qube: string, volume: string): string {
    const q = this.qubesByName.get(qube);
    const v = q?.volumes.find((x) => x.name === volume);
    if (!q || !v) throw new Error(`qube ${qube} has no volume ${volume}`);
    if (v.driver !== 'zfs') throw new Error(`${qube}:${volume} is in pool ${v.pool} (driver ${v.driver}), not on ZFS`);
    return v.vid;
  }

  nextFileTag(): string {
    return `data-${this.writeCounter++}`;
  }

  // ---- the driver's primitives ----
  // Each public operation (create, start, stop) first reads the state of every zfs-pool container
  // with ONE `zfs list`, then keeps that picture up to date as it runs its commands: the same
  // decisions as the driver's per-call checks, for a fraction of the zfs processes (each costs a few
  // hundred milliseconds in the emulated VM).
  private view = new Map<string, { dirty: boolean; snaps: SnapInfo[] }>();
  private nextTxg = 0n;

  private async loadView(): Promise<void> {
    this.view = new Map();
    this.live = undefined;
    const containers = [...new Set([...this.zfsPools.values()].map((p) => p.container))];
    if (containers.length === 0) return;
    const out = await zfs('list', '-H', '-p', '-t', 'filesystem,volume,snapshot', '-o', 'name,createtxg,defer_destroy,org.qubes:dirty', '-s', 'createtxg', '-r', ...containers);
    let max = 0n;
    for (const line of out.split('\n')) {
      if (!line) continue;
      const [name = '', txg = '0', deferred = 'off', dirty = '-'] = line.split('\t');
      const t = BigInt(txg);
      if (t > max) max = t;
      const at = name.indexOf('@');
      if (at < 0) {
        const e = this.view.get(name);
        if (e) e.dirty = dirty === 'on';
        else this.view.set(name, { dirty: dirty === 'on', snaps: [] });
      } else {
        const ds = name.slice(0, at);
        let e = this.view.get(ds);
        if (!e) this.view.set(ds, (e = { dirty: false, snaps: [] }));
        e.snaps.push({ snap: name.slice(at + 1), txg: t, deferred: deferred === 'on' });
      }
    }
    this.nextTxg = max + 1n;
  }

  private exists(ds: string): boolean {
    return this.view.has(ds);
  }

  private isDirty(ds: string): boolean {
    return this.view.get(ds)?.dirty ?? false;
  }

  private snapshots(ds: string): SnapInfo[] {
    return this.view.get(ds)?.snaps ?? [];
  }

  private async setProps(ds: string, props: Record<string, string>): Promise<void> {
    await zfs('set', ...Object.entries(props).map(([k, v]) => `${k}=${v}`), ds);
    const e = this.view.get(ds);
    if (e && props['org.qubes:dirty'] !== undefined) e.dirty = props['org.qubes:dirty'] === 'on';
  }

  private async snapshot(ds: string, snap: string): Promise<void> {
    await zfs('snapshot', `${ds}@${snap}`);
    this.view.get(ds)?.snaps.push({ snap, txg: this.nextTxg++, deferred: false });
  }

  /** zfs destroy -d -r DS@SNAP (deferred: a snapshot that is a clone's origin stays, marked). */
  private async destroySnapshotDeferred(ds: string, snap: string): Promise<void> {
    await zfs('destroy', '-d', '-r', `${ds}@${snap}`);
    const e = this.view.get(ds);
    if (e) e.snaps = e.snaps.filter((x) => x.snap !== snap);
  }

  /** _remove_volume_if_exists → remove_volume_retried_async: zfs destroy -r; on "has dependent
   *  clones", promote the first clone of each snapshot that has any (so the snapshots up to it move
   *  to that clone), then destroy again. */
  private async removeIfExists(ds: string): Promise<void> {
    if (!this.exists(ds)) return;
    const r = await zfsTry('destroy', '-r', ds);
    if (r.exit !== 0) {
      if (!/dependent clones/.test(r.stderr)) throw new Error(`zfs destroy -r ${ds} failed (exit ${r.exit}): ${r.stderr.trim()}`);
      const promoted = new Set<string>([ds]);
      const out = await zfs('list', '-H', '-t', 'snapshot', '-d', '1', '-s', 'createtxg', '-o', 'name,clones', ds);
      for (const line of out.split('\n').filter(Boolean)) {
        const clones = (line.split('\t')[1] ?? '').split(',').filter((c) => c && c !== '-');
        const first = clones.find((c) => !promoted.has(c));
        if (!first) continue;
        await zfs('promote', first);
        promoted.add(first);
      }
      await zfs('destroy', '-r', ds);
      await this.loadView();
    }
    for (const k of [...this.view.keys()]) if (k === ds || k.startsWith(`${ds}/`)) this.view.delete(k);
  }

  private tmpName(v: SimVolume): string {
    return `${this.containerOf(v.pool)}/.tmp/${v.vid.replace(/\//g, '_')}`;
  }

  private async removeVolumeAndDerived(v: SimVolume): Promise<void> {
    const c = this.containerOf(v.pool)!;
    const flat = v.vid.replace(/\//g, '_');
    await this.removeIfExists(`${c}/.importing/${flat}`);
    await this.removeIfExists(`${c}/.exported/${flat}`);
    await this.removeIfExists(`${c}/.tmp/${flat}`);
    await this.removeIfExists(v.vid);
  }

  private async createEmpty(v: SimVolume, options: Record<string, string>): Promise<void> {
    await this.removeIfExists(v.vid);
    await zfs('create', '-p', '-s', '-V', v.size, ...optionArgs(options), v.vid);
    this.view.set(v.vid, { dirty: false, snaps: [] });
  }

  private latestClean(ds: string): string | undefined {
    const snaps = this.snapshots(ds).filter((s) => s.snap.startsWith('qubes-clean-') && !s.deferred);
    snaps.sort((a, b) => (a.txg < b.txg ? -1 : a.txg > b.txg ? 1 : 0));
    const last = snaps[snaps.length - 1];
    return last ? `${ds}@${last.snap}` : undefined;
  }

  private async createRevision(v: SimVolume, cause: string): Promise<void> {
    if (v.revisionsToKeep > 0) await this.snapshot(v.vid, revisionName(cause));
    // _purge_old_revisions: keep the newest revisions_to_keep revisions (by their timestamp).
    const revs = this.snapshots(v.vid)
      .filter((s) => s.snap.startsWith('qubes:') && !s.deferred)
      .map((s) => ({ snap: s.snap, ts: Number(s.snap.split(':')[2] ?? '0') }))
      .sort((a, b) => b.ts - a.ts);
    for (const r of revs.slice(Math.max(0, v.revisionsToKeep))) await this.destroySnapshotDeferred(v.vid, r.snap);
  }

  private async markClean(v: SimVolume): Promise<void> {
    const existing = this.snapshots(v.vid).filter((s) => s.snap.startsWith('qubes-clean'));
    await this.snapshot(v.vid, cleanName());
    for (const old of existing) await this.destroySnapshotDeferred(v.vid, old.snap);
  }

  /** _wipe_and_clone_from for a same-pool ZFS source: clone via .tmp, then rename onto the vid. */
  private async cloneInto(v: SimVolume, source: SimVolume, options: Record<string, string>): Promise<void> {
    let src = this.latestClean(source.vid);
    if (!src) {
      const revs = this.snapshots(source.vid).filter((s) => s.snap.startsWith('qubes:') && !s.deferred);
      const last = revs[revs.length - 1];
      if (!last) throw new Error(`${source.vid} has no qubes-clean snapshot or revision to clone from`);
      src = `${source.vid}@${last.snap}`;
    }
    const tmp = this.tmpName(v);
    await this.removeIfExists(tmp);
    await zfs('clone', '-p', ...optionArgs(options), src, tmp);
    await this.removeIfExists(v.vid);
    await zfs('rename', '-p', tmp, v.vid);
    this.view.set(v.vid, { dirty: false, snaps: [] });
  }
}
