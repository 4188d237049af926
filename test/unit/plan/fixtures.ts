// Tiny fixture builder for the planning tests: a few lines describe a Qubes+ZFS system laid out the
// way the Qubes zfs driver lays it out, and a compact job description becomes a `Job`.
//
// System lines (createtxg follows line order; '#' starts a comment):
//   pool NAME DRIVER [CONTAINER]        a Qubes pool; a zfs pool's container dataset is created
//   qube NAME CLASS [k=v…] [@label…]    a qube with driver-accurate datasets (see below)
//        k: state=Halted|Running|…  template=T  pool=P  root=P private=P volatile=P (per-volume pool)
//           dirty=on|off  cloneof=Q (private is a clone of Q's private@qubes-clean-*)  clean=no
//        @labels: snapshots taken of the qube's root dataset and persistent volumes, in order
//   ds NAME [volume] [origin=SNAP] [dirty=on] [@label…] [#bookmark…]   any dataset (parents implied)
//   snap NAME|qube:Q @label…            more snapshots later (higher createtxg)
// Without any `pool` line the system starts with `pool main zfs tank/qubes`; without a qube named
// `backup` one is added at the end (the default receiver: a running AppVM on the first zfs pool)
// unless `addReceiver: false`.
// Layout per class: every qube gets <container>/<qube>; TemplateVM and StandaloneVM root+private are
// persistent volumes with @qubes-clean-*; AppVM private is persistent, its root is a transient clone of
// the template's root@qubes-clean-* (present only while running); DispVM root+private are transient
// clones (present only while running); volatile exists only while running.
import type { Group, GroupType, Job, Position } from '../../../dom0/job/types.ts';
import type {
  Qube,
  QubesInventory,
  QubesPool,
  QubesVolume,
  ZfsDataset,
  ZfsInventory,
  ZfsSnapshot,
} from '../../../dom0/inventory/types.ts';

/** Both inventories of a fixture system. */
export interface System {
  qubes: QubesInventory;
  zfs: ZfsInventory;
}

class Builder {
  txg = 100n;
  guid = 1_000_000_000_000_000_000n;
  clean = 0;
  datasets = new Map<string, ZfsDataset>();
  pools: QubesPool[] = [];
  qubes: Qube[] = [];

  nextTxg(): bigint {
    this.txg += 1n;
    return this.txg;
  }
  nextGuid(): bigint {
    this.guid += 7919n;
    return this.guid;
  }
  cleanLabel(): string {
    let n = this.clean++;
    let s = '';
    for (let i = 0; i < 8; i++) {
      s = String.fromCharCode(97 + (n % 26)) + s;
      n = Math.floor(n / 26);
    }
    return '@qubes-clean-' + s;
  }

  dataset(name: string, type: 'filesystem' | 'volume' = 'filesystem', origin: string | null = null): ZfsDataset {
    const existing = this.datasets.get(name);
    if (existing) return existing;
    const slash = name.lastIndexOf('/');
    if (slash > 0) this.dataset(name.slice(0, slash));
    const ds: ZfsDataset = {
      name,
      type,
      guid: this.nextGuid(),
      createtxg: this.nextTxg(),
      origin,
      encrypted: false,
      receiveResumeToken: null,
      qubesDirty: type === 'volume' ? 'off' : null,
      snapshots: [],
      bookmarks: [],
    };
    this.datasets.set(name, ds);
    return ds;
  }

  snapshot(ds: ZfsDataset, label: string): ZfsSnapshot {
    const s: ZfsSnapshot = { name: ds.name + label, guid: this.nextGuid(), createtxg: this.nextTxg(), creation: 1_700_000_000n };
    ds.snapshots.push(s);
    return s;
  }

  bookmark(ds: ZfsDataset, label: string): void {
    ds.bookmarks.push({ name: ds.name + label, guid: this.nextGuid(), createtxg: this.nextTxg() });
  }

  pool(name: string, driver: string, container?: string): void {
    const p: QubesPool = { name, driver, config: { name, driver } };
    if (container !== undefined) {
      p.container = container;
      p.config['container'] = container;
      this.dataset(container);
    }
    this.pools.push(p);
  }

  containerOf(pool: string): string | undefined {
    const p = this.pools.find((x) => x.name === pool);
    return p && p.driver === 'zfs' ? p.container : undefined;
  }

  latestClean(ds: ZfsDataset | undefined): string | null {
    if (!ds) return null;
    const c = ds.snapshots.filter((s) => s.name.includes('@qubes-clean-'));
    return c.length === 0 ? null : c[c.length - 1]!.name;
  }

  qube(name: string, klass: string, kv: Map<string, string>, labels: string[]): void {
    const state = kv.get('state') ?? 'Halted';
    const running = state !== 'Halted';
    const defaultPool = kv.get('pool') ?? this.pools.find((p) => p.driver === 'zfs')?.name ?? 'main';
    const persistentRoot = klass === 'TemplateVM' || klass === 'StandaloneVM';
    const persistentPrivate = klass !== 'DispVM';
    const spec: [string, boolean][] = [
      ['root', persistentRoot],
      ['private', persistentPrivate],
      ['volatile', false],
    ];
    const volumes: QubesVolume[] = [];
    const template = kv.get('template');
    for (const [vol, saveOnStop] of spec) {
      const pool = kv.get(vol) ?? defaultPool;
      const container = this.containerOf(pool);
      const vid = container !== undefined ? `${container}/${name}/${vol}` : `qubes_dom0/vm-${name}-${vol}`;
      const snapOnStart = !saveOnStop && vol !== 'volatile';
      volumes.push({
        name: vol,
        pool,
        vid,
        saveOnStop,
        snapOnStart,
        rw: true,
        source: '',
        revisionsToKeep: 1,
        ephemeral: false,
      });
      if (container === undefined) continue;
      this.dataset(`${container}/${name}`);
      if (saveOnStop) {
        let origin: string | null = null;
        const cloneOf = kv.get('cloneof');
        if (cloneOf !== undefined && vol === 'private') origin = this.latestClean(this.datasets.get(`${container}/${cloneOf}/private`));
        const ds = this.dataset(vid, 'volume', origin);
        if (kv.get('clean') !== 'no') this.snapshot(ds, this.cleanLabel());
        ds.qubesDirty = (kv.get('dirty') as 'on' | 'off' | undefined) ?? (running ? 'on' : 'off');
      } else if (running) {
        let origin: string | null = null;
        if (vol === 'root' && template !== undefined) {
          const t = this.qubes.find((q) => q.name === template);
          const troot = t?.volumes.find((v) => v.name === 'root');
          // A disposable's root comes from its template's template (the dvm template is an AppVM).
          const src = troot && !troot.saveOnStop ? this.templateRootOf(t!) : troot?.vid;
          if (src) origin = this.latestClean(this.datasets.get(src));
        }
        if (vol === 'private' && template !== undefined) {
          const t = this.qubes.find((q) => q.name === template);
          const tp = t?.volumes.find((v) => v.name === 'private');
          if (tp) origin = this.latestClean(this.datasets.get(tp.vid));
        }
        const ds = this.dataset(vid, 'volume', origin);
        ds.qubesDirty = 'on';
      }
    }
    this.qubes.push({ name, klass, state, volumes });
    if (template !== undefined) this.templates.set(name, template);
    if (labels.length > 0) this.snapQube(name, labels);
  }

  templates = new Map<string, string>();

  templateRootOf(q: Qube): string | undefined {
    const t = this.templates.get(q.name);
    const tq = t === undefined ? undefined : this.qubes.find((x) => x.name === t);
    return tq?.volumes.find((v) => v.name === 'root')?.vid;
  }

  snapQube(name: string, labels: string[]): void {
    const q = this.qubes.find((x) => x.name === name);
    if (!q) throw new Error(`fixture: no qube ${name}`);
    const targets: ZfsDataset[] = [];
    for (const v of q.volumes) {
      const ds = this.datasets.get(v.vid);
      if (!ds || !v.saveOnStop) continue;
      const root = this.datasets.get(v.vid.slice(0, v.vid.lastIndexOf('/')));
      if (root && !targets.includes(root)) targets.push(root);
      targets.push(ds);
    }
    for (const label of labels) for (const ds of targets) this.snapshot(ds, label);
  }

  // Snapshots (@x) and bookmarks (#x) in the order written, so createtxg follows the line.
  marks(ds: ZfsDataset, tokens: readonly string[]): void {
    for (const t of tokens) {
      if (t.startsWith('@')) this.snapshot(ds, t);
      else if (t.startsWith('#')) this.bookmark(ds, t);
    }
  }

  line(raw: string): void {
    const text = raw.replace(/#(?![A-Za-z0-9_.:-]).*$/, '').replace(/\s#\s.*$/, '').trim();
    if (text === '') return;
    const [cmd, name, ...rest] = text.split(/\s+/);
    if (name === undefined) throw new Error(`fixture: bad line ${raw}`);
    const kv = new Map<string, string>();
    const labels: string[] = [];
    const words: string[] = [];
    for (const r of rest) {
      if (r.startsWith('@')) labels.push(r);
      else if (r.startsWith('#')) continue;
      else if (r.includes('=')) kv.set(r.slice(0, r.indexOf('=')), r.slice(r.indexOf('=') + 1));
      else words.push(r);
    }
    switch (cmd) {
      case 'pool':
        this.pool(name, words[0] ?? 'zfs', words[1]);
        return;
      case 'qube':
        this.qube(name, words[0] ?? 'AppVM', kv, labels);
        return;
      case 'ds': {
        const ds = this.dataset(name, words.includes('volume') ? 'volume' : 'filesystem', kv.get('origin') ?? null);
        if (kv.has('origin')) ds.origin = kv.get('origin')!;
        if (kv.has('dirty')) ds.qubesDirty = kv.get('dirty') as 'on' | 'off';
        this.marks(ds, rest);
        return;
      }
      case 'snap':
        if (name.startsWith('qube:')) this.snapQube(name.slice(5), labels);
        else {
          const ds = this.datasets.get(name);
          if (!ds) throw new Error(`fixture: no dataset ${name}`);
          this.marks(ds, rest);
        }
        return;
      default:
        throw new Error(`fixture: unknown line ${raw}`);
    }
  }
}

// Builds both inventories from the line format described at the top of this file.
export function sys(text: string, options: { addReceiver?: boolean } = {}): System {
  const b = new Builder();
  const lines = text.split('\n');
  if (!lines.some((l) => l.trim().startsWith('pool '))) b.pool('main', 'zfs', 'tank/qubes');
  for (const l of lines) b.line(l);
  if (options.addReceiver !== false && !b.qubes.some((q) => q.name === 'backup')) b.line('qube backup AppVM state=Running');
  const datasets = [...b.datasets.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return { qubes: { qubes: b.qubes, pools: b.pools }, zfs: { datasets } };
}

/** One group: "qubes: work vault", "datasets: tank/dom0 tank/shared", or ['datasets', [names…]]
 *  when names contain spaces. */
export type GroupSpec = string | [GroupType, string[]];

/** A compact job description for mkJob (defaults: target @bk, since beginning, all flags no but snapshot-creation). */
export interface JobSpec {
  include?: Record<string, GroupSpec>;
  forgo?: Record<string, GroupSpec>;
  void?: Record<string, GroupSpec>;
  /** Groups defined but in no list. */
  unused?: Record<string, GroupSpec>;
  target?: string;
  since?: string;
  progressive?: boolean;
  honourOrigins?: boolean;
  snapshotCreation?: boolean;
  patching?: boolean;
  receiver?: string;
  receiverDataset?: string;
}

// A `Job` as the loader would produce it; members get increasing line numbers from 20 on.
export function mkJob(spec: JobSpec): Job {
  let line = 20;
  const groups: Group[] = [];
  const refs = (r: Record<string, GroupSpec> | undefined): { name: string; pos: Position }[] =>
    Object.keys(r ?? {}).map((name, i) => ({ name, pos: { line: 10 + i, column: 5 } }));
  for (const r of [spec.include, spec.forgo, spec.void, spec.unused]) {
    for (const [name, g] of Object.entries(r ?? {})) {
      let type: GroupType;
      let values: string[];
      if (typeof g === 'string') {
        const colon = g.indexOf(':');
        type = g.slice(0, colon).trim() as GroupType;
        values = g.slice(colon + 1).trim().split(/\s+/).filter((v) => v !== '');
      } else {
        [type, values] = g;
      }
      const gline = line++;
      groups.push({
        name,
        type,
        pos: { line: gline, column: 1 },
        members: values.map((value) => ({ value, pos: { line: line++, column: 7 } })),
      });
    }
  }
  return {
    name: 'test-job',
    scope: {
      targetSnapshot: spec.target ?? '@bk',
      since: spec.since ?? 'beginning',
      progressive: spec.progressive ?? false,
      honourOrigins: spec.honourOrigins ?? false,
    },
    allowedBehaviours: { snapshotCreation: spec.snapshotCreation ?? true, patching: spec.patching ?? false },
    receiver: { qube: spec.receiver ?? 'backup', dataset: spec.receiverDataset ?? 'bpool/backups' },
    includeGroups: refs(spec.include),
    forgoGroups: refs(spec.forgo),
    voidGroups: refs(spec.void),
    groups,
    positions: {
      'scope.target-snapshot': { line: 3, column: 20 },
      'scope.since': { line: 4, column: 10 },
      'allowed-behaviours.snapshot-creation': { line: 8, column: 23 },
      'receiver.qube': { line: 11, column: 9 },
      'include-groups': { line: 13, column: 1 },
    },
  };
}

// A typical small desktop: templates, app qubes, a named disposable, the receiver, dom0 on ZFS.
export const DESKTOP = `
  ds tank/ROOT/os @a
  ds tank/dom0 @a
  qube fedora TemplateVM
  qube debian TemplateVM
  qube default-dvm AppVM template=fedora
  qube work AppVM template=fedora state=Running @a
  qube vault AppVM template=debian @a
  qube sys-usb DispVM template=default-dvm state=Running
  qube backup AppVM template=debian state=Running
`;
