// `restore <name> [qube…]` and `restore --list <name>`: qubes back from the backup disk, the Qubes
// way. The receiver's settings documents are read back as hostile input (strict schema, compared
// with the hash dom0 recorded), the plan is made (dom0/restore/plan.ts) and shown, then each qube
// is created and configured through the Admin API, tagged restore-in-progress with autostart off,
// and each persistent volume's bytes go from the agent's export straight into Qubes' import path
// (admin.vm.volume.ImportWithSize), SHA-256'd as they pass; dom0 never mounts, receives or parses
// them. A qube is released (tag removed, autostart restored) only after every volume is imported
// and checked; running the same command again continues an interrupted restore.
// Without metadata (dom0 reinstalled): --receiver QUBE --dataset DS instead of the job name.
import { QzbError, isQzbError } from '../../shared/errors.ts';
import { errorFinding, finding, hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { JobState } from '../metadata/types.ts';
import { parseNameList, parseVmList } from '../qubes/parse.ts';
import type { VolumeImport } from '../restore/import-volume.ts';
import type { ReceiveVolume, ReceivedVolume } from '../restore/zfs-receive.ts';
import type { ReceiverClient } from '../receiver-link/client.ts';
import { catalogue, pickBackup, type HeldBackup } from '../restore/catalog.ts';
import { planRestore, RESTORE_TAG, type LiveQube, type PlannedQube, type RestoreInput, type SettingsVerdict } from '../restore/plan.ts';
import { AdminApiError, AdminApiRefused } from '../qubes/client.ts';
import { captureDeviceClasses, detectFlavourOnAny } from '../settings/capture.ts';
import type { SettingsDocument } from '../settings/schema.ts';
import { decodeSettings } from '../settings/store.ts';
import { realCore } from './core.ts';
import { importOne, receiveOne, zfsReceivePreflight } from './restore-volume.ts';
import type { Context, ReceiverConnection } from './context.ts';

/** Options of `restore`. */
export interface RestoreOptions {
  /** The imported job, or null with receiver + dataset (no metadata). */
  name: string | null;
  receiver: string | null;
  dataset: string | null;
  qubes: string[];
  list: boolean;
  label: string | null;
  as: string | null;
  template: string | null;
  netvm: string | null;
  devices: boolean;
  acceptSettings: boolean;
  /** Receive the snapshots with dom0's own `zfs receive` (lineage kept; dom0 parses the backup qube's stream). */
  zfsReceive?: boolean;
  dryRun: boolean;
}

/** One backup in `--list`. */
export interface ListedBackup {
  qube: string;
  label: string;
  snapshot: string;
  settings: SettingsVerdict;
  /** From the settings document (null when it is not usable). */
  class: string | null;
  volumes: Array<{ name: string; snapshot: string; size: string | null }>;
}

/** One volume's outcome. */
export interface RestoredVolume {
  name: string;
  snapshot: string;
  size: string;
  bytes: string | null;
  holeBytes: string | null;
  sha256: string | null;
  /** true: matched the recorded content hash; false: did not (the qube stays tagged); null: none recorded. */
  verified: boolean | null;
  /** How the data came in: Qubes' import path, or dom0's zfs receive (--zfs-receive). */
  via: 'import' | 'zfs-receive';
  /** --zfs-receive: the stream resumed an interrupted run's partial state (bytes counts this run's). */
  resumed: boolean;
}

/** One qube's outcome. */
export interface RestoredQube {
  source: string;
  name: string;
  label: string;
  class: string;
  template: string | null;
  action: PlannedQube['action'];
  settings: SettingsVerdict;
  settingsSha256: string | null;
  /** planned (--dry-run), restored, failed (left tagged restore-in-progress), refused. */
  result: 'planned' | 'restored' | 'failed' | 'refused';
  volumes: RestoredVolume[];
  /** The checked settings document (shown before anything is created). */
  document: SettingsDocument | null;
  steps: string[];
  /** This run created the qube. */
  created: boolean;
  /** The qube exists and carries the restore-in-progress tag (set once it was tagged; cleared at release). */
  tagged: boolean;
  /** With --devices: each assignment applied (assigned), found already there (present: a re-run),
   *  refused by qubesd (failed: a warning with the qvm-device command), or planned (--dry-run). */
  devices: Array<{ what: string; result: 'planned' | 'assigned' | 'present' | 'failed' }>;
}

/** What `restore` returns (its --json document). */
export interface RestoreResult {
  job: string | null;
  receiver: string;
  dataset: string;
  list: boolean;
  dryRun: boolean;
  ok: boolean;
  backups: ListedBackup[];
  qubes: RestoredQube[];
  findings: Finding[];
}

/** Progress while a volume streams. */
export interface RestoreProgress {
  qube: string;
  volume: string;
  bytes: bigint;
  total: bigint;
  elapsedMs: number;
}

/** The adapters restore needs beyond Context.system.adminApi and send.connectReceiver. */
export interface RestoreAdapters {
  startImport(qube: string, volume: string, size: bigint): VolumeImport;
  /** --zfs-receive: one volume received by dom0's ZFS in place of the qube's fresh volume (restore/zfs-receive.ts). */
  receiveVolume?(v: ReceiveVolume, link: Pick<ReceiverClient, 'sendSnapshot'>, onProgress?: (bytes: bigint, estimate: bigint | null) => void): Promise<ReceivedVolume>;
}

type Api = (method: string, dest: string, arg?: string, payload?: string) => Promise<string>;

// Reads one backup's settings document and judges it against the record.
async function readDocument(link: ReceiverConnection, held: HeldBackup, state: JobState | null): Promise<Pick<RestoreInput, 'doc' | 'verdict' | 'problem' | 'sha256'>> {
  const got = await link.client.readSettings(held.rootSnapshot);
  if (!got) return { doc: null, verdict: 'missing', sha256: null };
  // The hash first: a copy that is not the recorded one is "altered" whether or not it parses.
  const recorded = state?.settings?.[held.label]?.[held.qube]?.sha256;
  const altered = recorded !== undefined && (got.sha256 !== recorded || got.storedSha256 !== recorded);
  let doc: SettingsDocument;
  try {
    doc = decodeSettings(got.bytes, `on ${held.rootSnapshot}`);
  } catch (e) {
    return { doc: null, verdict: altered ? 'altered' : 'invalid', problem: isQzbError(e) ? e.message : String(e), sha256: got.sha256 };
  }
  if (doc.qube !== held.qube || doc.snapshotLabel !== held.label) {
    return { doc: null, verdict: altered ? 'altered' : 'invalid', problem: `it describes ${doc.qube}${doc.snapshotLabel}, not ${held.qube}${held.label}`, sha256: got.sha256 };
  }
  return { doc, verdict: recorded === undefined ? 'unrecorded' : altered ? 'altered' : 'ok', sha256: got.sha256 };
}

// The GUID and content hash send/snapshot recorded for each volume of a backup.
function recordedFor(held: HeldBackup, state: JobState | null): RestoreInput['recorded'] {
  const out: RestoreInput['recorded'] = new Map();
  for (const v of held.volumes) {
    const t = state?.targets[`${v.sourceVid}${held.label}`];
    if (!t) continue;
    const guid = t.receivedGuid ?? t.guid;
    // `snapshot --content-hash` records it; checked again here (a hand-edited state file).
    const ch = t.contentHash;
    const contentHash = ch && typeof ch.sha256 === 'string' && /^[0-9a-f]{64}$/.test(ch.sha256) && typeof ch.bytes === 'string' && /^[0-9]{1,20}$/.test(ch.bytes)
      ? { sha256: ch.sha256, bytes: BigInt(ch.bytes) } : null;
    out.set(v.name, { guid: guid !== undefined && /^[0-9]{1,20}$/.test(guid) ? BigInt(guid) : null, contentHash });
  }
  return out;
}

async function liveQubes(api: Api, names: Iterable<string>): Promise<LiveQube[]> {
  const list = parseVmList(await api('admin.vm.List', 'dom0'));
  const want = new Set(names);
  const out: LiveQube[] = [];
  for (const q of list) {
    const tags = want.has(q.name) ? parseNameList(await api('admin.vm.tag.List', q.name)) : [];
    out.push({ name: q.name, klass: q.klass, tags });
  }
  return out;
}

// The device API of the release dom0 runs and whether it has notes, asked of a qube that exists
// (dom0 last); nulls when qubesd answers neither flavour (the plan then says what cannot be applied).
async function detectApi(api: Api, live: readonly LiveQube[]): Promise<{ devices: '4.2' | '4.3' | null; notes: boolean | null }> {
  const classes = await captureDeviceClasses(api);
  try {
    return await detectFlavourOnAny(api, [...live.map((q) => q.name).filter((n) => n !== 'dom0'), 'dom0'], classes);
  } catch (e) {
    if (isQzbError(e) && e.code === 'QUBES_API_REFUSED') return { devices: null, notes: null };
    throw e;
  }
}

/** Runs `restore` (or `restore --list`). */
export async function restore(options: RestoreOptions, ctx: Context & { restore?: RestoreAdapters }, onProgress?: (p: RestoreProgress) => void): Promise<RestoreResult> {
  const adapters = ctx.send;
  if (!adapters) throw new QzbError('SEND_UNAVAILABLE', 'restore needs the receiver adapters');
  let state: JobState | null = null;
  let receiver = options.receiver;
  let dataset = options.dataset;
  let release: (() => Promise<void>) | null = null;
  if (options.name !== null) {
    await requireMetadataDir(ctx.metadataDir);
    const store = new MetadataStore(ctx.metadataDir);
    const stored = await store.read(options.name);
    const loaded = (ctx.core ?? realCore).loadJob(stored.text);
    if (!loaded.job) throw new QzbError('JOB_INVALID', `the imported job ${options.name} cannot be read: ${loaded.findings[0]?.message ?? ''}`);
    receiver = loaded.job.receiver.qube;
    dataset = loaded.job.receiver.dataset;
    if (!options.list && !options.dryRun) {
      const lock = await store.lock(options.name, 'restore');
      release = () => lock.release();
    }
    state = (await store.read(options.name)).state;
  }
  if (receiver === null || dataset === null) throw new QzbError('USAGE', 'restore needs a job name, or --receiver QUBE and --dataset DATASET');
  const result: RestoreResult = { job: options.name, receiver, dataset, list: options.list, dryRun: options.dryRun, ok: false, backups: [], qubes: [], findings: [] };
  let link: ReceiverConnection | null = null;
  try {
    link = adapters.connectReceiver(receiver);
    const hello = await link.client.hello(dataset);
    if (!hello.receiveRoot.exists) {
      result.findings.push(finding('RECEIVE_ROOT_MISSING', 'error', `The receive root ${dataset} does not exist on the receiver qube ${receiver}: nothing is there to restore (is the backup pool imported?).`, { subject: dataset }));
      return result;
    }
    const inventory = await link.client.inventory();
    const held = catalogue(inventory);
    if (options.list) {
      for (const h of held) {
        if (options.qubes.length > 0 && !options.qubes.includes(h.qube)) continue;
        if (options.label !== null && h.label !== options.label) continue;
        const d = await readDocument(link, h, state);
        result.backups.push({
          qube: h.qube, label: h.label, snapshot: h.rootSnapshot, settings: d.verdict, class: d.doc?.class ?? null,
          volumes: h.volumes.map((v) => ({ name: v.name, snapshot: v.snapshot, size: d.doc?.volumes[v.name]?.size ?? null })),
        });
      }
      result.ok = true;
      return result;
    }
    const api = ctx.system.adminApi as Api | undefined;
    if (!api) throw new QzbError('QUBESD_UNAVAILABLE', 'restore needs the Qubes Admin API');
    const wanted = options.qubes.length > 0 ? options.qubes : [...new Set(held.map((h) => h.qube))];
    const inputs: RestoreInput[] = [];
    for (const q of wanted) {
      const h = pickBackup(held, q, options.label);
      if (!h) {
        result.findings.push(finding('RESTORE_NOT_IN_BACKUP', 'error', `The receiver holds no backup of ${q}${options.label ? ` with ${options.label}` : ''}: see restore --list.`, { subject: q }));
        continue;
      }
      inputs.push({ held: h, ...(await readDocument(link, h, state)), recorded: recordedFor(h, state) });
    }
    const targets = inputs.map((i) => options.as ?? i.held.qube);
    const live = await liveQubes(api, targets);
    const pools = parseNameList(await api('admin.pool.List', 'dom0'));
    const needDevices = options.devices && inputs.some((i) => i.doc?.devices.some((d) => d.persistent !== false));
    const needNotes = inputs.some((i) => i.doc !== null && i.doc.notes !== null && i.doc.notes !== '');
    const flavour = needDevices || needNotes ? await detectApi(api, live) : { devices: null, notes: null };
    const plan = planRestore(inputs, live, pools, {
      as: options.as, template: options.template, netvm: options.netvm, devices: options.devices, deviceApi: needDevices ? flavour.devices : null,
      notesApi: flavour.notes, acceptSettings: options.acceptSettings,
    });
    result.findings.push(...plan.findings);
    if (options.zfsReceive) {
      const encrypted = (snapshot: string): boolean => (inventory.datasets.get(snapshot.slice(0, snapshot.indexOf('@')))?.encryption ?? 'off') !== 'off';
      result.findings.push(...(await zfsReceivePreflight(api, plan.qubes, encrypted)));
    }
    const docs = new Map(inputs.map((i) => [i.held.qube, i.doc]));
    for (const p of plan.qubes) {
      result.qubes.push({
        source: p.source, name: p.name, label: p.label, class: p.klass, template: p.template, action: p.action, settings: p.settings, settingsSha256: p.sha256,
        result: p.action === 'refused' ? 'refused' : 'planned',
        volumes: p.volumes.map((v) => ({ name: v.name, snapshot: v.snapshot, size: String(v.size), bytes: null, holeBytes: null, sha256: null, verified: null, via: options.zfsReceive ? 'zfs-receive' as const : 'import' as const, resumed: false })),
        document: docs.get(p.source) ?? null,
        created: false,
        tagged: p.action === 'continue',
        devices: p.configure.filter((s) => s.device).map((s) => ({ what: s.what, result: 'planned' as const })),
        steps: [...(p.create ? [p.create.what] : []), `tag ${RESTORE_TAG}`, ...p.configure.map((s) => s.what), ...p.volumes.map((v) => `${options.zfsReceive ? 'zfs receive' : 'import'} ${v.name} (${v.size} bytes) from ${v.snapshot}`), 'release'],
      });
    }
    if (options.dryRun || hasErrors(result.findings)) {
      result.ok = options.dryRun && !hasErrors(result.findings);
      return result;
    }
    const importer = ctx.restore;
    if (!importer) throw new QzbError('IMPORT_UNAVAILABLE', 'restore needs the volume import adapter');
    if (options.zfsReceive && (!importer.receiveVolume || !link.client.sendSnapshot)) throw new QzbError('IMPORT_UNAVAILABLE', 'restore --zfs-receive needs the zfs receive adapter');
    for (const p of plan.qubes) {
      const out = result.qubes.find((q) => q.name === p.name)!;
      if (p.action === 'refused') continue;
      try {
        await restoreOne(p, out, api, link, importer, ctx, (f) => result.findings.push(f), onProgress);
      } catch (e) {
        out.result = 'failed';
        if (!isQzbError(e)) throw e;
        result.findings.push(finding(e.code, 'error', out.tagged
          ? `${p.name}: ${e.message}. ${p.name} stays tagged ${RESTORE_TAG} with autostart off: run the same restore again to continue it, or remove ${p.name} (qvm-remove) to undo it.`
          : out.created
            ? `${p.name}: ${e.message}. ${p.name} was created but could not be tagged ${RESTORE_TAG}: remove it (qvm-remove ${p.name}) before running restore again.`
            : `${p.name}: ${e.message}. ${p.name} was not created.`, { subject: p.name }));
        if (link.client.failed !== null && link.client.failed !== undefined) {
          await link.client.close().catch(() => {});
          link = adapters.connectReceiver(receiver);
          await link.client.hello(dataset);
        }
      }
    }
    result.ok = !hasErrors(result.findings) && result.qubes.every((q) => q.result === 'restored' || q.result === 'refused');
    return result;
  } catch (e) {
    if (!isQzbError(e)) throw e;
    result.findings.push(errorFinding(e));
    return result;
  } finally {
    await link?.client.close().catch(() => {});
    await release?.();
  }
}

// Creates (or continues) one qube, imports every volume, checks, releases.
async function restoreOne(
  p: PlannedQube, out: RestoredQube, api: Api, link: ReceiverConnection, importer: RestoreAdapters, ctx: Context, warn: (f: Finding) => void, onProgress?: (p: RestoreProgress) => void,
): Promise<void> {
  if (p.create) {
    ctx.notice(`restore: ${p.create.what}`);
    await api(p.create.method, 'dom0', p.create.arg, p.create.payload ?? undefined);
    out.created = true;
  }
  // The tag first: until it is removed, the qube is ours to continue and must not start.
  await api('admin.vm.tag.Set', p.name, RESTORE_TAG);
  out.tagged = true;
  for (const s of p.configure) {
    if (!s.device) {
      await api(s.method, p.name, s.arg, s.payload ?? undefined);
      continue;
    }
    // Device assignments are best-effort: the hardware may differ, and the data matters more. An
    // assignment already there (a re-run of this restore) is done.
    const o = out.devices.find((d) => d.what === s.what);
    try {
      await api(s.method, p.name, s.arg, s.payload ?? undefined);
      if (o) o.result = 'assigned';
    } catch (e) {
      if (e instanceof AdminApiError && e.excType === s.device.alreadyDone) {
        if (o) o.result = 'present';
        continue;
      }
      if (!(e instanceof AdminApiError || e instanceof AdminApiRefused)) throw e;
      if (o) o.result = 'failed';
      warn(finding('RESTORE_DEVICE_NOT_APPLIED', 'warning', `${p.name}: qubesd refused the ${s.what} assignment (${e instanceof AdminApiError ? `${e.excType}${e.excMessage ? `: ${e.excMessage}` : ''}` : 'connection closed without a reply'}); ${p.name} is restored without it: assign it by hand, e.g. ${s.device.manual}`, { subject: `${p.name}:${s.what}` }));
    }
  }
  let verifiedAll = true;
  for (const v of p.volumes) {
    const o = out.volumes.find((x) => x.name === v.name)!;
    ctx.notice(`restore: ${p.name}:${v.name} from ${v.snapshot} (${v.size} bytes)${o.via === 'zfs-receive' ? ' by zfs receive in dom0' : ''}`);
    if (o.via === 'zfs-receive') {
      await receiveOne(p, v, o, api, link, importer, warn, onProgress);
      continue;
    }
    if (!(await importOne(p, v, o, api, link, importer, onProgress))) verifiedAll = false;
  }
  if (!verifiedAll) {
    const bad = out.volumes.filter((x) => x.verified === false).map((x) => x.name);
    throw new QzbError('RESTORE_CONTENT_MISMATCH', `the data of ${bad.map((b) => `${p.name}:${b}`).join(', ')} does not have the SHA-256 recorded at snapshot time: the backup qube returned other bytes than were backed up`);
  }
  // autostart as in the backup: its explicit value, or back to the default (it was off meanwhile).
  if (p.autostart !== null) await api('admin.vm.property.Set', p.name, 'autostart', p.autostart);
  else await api('admin.vm.property.Reset', p.name, 'autostart');
  await api('admin.vm.tag.Remove', p.name, RESTORE_TAG);
  out.tagged = false;
  out.result = 'restored';
  ctx.notice(`restore: ${p.name} restored from ${p.source}${p.label}`);
}
