// The scenario file format (SCENARIOS.md; documented in test/harness/README.md): a zod schema with
// clear errors, YAML loading, and normalisation into the plain JSON the guest executor runs.
// This is a public, stable interface: extend it, never rename or drop a key.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { splitArgv } from './argv.ts';
import {
  DEVICE_CLASSES, DEVICE_MODES, emptySettings, featureValue, GLOBAL_PROPERTIES, normaliseFirewallRule, prefProblem, prefValue, settableProblem, TAG_RE, valueProblem,
} from './qube-settings.ts';
import type { FakeDevice, FakeSettings } from './qube-settings.ts';

/** `512`, `4K`, `2M`, `1G` (powers of 1024), or a plain number of bytes. */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`size ${value} is not a whole number of bytes`);
    return value;
  }
  const m = /^\s*(\d+)\s*([KMG]?)i?B?\s*$/i.exec(value);
  if (!m) throw new Error(`size ${JSON.stringify(value)} is not a size (examples: 512, 64K, 2M, 1G)`);
  const unit = (m[2] ?? '').toUpperCase();
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new Error(`size ${JSON.stringify(value)} is too large`);
  return n;
}

const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    return z.NEVER;
  }
});

// ZFS / Qubes names: kept loose here (ZFS itself rejects bad ones), but no whitespace or shell
// metacharacters, so a typo fails at validation rather than deep inside a zfs call.
// Dataset names may contain spaces (ZFS allows them; the tool must cope); pool names may not.
const zfsName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.: /-]*$/, 'not a ZFS dataset name');
const qubeName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/, 'not a valid qube name');
const snapshotName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.: /-]*@[A-Za-z0-9_.:-]+$/, 'a snapshot is pool/dataset@name');
const snapLabel = z.string().regex(/^@[A-Za-z0-9_.:-]+$/, 'a snapshot label is @ followed by letters, digits, _ . : -');

const QUBE_CLASSES = ['TemplateVM', 'AppVM', 'DispVM', 'StandaloneVM'] as const;
const POWER_STATES = ['Halted', 'Running', 'Paused', 'Suspended', 'Transient', 'Halting', 'Dying', 'Crashed', 'NA'] as const;
export type QubeClass = (typeof QUBE_CLASSES)[number];
const volumeName = z.enum(['root', 'private', 'volatile']);

const poolSchema = z.object({ name: zfsName.refine((n) => !n.includes('/'), 'a pool name has no /'), size: size.optional() }).strict();

const datasetSchema = z
  .object({
    name: zfsName.refine((n) => n.includes('/'), 'a dom0 dataset lives inside a pool (pool/name)'),
    type: z.enum(['filesystem', 'volume']).default('filesystem'),
    size: size.optional(),
    data: size.optional(),
    snapshots: z.array(snapLabel).default([]),
    encrypted: z.boolean().default(false),
    properties: z.record(z.string()).default({}),
  })
  .strict()
  .refine((d) => d.type === 'filesystem' || d.size !== undefined, { message: 'a volume needs size:', path: ['size'] });

const qubesPoolSchema = z.discriminatedUnion('driver', [
  z
    .object({
      name: qubeName,
      driver: z.literal('zfs'),
      container: zfsName,
      'revisions-to-keep': z.number().int().min(0).default(1),
    })
    .strict(),
  z.object({ name: qubeName, driver: z.literal('file'), 'dir-path': z.string().default('/var/lib/qubes') }).strict(),
]);

// Qube settings (qvm-prefs, qvm-features, qvm-tags, qvm-firewall, qvm-device assign, notes).
const prefValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]).transform(prefValue);
const featureValueSchema = z.union([z.string(), z.number(), z.boolean()]).transform(featureValue);
const featureName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a feature name is letters, digits, _ . : - (at most 64)');
const tagName = z.string().regex(TAG_RE, 'a tag is ASCII letters, digits, - and _');
const firewallRule = z.string().transform((r, ctx) => {
  const n = normaliseFirewallRule(r);
  if (n.problem) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: n.problem });
    return z.NEVER;
  }
  return n.rule!;
});
const deviceRef = {
  class: z.enum(DEVICE_CLASSES),
  backend: z.union([qubeName, z.literal('dom0')]),
  port: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a port id is letters, digits, _ . : -'),
};
const deviceSchema = z
  .object({
    ...deviceRef,
    'device-id': z.string().regex(/^[A-Za-z0-9_.:*?-]{1,128}$/, 'not a device id').default('*'),
    mode: z.enum(DEVICE_MODES).optional(),
    options: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.union([z.string(), z.number(), z.boolean()]).transform(prefValue)).default({}),
  })
  .strict()
  .transform((d): FakeDevice => ({ devclass: d.class, backend: d.backend, port: d.port, deviceId: d['device-id'], mode: d.mode ?? (d.class === 'pci' ? 'required' : 'auto-attach'), options: d.options }));

const qubeSchema = z
  .object({
    name: qubeName,
    class: z.enum(QUBE_CLASSES),
    template: qubeName.optional(),
    pool: qubeName.optional(),
    'volume-pools': z.record(volumeName, qubeName).default({}),
    state: z.enum(POWER_STATES).default('Halted'),
    data: z.record(volumeName, size).default({}),
    sizes: z.record(volumeName, size).default({}),
    'clone-of': qubeName.optional(),
    'auto-cleanup': z.boolean().default(false),
    prefs: z.record(prefValueSchema).default({}),
    features: z.record(featureName, featureValueSchema).default({}),
    tags: z.array(tagName).default([]),
    firewall: z.array(firewallRule).optional(),
    devices: z.array(deviceSchema).default([]),
    notes: z.string().max(256000).optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if ((q.class === 'AppVM' || q.class === 'DispVM') && !q.template) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['template'], message: `an ${q.class} needs template:` });
    }
    if ((q.class === 'TemplateVM' || q.class === 'StandaloneVM') && q.template) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['template'], message: `a ${q.class} has no template` });
    }
  });

const receiverSchema = z
  .object({
    qube: qubeName,
    class: z.enum(QUBE_CLASSES).default('DispVM'),
    pool: zfsName.refine((n) => !n.includes('/'), 'a pool name has no /'),
    'pool-size': size.optional(),
    dataset: zfsName,
    encrypted: z.boolean().default(false),
    create: z.boolean().default(true),
  })
  .strict();

const systemSchema = z
  .object({
    'qubes-release': z.enum(['4.2', '4.3']).default('4.2'),
    pools: z.array(poolSchema).default([]),
    datasets: z.array(datasetSchema).default([]),
    'qubes-pools': z.array(qubesPoolSchema).default([]),
    qubes: z.array(qubeSchema).default([]),
    receiver: receiverSchema.optional(),
    'global-prefs': z.record(prefValueSchema).default({}),
  })
  .strict();

const strOrList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const expectSchema = z
  .object({
    exit: z.number().int().optional(),
    'stdout-contains': strOrList.optional(),
    'stdout-not-contains': strOrList.optional(),
    'stderr-contains': strOrList.optional(),
    'stderr-not-contains': strOrList.optional(),
    'stdout-matches': strOrList.optional(),
    'stderr-matches': strOrList.optional(),
    json: z.unknown().optional(),
    'ndjson-last': z.unknown().optional(),
    'ndjson-contains': z.array(z.unknown()).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    for (const key of ['stdout-matches', 'stderr-matches'] as const) {
      for (const [i, re] of (e[key] ?? []).entries()) {
        try {
          new RegExp(re, 'm');
        } catch (err) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, i], message: `not a regular expression: ${(err as Error).message}` });
        }
      }
    }
  });

const argvField = z.union([z.string(), z.array(z.union([z.string(), z.number()]))]);

const stepSchema = z.union([
  z
    .object({
      run: argvField,
      expect: expectSchema.optional(),
      env: z.record(z.string()).default({}),
      interrupt: z
        .object({ 'after-bytes': size.optional(), 'after-bytes-from-receiver': size.optional(), signal: z.enum(['SIGINT', 'SIGTERM', 'SIGKILL']).default('SIGINT') })
        .strict()
        .refine((i) => (i['after-bytes'] === undefined) !== (i['after-bytes-from-receiver'] === undefined), 'interrupt: give exactly one of after-bytes, after-bytes-from-receiver')
        .optional(),
      fault: z
        .object({
          'kill-agent-after-bytes': size.optional(),
          'truncate-stream-at': size.optional(),
          'receiver-pool-full': z.boolean().optional(),
          'receiver-shutdown-after-bytes': size.optional(),
        })
        .strict()
        .refine((f) => Object.keys(f).length === 1, 'fault: give exactly one of kill-agent-after-bytes, truncate-stream-at, receiver-pool-full, receiver-shutdown-after-bytes')
        .optional(),
      'timeout-ms': z.number().int().positive().optional(),
    })
    .strict(),
  z
    .object({
      qube: z
        .string()
        .regex(
          /^((start|stop|remove) [a-zA-Z][a-zA-Z0-9_.-]*|(revert|import) [a-zA-Z][a-zA-Z0-9_.-]*:(root|private))$/,
          'qube: "start NAME", "stop NAME", "remove NAME", "revert NAME:VOLUME" or "import NAME:VOLUME"',
        ),
      expect: expectSchema.optional(),
    })
    .strict(),
  z
    .object({
      write: z.union([
        z.object({ qube: qubeName, volume: volumeName, bytes: size, offset: size.default(0) }).strict(),
        z.object({ dataset: zfsName, bytes: size, offset: size.default(0) }).strict(),
      ]),
      expect: expectSchema.optional(),
    })
    .strict(),
  z.object({ prefs: z.object({ qube: qubeName, set: z.record(prefValueSchema).default({}), reset: z.array(z.string()).default([]) }).strict(), expect: expectSchema.optional() }).strict(),
  z.object({ features: z.object({ qube: qubeName, set: z.record(featureName, featureValueSchema).default({}), remove: z.array(featureName).default([]) }).strict(), expect: expectSchema.optional() }).strict(),
  z.object({ tags: z.object({ qube: qubeName, add: z.array(tagName).default([]), remove: z.array(tagName).default([]) }).strict(), expect: expectSchema.optional() }).strict(),
  z.object({ firewall: z.object({ qube: qubeName, set: z.array(firewallRule) }).strict(), expect: expectSchema.optional() }).strict(),
  z.object({ devices: z.object({ qube: qubeName, assign: z.array(deviceSchema).default([]), unassign: z.array(z.object(deviceRef).strict()).default([]) }).strict(), expect: expectSchema.optional() }).strict(),
  z.object({ zfs: argvField, expect: expectSchema.optional() }).strict(),
  z.object({ zpool: argvField, expect: expectSchema.optional() }).strict(),
  z.object({ 'receiver-zfs': argvField, expect: expectSchema.optional() }).strict(),
  z.object({ 'receiver-zpool': argvField, expect: expectSchema.optional() }).strict(),
  z
    .object({
      'zfs-pipe': z.object({ send: argvField, receive: argvField }).strict(),
      expect: expectSchema.optional(),
    })
    .strict(),
  z
    .object({
      'assert-replicated': z
        .object({
          'receiver-root': zfsName.optional(),
          snapshots: z.array(snapshotName).min(1, 'list at least one snapshot'),
          exact: z.boolean().default(false),
          'source-bookmarks': z.boolean().default(false),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      // The restored volume's bytes equal the backed-up snapshot's (read through a temporary clone outside the receive root).
      'assert-same-bytes': z.object({ qube: z.string(), volume: z.string(), 'receiver-snapshot': snapshotName }).strict(),
    })
    .strict(),
  z.object({ 'assert-no-partial-state': z.union([z.null(), z.object({ 'receiver-root': zfsName.optional() }).strict()]) }).strict(),
  z.object({ 'read-volume': z.object({ dataset: zfsName }).strict() }).strict(),
  z
    .object({
      'assert-content-hash': z
        .object({
          job: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a job name'),
          snapshots: z.array(snapshotName).min(1, 'list at least one snapshot'),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      'assert-nothing-destroyed': z.union([z.null(), z.object({ side: z.enum(['source', 'receiver', 'both']).default('both') }).strict()]),
    })
    .strict(),
]);

export const scenarioSchema = z
  .object({
    description: z.string().optional(),
    system: systemSchema.default({}),
    files: z.record(z.string()).default({}),
    steps: z.array(stepSchema).default([]),
  })
  .strict();

export type Expect = z.infer<typeof expectSchema>;

// ---- Normalised form (what the guest executor receives as JSON) ----

export interface NQube {
  name: string;
  class: QubeClass;
  template?: string;
  /** volume name → qubes-pool name, for every volume the qube has (kernel excluded). */
  volumePools: Record<string, string>;
  state: string;
  data: Record<string, number>;
  sizes: Record<string, number>;
  cloneOf?: string;
  /** Removed from the inventory once stopped (dynamic disposables). */
  autoCleanup?: boolean;
  /** Synthesised for the receiver qube (no volumes). */
  synthetic?: boolean;
  /** Properties, features, tags, firewall rules, devices and notes the qube starts with. */
  settings: FakeSettings;
}

/** A change of one qube's settings, as qvm-prefs / qvm-features / qvm-tags / qvm-firewall / qvm-device would make it. */
export type SettingsChange =
  | { what: 'prefs'; set: Record<string, string>; reset: string[] }
  | { what: 'features'; set: Record<string, string>; remove: string[] }
  | { what: 'tags'; add: string[]; remove: string[] }
  | { what: 'firewall'; set: string[] }
  | { what: 'devices'; assign: FakeDevice[]; unassign: { devclass: string; backend: string; port: string }[] };

export type NStep =
  | { kind: 'run'; argv: string[]; env: Record<string, string>; expect?: Expect; interrupt?: { afterBytes: number; signal: string; fromReceiver?: boolean }; fault?: { killAgentAfterBytes?: number; truncateStreamAt?: number; receiverPoolFull?: boolean; receiverShutdownAfterBytes?: number }; timeoutMs?: number }
  | { kind: 'qube'; action: 'start' | 'stop' | 'remove' | 'revert' | 'import'; qube: string; volume?: string; expect?: Expect }
  | { kind: 'write'; qube?: string; volume?: string; dataset?: string; bytes: number; offset: number; expect?: Expect }
  | { kind: 'settings'; qube: string; change: SettingsChange; expect?: Expect }
  | { kind: 'zfs' | 'zpool' | 'receiver-zfs' | 'receiver-zpool'; argv: string[]; expect?: Expect }
  | { kind: 'zfs-pipe'; send: string[]; receive: string[]; expect?: Expect }
  /** Each snapshot is on the receiver at <receiverRoot>/<snapshot> with the source's GUID (the
   *  source's bookmark of that name when the snapshot is gone); exact: and nothing else there. */
  | { kind: 'assert-replicated'; receiverRoot: string; snapshots: string[]; exact: boolean; sourceBookmarks: boolean }
  /** No receive_resume_token and no %recv dataset under receiverRoot. */
  | { kind: 'assert-no-partial-state'; receiverRoot: string }
  /** A plain read of a dom0 zvol's whole device to /dev/null (dd bs=1M): the record has ms and bytes. */
  | { kind: 'read-volume'; dataset: string }
  /** Each volume snapshot's content hash recorded in the job's state.json equals the SHA-256 (and
   *  size) of its bytes computed independently in the guest (own clone, sha256sum, blockdev). */
  | { kind: 'assert-content-hash'; job: string; snapshots: string[] }
  | { kind: 'assert-same-bytes'; qube: string; volume: string; receiverSnapshot: string }
  /** No `run` step so far made anything disappear (listings before/after each `run` step). */
  | { kind: 'assert-nothing-destroyed'; side: 'source' | 'receiver' | 'both' };

export interface NScenario {
  file: string;
  description?: string;
  release: '4.2' | '4.3';
  pools: { name: string; size: number }[];
  datasets: { name: string; type: 'filesystem' | 'volume'; size?: number; data?: number; snapshots: string[]; encrypted: boolean; properties: Record<string, string> }[];
  qubesPools: ({ name: string; driver: 'zfs'; container: string; revisionsToKeep: number } | { name: string; driver: 'file'; dirPath: string })[];
  qubes: NQube[];
  receiver?: { qube: string; pool: string; poolSize: number; dataset: string; encrypted: boolean; create: boolean };
  /** Global properties set explicitly (admin.property.GetAll shows them default=False). */
  globalPrefs: Record<string, string>;
  files: Record<string, string>;
  steps: NStep[];
  /** Some step is assert-nothing-destroyed: the executor lists both sides around every `run` step. */
  watchDestroyed?: boolean;
}

export class ScenarioError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid scenario:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

function toArgv(v: string | (string | number)[]): string[] {
  return typeof v === 'string' ? splitArgv(v) : v.map(String);
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === z.ZodIssueCode.unrecognized_keys) return `${where}: unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    if (i.code === z.ZodIssueCode.invalid_union && where.startsWith('steps.')) {
      return `${where}: not a valid step (one of run, qube, write, prefs, features, tags, firewall, devices, zfs, zpool, receiver-zfs, receiver-zpool, zfs-pipe, assert-replicated, assert-same-bytes, assert-no-partial-state, assert-nothing-destroyed, assert-content-hash, read-volume, with expect/interrupt/fault/env where allowed): ${i.unionErrors
        .map((u) => u.issues[0])
        .filter((x) => x && !(x.code === z.ZodIssueCode.unrecognized_keys || (x.code === z.ZodIssueCode.invalid_type && x.received === 'undefined')))
        .map((x) => `${x!.path.join('.')}: ${x!.message}`)
        .concat(i.unionErrors.flatMap((u) => u.issues.filter((x) => x.code === z.ZodIssueCode.unrecognized_keys).map((x) => `unknown key(s) ${(x as z.ZodUnrecognizedKeysIssue).keys.join(', ')}`)))
        .filter((s, idx, arr) => arr.indexOf(s) === idx)
        .slice(0, 4)
        .join('; ')}`;
    }
    return `${where}: ${i.message}`;
  });
}

/** Validates a parsed scenario object and returns its normalised form, or throws ScenarioError. */
export function normaliseScenario(file: string, raw: unknown): NScenario {
  const parsed = scenarioSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ScenarioError(file, formatIssues(parsed.error));
  const s = parsed.data;
  const problems: string[] = [];
  const sys = s.system;

  const qpools = new Map(sys['qubes-pools'].map((p) => [p.name, p]));
  const defaultPool = sys['qubes-pools'].find((p) => p.driver === 'zfs')?.name ?? sys['qubes-pools'][0]?.name;
  const poolNames = new Set(sys.pools.map((p) => p.name));
  const seen = new Set<string>();
  const qubes: NQube[] = [];
  for (const [i, q] of sys.qubes.entries()) {
    const at = `system.qubes.${i} (${q.name})`;
    if (seen.has(q.name)) problems.push(`${at}: duplicate qube name`);
    if (q.name === 'dom0') problems.push(`${at}: dom0 is always there; do not list it`);
    if (q.template && !seen.has(q.template)) problems.push(`${at}: template ${q.template} must be listed before it`);
    if (q['clone-of'] && !seen.has(q['clone-of'])) problems.push(`${at}: clone-of ${q['clone-of']} must be listed before it`);
    if (q['clone-of']) {
      const src = sys.qubes.find((x) => x.name === q['clone-of']);
      if (src && src.class !== q.class) problems.push(`${at}: clone-of ${src.name} is a ${src.class}, not a ${q.class}`);
    }
    const pool = q.pool ?? defaultPool;
    const vols = ['root', 'private', 'volatile'];
    const volumePools: Record<string, string> = {};
    for (const v of vols) {
      const p = q['volume-pools'][v as 'root'] ?? pool;
      if (p === undefined) {
        problems.push(`${at}: no qubes-pools defined for its volumes`);
        break;
      }
      if (!qpools.has(p)) problems.push(`${at}: pool ${p} is not in system.qubes-pools`);
      volumePools[v] = p;
    }
    for (const v of Object.keys(q.data)) {
      const persistent = v === 'private' ? q.class !== 'DispVM' : v === 'root' ? q.class === 'TemplateVM' || q.class === 'StandaloneVM' : false;
      if (!persistent) problems.push(`${at}: data.${v}: a ${q.class}'s ${v} volume is not persistent (only save_on_stop volumes take data at creation)`);
    }
    seen.add(q.name);
    qubes.push({
      name: q.name,
      class: q.class,
      ...(q.template ? { template: q.template } : {}),
      volumePools,
      state: q.state,
      data: q.data as Record<string, number>,
      sizes: q.sizes as Record<string, number>,
      ...(q['clone-of'] ? { cloneOf: q['clone-of'] } : {}),
      ...(q['auto-cleanup'] ? { autoCleanup: true } : {}),
      settings: {
        prefs: { ...q.prefs, ...(q['auto-cleanup'] && q.prefs['auto_cleanup'] === undefined ? { auto_cleanup: 'True' } : {}) },
        features: q.features,
        tags: [...new Set(q.tags)],
        firewall: q.firewall ?? null,
        devices: q.devices,
        notes: q.notes ?? '',
      },
    });
  }
  const allQubes = new Set([...sys.qubes.map((q) => q.name), ...(sys.receiver ? [sys.receiver.qube] : [])]);
  for (const [i, q] of sys.qubes.entries()) {
    for (const [k, v] of Object.entries(q.prefs)) {
      const problem = prefProblem(q.class, k, v, allQubes);
      if (problem) problems.push(`system.qubes.${i} (${q.name}): prefs.${k}: ${problem}`);
    }
    for (const [j, d] of q.devices.entries()) {
      if (d.backend !== 'dom0' && !allQubes.has(d.backend)) problems.push(`system.qubes.${i} (${q.name}): devices.${j}: backend ${d.backend} is not a qube of the scenario`);
    }
  }
  for (const [k, v] of Object.entries(sys['global-prefs'])) {
    const def = GLOBAL_PROPERTIES.find((g) => g.name === k);
    const problem = def ? valueProblem(def.type, k, v, allQubes) : `no global property ${k} (known: ${GLOBAL_PROPERTIES.map((g) => g.name).join(', ')})`;
    if (problem) problems.push(`system.global-prefs.${k}: ${problem}`);
  }
  for (const [i, d] of sys.datasets.entries()) {
    const pool = d.name.split('/')[0]!;
    if (!poolNames.has(pool)) problems.push(`system.datasets.${i} (${d.name}): pool ${pool} is not in system.pools`);
  }
  for (const [i, p] of sys['qubes-pools'].entries()) {
    if (p.driver === 'zfs' && !poolNames.has(p.container.split('/')[0]!)) problems.push(`system.qubes-pools.${i} (${p.name}): container's pool is not in system.pools`);
  }
  let receiver: NScenario['receiver'];
  if (sys.receiver) {
    const r = sys.receiver;
    if (poolNames.has(r.pool)) problems.push(`system.receiver.pool: ${r.pool} is also a dom0 pool; the receiver's pool must be separate`);
    if (r.dataset.split('/')[0] !== r.pool) problems.push(`system.receiver.dataset: ${r.dataset} is not in pool ${r.pool}`);
    receiver = { qube: r.qube, pool: r.pool, poolSize: r['pool-size'] ?? 256 * 1024 ** 2, dataset: r.dataset, encrypted: r.encrypted, create: r.create };
    const listed = qubes.find((q) => q.name === r.qube);
    if (listed) listed.state = 'Running';
    else qubes.push({ name: r.qube, class: r.class, volumePools: {}, state: 'Running', data: {}, sizes: {}, synthetic: true, settings: emptySettings() });
  }

  const steps: NStep[] = [];
  for (const [i, st] of s.steps.entries()) {
    try {
      if ('run' in st) {
        steps.push({
          kind: 'run',
          argv: toArgv(st.run),
          env: st.env,
          ...(st.expect ? { expect: st.expect } : {}),
          ...(st.interrupt
            ? {
                interrupt: st.interrupt['after-bytes'] !== undefined
                  ? { afterBytes: st.interrupt['after-bytes'], signal: st.interrupt.signal }
                  : { afterBytes: st.interrupt['after-bytes-from-receiver']!, signal: st.interrupt.signal, fromReceiver: true },
              }
            : {}),
          ...(st.fault
            ? {
                fault: {
                  ...(st.fault['kill-agent-after-bytes'] !== undefined ? { killAgentAfterBytes: st.fault['kill-agent-after-bytes'] } : {}),
                  ...(st.fault['truncate-stream-at'] !== undefined ? { truncateStreamAt: st.fault['truncate-stream-at'] } : {}),
                  ...(st.fault['receiver-pool-full'] !== undefined ? { receiverPoolFull: st.fault['receiver-pool-full'] } : {}),
                  ...(st.fault['receiver-shutdown-after-bytes'] !== undefined ? { receiverShutdownAfterBytes: st.fault['receiver-shutdown-after-bytes'] } : {}),
                },
              }
            : {}),
          ...(st['timeout-ms'] ? { timeoutMs: st['timeout-ms'] } : {}),
        });
        if ((st.interrupt || st.fault) && !receiver) problems.push(`steps.${i}: interrupt/fault need system.receiver`);
      } else if ('qube' in st) {
        const [action, target = ''] = st.qube.split(' ') as ['start' | 'stop' | 'remove' | 'revert' | 'import', string];
        const [name = '', volume] = target.split(':');
        const q = qubes.find((x) => x.name === name);
        if (!q) problems.push(`steps.${i}: qube ${name} is not in system.qubes`);
        steps.push({ kind: 'qube', action, qube: name, ...(volume ? { volume } : {}), ...(st.expect ? { expect: st.expect } : {}) });
      } else if ('prefs' in st || 'features' in st || 'tags' in st || 'firewall' in st || 'devices' in st) {
        const { change, qube } = settingsChange(st);
        const q = qubes.find((x) => x.name === qube);
        if (!q) problems.push(`steps.${i}: qube ${qube} is not in system.qubes`);
        else if (change.what === 'prefs') {
          for (const [k, v] of Object.entries(change.set)) {
            const problem = prefProblem(q.class, k, v, allQubes);
            if (problem) problems.push(`steps.${i}: prefs.set.${k}: ${problem}`);
          }
          for (const k of change.reset) {
            const problem = settableProblem(q.class, k);
            if (problem) problems.push(`steps.${i}: prefs.reset: ${problem}`);
          }
        }
        steps.push({ kind: 'settings', qube, change, ...(st.expect ? { expect: st.expect } : {}) });
      } else if ('write' in st) {
        const w = st.write;
        if ('qube' in w && !qubes.some((q) => q.name === w.qube)) problems.push(`steps.${i}: qube ${w.qube} is not in system.qubes`);
        steps.push({ kind: 'write', ...w, ...(st.expect ? { expect: st.expect } : {}) });
      } else if ('zfs-pipe' in st) {
        const send = toArgv(st['zfs-pipe'].send);
        const receive = toArgv(st['zfs-pipe'].receive);
        if (send[0] !== 'send') problems.push(`steps.${i}: zfs-pipe.send is the argv of a zfs send (starts with send)`);
        if (receive[0] !== 'receive' && receive[0] !== 'recv') problems.push(`steps.${i}: zfs-pipe.receive is the argv of a zfs receive (starts with receive)`);
        if (!receiver) problems.push(`steps.${i}: zfs-pipe needs system.receiver`);
        steps.push({ kind: 'zfs-pipe', send, receive, ...(st.expect ? { expect: st.expect } : {}) });
      } else if ('read-volume' in st) {
        steps.push({ kind: 'read-volume', dataset: st['read-volume'].dataset });
      } else if ('assert-content-hash' in st) {
        steps.push({ kind: 'assert-content-hash', job: st['assert-content-hash'].job, snapshots: st['assert-content-hash'].snapshots });
      } else if ('assert-same-bytes' in st) {
        const a = st['assert-same-bytes'];
        if (!receiver) problems.push(`steps.${i}: assert-same-bytes needs system.receiver`);
        else if (a['receiver-snapshot'].split('/')[0] !== receiver.pool) problems.push(`steps.${i}: assert-same-bytes: ${a['receiver-snapshot']} is not in the receiver's pool ${receiver.pool}`);
        steps.push({ kind: 'assert-same-bytes', qube: a.qube, volume: a.volume, receiverSnapshot: a['receiver-snapshot'] });
      } else if ('assert-replicated' in st || 'assert-no-partial-state' in st || 'assert-nothing-destroyed' in st) {
        if (!receiver) {
          problems.push(`steps.${i}: assertions about the receiver need system.receiver`);
          continue;
        }
        const rootOf = (v: { 'receiver-root'?: string | undefined } | null): string => {
          const root = v?.['receiver-root'] ?? receiver!.dataset;
          if (root.split('/')[0] !== receiver!.pool) problems.push(`steps.${i}: receiver-root ${root} is not in the receiver's pool ${receiver!.pool}`);
          return root;
        };
        if ('assert-replicated' in st) {
          const a = st['assert-replicated'];
          steps.push({ kind: 'assert-replicated', receiverRoot: rootOf(a), snapshots: a.snapshots, exact: a.exact, sourceBookmarks: a['source-bookmarks'] });
        } else if ('assert-no-partial-state' in st) {
          steps.push({ kind: 'assert-no-partial-state', receiverRoot: rootOf(st['assert-no-partial-state']) });
        } else {
          steps.push({ kind: 'assert-nothing-destroyed', side: st['assert-nothing-destroyed']?.side ?? 'both' });
        }
      } else {
        const kind = 'zfs' in st ? 'zfs' : 'zpool' in st ? 'zpool' : 'receiver-zfs' in st ? 'receiver-zfs' : 'receiver-zpool';
        const v = 'zfs' in st ? st.zfs : 'zpool' in st ? st.zpool : 'receiver-zfs' in st ? st['receiver-zfs'] : st['receiver-zpool'];
        const argv = toArgv(v);
        if (argv.length === 0) problems.push(`steps.${i}: empty ${kind} command`);
        steps.push({ kind, argv, ...(st.expect ? { expect: st.expect } : {}) });
      }
    } catch (e) {
      problems.push(`steps.${i}: ${(e as Error).message}`);
    }
  }
  for (const f of Object.keys(s.files)) {
    if (f.includes('/') || f === '.' || f === '..' || f === '') problems.push(`files: ${JSON.stringify(f)} must be a plain file name`);
  }
  if (problems.length) throw new ScenarioError(file, problems);
  return {
    file,
    ...(s.description ? { description: s.description } : {}),
    release: sys['qubes-release'],
    pools: sys.pools.map((p) => ({ name: p.name, size: p.size ?? 256 * 1024 ** 2 })),
    datasets: sys.datasets.map((d) => ({
      name: d.name,
      type: d.type,
      ...(d.size !== undefined ? { size: d.size } : {}),
      ...(d.data !== undefined ? { data: d.data } : {}),
      snapshots: d.snapshots,
      encrypted: d.encrypted,
      properties: d.properties,
    })),
    qubesPools: sys['qubes-pools'].map((p) =>
      p.driver === 'zfs' ? { name: p.name, driver: 'zfs' as const, container: p.container, revisionsToKeep: p['revisions-to-keep'] } : { name: p.name, driver: 'file' as const, dirPath: p['dir-path'] },
    ),
    qubes,
    ...(receiver ? { receiver } : {}),
    globalPrefs: sys['global-prefs'],
    files: s.files,
    steps,
    ...(steps.some((x) => x.kind === 'assert-nothing-destroyed') ? { watchDestroyed: true } : {}),
  };
}

type ParsedStep = z.infer<typeof stepSchema>;

// The settings change a prefs/features/tags/firewall/devices step makes.
function settingsChange(st: ParsedStep): { qube: string; change: SettingsChange } {
  if ('prefs' in st) return { qube: st.prefs.qube, change: { what: 'prefs', set: st.prefs.set, reset: st.prefs.reset } };
  if ('features' in st) return { qube: st.features.qube, change: { what: 'features', set: st.features.set, remove: st.features.remove } };
  if ('tags' in st) return { qube: st.tags.qube, change: { what: 'tags', add: st.tags.add, remove: st.tags.remove } };
  if ('firewall' in st) return { qube: st.firewall.qube, change: { what: 'firewall', set: st.firewall.set } };
  if ('devices' in st) {
    return { qube: st.devices.qube, change: { what: 'devices', assign: st.devices.assign, unassign: st.devices.unassign.map((u) => ({ devclass: u.class, backend: u.backend, port: u.port })) } };
  }
  throw new Error('not a settings step');
}

/** Parses YAML text (YAML 1.1 booleans, as the job files) and normalises it. */
export function parseScenarioText(file: string, text: string): NScenario {
  const doc = parseDocument(text, { version: '1.1' });
  if (doc.errors.length) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}${e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : ''}`),
    );
  }
  return normaliseScenario(file, doc.toJS());
}

export async function loadScenario(file: string): Promise<NScenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, [`cannot read: ${(e as Error).message}`]);
  }
  return parseScenarioText(file, text);
}
