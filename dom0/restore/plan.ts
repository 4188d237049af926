// The restore planner (pure): what the receiver holds for the requested qubes (catalog.ts), each
// qube's settings document as read back and checked (hostile input, already through the strict
// schema), and dom0's qubes now → one plan per qube (create or continue, the Admin API calls that
// configure it, the volumes to import with their recorded sizes) in dependency order, and the
// findings that stop or qualify it. Nothing is ever overwritten: a qube that exists is refused
// unless it is our own interrupted restore (tagged restore-in-progress) or `--as` names another.
import { finding, type Finding } from '../job/findings.ts';
import type { SettingsDocument } from '../settings/schema.ts';
import type { HeldBackup } from './catalog.ts';
import { planDevices } from './devices.ts';

/** The tag a qube carries from its creation until every volume is imported and checked. */
export const RESTORE_TAG = 'restore-in-progress';

/** Properties never set from a document: identity, computed, or given at creation. */
const NOT_SET = new Set(['name', 'qid', 'uuid', 'klass', 'xid', 'start_time', 'dns', 'updateable', 'label', 'template', 'stubdom_xid', 'backup_timestamp']);

/** How the settings document of one backup compares with what dom0 recorded. */
export type SettingsVerdict =
  /** Same SHA-256 as recorded at snapshot time. */
  | 'ok'
  /** On the receiver, valid, but dom0 has no record to compare (no metadata, or none for it). */
  | 'unrecorded'
  /** Not the recorded one: the copy on the backup disk was altered. */
  | 'altered'
  /** Not on the receiver. */
  | 'missing'
  /** On the receiver but not a valid document (or not this qube's). */
  | 'invalid';

/** One requested qube as the command found it. */
export interface RestoreInput {
  held: HeldBackup;
  doc: SettingsDocument | null;
  verdict: SettingsVerdict;
  /** Why the document is invalid, for the message. */
  problem?: string;
  /** The SHA-256 the document has (computed in dom0). */
  sha256: string | null;
  /** Recorded per volume name: the GUID send saw received, and the content hash, when known. */
  recorded: Map<string, { guid: bigint | null; contentHash: { sha256: string; bytes: bigint } | null }>;
}

/** A qube of dom0 now. */
export interface LiveQube {
  name: string;
  klass: string;
  tags: readonly string[];
}

/** Options that change the plan. */
export interface RestorePlanOptions {
  /** Restore the one requested qube under this name. */
  as: string | null;
  template: string | null;
  /** Use this netvm ('' for none) where the recorded one is missing. */
  netvm: string | null;
  devices: boolean;
  /** The device API of the Qubes release dom0 runs (detected by asking qubesd); null when unknown. */
  deviceApi: '4.2' | '4.3' | null;
  /** Accept a settings document whose hash differs from the recorded one. */
  acceptSettings: boolean;
  /** dom0's qubesd has the notes calls (R4.3): true, false (R4.2), or null when not asked (no notes to restore). */
  notesApi?: boolean | null;
}

/** qubesd's limit on a qube's notes (admin.vm.notes.Set), in UTF-8 bytes. */
const MAX_NOTES_BYTES = 256_000;

/** One Admin API call of the configuration (payload as sent). */
export interface AdminStep {
  method: string;
  arg: string;
  payload: string | null;
  /** What the step does, for --dry-run and errors. */
  what: string;
  /** A device assignment: applied best-effort (hardware differs after a reinstall), with the error
   *  that means it is already there (a re-run), the qube it needs, and the command to do it by hand. */
  device?: { alreadyDone: string; backend: string; manual: string };
}

/** One volume to import. */
export interface PlannedVolume {
  name: string;
  snapshot: string;
  size: bigint;
  pool: string;
  guid: bigint | null;
  /** The snapshot's GUID in the receiver's inventory (what a zfs receive in dom0 gives it). */
  receiverGuid: bigint;
  contentHash: { sha256: string; bytes: bigint } | null;
}

/** The plan for one qube. */
export interface PlannedQube {
  source: string;
  name: string;
  label: string;
  klass: string;
  template: string | null;
  /** create: a new qube; continue: our own interrupted restore of it (tagged); refused: not restored. */
  action: 'create' | 'continue' | 'refused';
  settings: SettingsVerdict;
  sha256: string | null;
  /** admin.vm.Create / CreateInPool (create only). */
  create: AdminStep | null;
  /** Properties, features, tags, firewall and, with --devices, device assignments, in order. */
  configure: AdminStep[];
  volumes: PlannedVolume[];
  /** autostart at release: the backup's explicit value, or null to reset it to its default (as it was). */
  autostart: string | null;
}

/** The whole plan. */
export interface RestorePlan {
  qubes: PlannedQube[];
  findings: Finding[];
}

const step = (method: string, arg: string, payload: string | null, what: string): AdminStep => ({ method, arg, payload, what });

/** Plans the restore of `inputs` (one per requested qube) against dom0's `live` qubes. */
export function planRestore(inputs: readonly RestoreInput[], live: readonly LiveQube[], pools: readonly string[], options: RestorePlanOptions): RestorePlan {
  const findings: Finding[] = [];
  const liveByName = new Map(live.map((q) => [q.name, q]));
  if (options.as !== null && inputs.length !== 1) {
    findings.push(finding('RESTORE_AS_NEEDS_ONE', 'error', `--as ${options.as} renames one qube, but ${inputs.length} are to be restored: name exactly one qube with --as.`));
    return { qubes: [], findings };
  }
  const restoring = new Set(inputs.map((i) => (options.as ?? i.held.qube)));
  const planned: PlannedQube[] = [];
  for (const input of inputs) {
    const { held, doc } = input;
    const name = options.as ?? held.qube;
    const base: PlannedQube = {
      source: held.qube, name, label: held.label, klass: doc?.class ?? '?', template: doc?.template ?? null, action: 'refused',
      settings: input.verdict, sha256: input.sha256, create: null, configure: [], volumes: [], autostart: null,
    };
    planned.push(base);
    const subject = `${held.qube}${held.label}`;
    if (input.verdict === 'altered' && (!options.acceptSettings || doc === null)) {
      findings.push(finding('RESTORE_SETTINGS_ALTERED', 'error', `The settings of ${held.qube} on the receiver (${held.rootSnapshot}) are not the ones dom0 recorded at snapshot time (SHA-256 ${input.sha256 ?? '?'}): the copy on the backup disk was altered. Nothing of ${held.qube} is restored.${doc !== null ? ' Check the settings shown above; to restore them anyway, run again with --accept-settings.' : ` They are not even a valid document (${input.problem ?? '?'}).`}`, { subject }));
      continue;
    }
    if (input.verdict === 'missing' || input.verdict === 'invalid' || doc === null) {
      findings.push(finding('RESTORE_SETTINGS_UNUSABLE', 'error', `The settings of ${held.qube} for ${held.label} ${input.verdict === 'missing' ? 'are not on the receiver' : `cannot be used (${input.problem ?? 'not a valid settings document'})`}: ${held.qube} cannot be restored from ${held.label} (a qube is created only from its checked settings).`, { subject }));
      continue;
    }
    if (input.verdict === 'altered') {
      findings.push(finding('RESTORE_SETTINGS_ACCEPTED', 'warning', `The settings of ${held.qube} differ from the recorded ones and are used because of --accept-settings.`, { subject }));
    }
    if (input.verdict === 'unrecorded') {
      findings.push(finding('RESTORE_SETTINGS_UNRECORDED', 'warning', `dom0 has no record of the settings of ${held.qube} for ${held.label} to compare with: they are used as the backup qube returned them (shown above; check them).`, { subject }));
    }
    const existing = liveByName.get(name);
    if (existing && !existing.tags.includes(RESTORE_TAG)) {
      findings.push(finding('RESTORE_QUBE_EXISTS', 'error', `A qube named ${name} exists: restore never overwrites one. Restore under another name with --as NEW, or remove ${name} first.`, { subject: name }));
      continue;
    }
    if (existing && existing.klass !== doc.class) {
      findings.push(finding('RESTORE_QUBE_EXISTS', 'error', `${name} is tagged ${RESTORE_TAG} but is a ${existing.klass}, not a ${doc.class}: it is not this restore's. Remove it or restore with --as NEW.`, { subject: name }));
      continue;
    }
    // The template: the recorded one, if it exists or is restored too; else --template.
    let template = doc.template;
    if (template !== null && !liveByName.has(template) && !restoring.has(template)) {
      if (options.template === null || !liveByName.has(options.template)) {
        findings.push(finding('RESTORE_TEMPLATE_MISSING', 'error', `${held.qube}'s template ${template} does not exist${options.template !== null ? `, nor does --template ${options.template}` : ''}: restore ${template} too, or choose another with --template NAME.`, { subject: name, details: { template } }));
        continue;
      }
      template = options.template;
    }
    // Persistent volumes: each must be held on the receiver for this label, with its recorded size.
    const volumes: PlannedVolume[] = [];
    let missingVolume = false;
    for (const [vname, v] of Object.entries(doc.volumes)) {
      if (!v.saveOnStop || v.snapOnStart) continue;
      const heldVol = held.volumes.find((h) => h.name === vname);
      if (!heldVol || heldVol.sourceVid !== v.vid) {
        findings.push(finding('RESTORE_VOLUME_MISSING', 'error', `The ${vname} volume of ${held.qube} (${v.vid}) is not on the receiver with ${held.label}: ${held.qube} cannot be restored from it.`, { subject: `${held.qube}:${vname}` }));
        missingVolume = true;
        continue;
      }
      const rec = input.recorded.get(vname);
      volumes.push({ name: vname, snapshot: heldVol.snapshot, size: BigInt(v.size), pool: v.pool, guid: rec?.guid ?? null, receiverGuid: heldVol.guid, contentHash: rec?.contentHash ?? null });
      if (rec?.guid !== undefined && rec.guid !== null && rec.guid !== heldVol.guid) {
        findings.push(finding('RESTORE_GUID_MISMATCH', 'error', `${heldVol.snapshot} has GUID ${heldVol.guid} on the receiver, but send recorded ${rec.guid}: it is not the snapshot that was backed up.`, { subject: heldVol.snapshot }));
        missingVolume = true;
      }
    }
    if (missingVolume) continue;
    if (volumes.length === 0) {
      findings.push(finding('RESTORE_NO_VOLUMES', 'warning', `${held.qube} has no persistent volume in the backup: only its settings are restored.`, { subject: name }));
    }
    if (volumes.some((v) => v.contentHash === null)) {
      findings.push(finding('RESTORE_CONTENT_UNVERIFIED', 'warning', `No content hash was recorded for ${volumes.filter((v) => v.contentHash === null).map((v) => `${held.qube}:${v.name}`).join(', ')} (snapshot --content-hash): the restored data is exactly as trustworthy as the backup qube.`, { subject: name }));
    }
    const configure: AdminStep[] = [];
    configure.push(step('admin.vm.property.Set', 'autostart', 'False', 'no autostart until the restore is complete'));
    const vmOk = (value: string): boolean => value === '' || value === 'dom0' || liveByName.has(value) || restoring.has(value);
    let autostart: string | null = null;
    for (const [prop, entry] of Object.entries(doc.properties).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (entry.default || NOT_SET.has(prop)) continue;
      if (prop === 'autostart') {
        autostart = entry.value;
        continue;
      }
      let value = entry.value;
      if (entry.type === 'vm' && !vmOk(value)) {
        if (prop === 'netvm' && options.netvm !== null && (options.netvm === '' || vmOk(options.netvm))) {
          value = options.netvm;
        } else if (prop === 'netvm') {
          findings.push(finding('RESTORE_NETVM_MISSING', 'error', `${held.qube}'s netvm ${value} does not exist: restore ${value} too, or choose another with --netvm NAME (--netvm none for no network).`, { subject: name, details: { netvm: value } }));
          missingVolume = true;
          continue;
        } else {
          findings.push(finding('RESTORE_PROPERTY_SKIPPED', 'warning', `${held.qube}'s ${prop} ${value} does not exist here: ${name} keeps the default ${prop}.`, { subject: `${name}.${prop}` }));
          continue;
        }
      }
      configure.push(step('admin.vm.property.Set', prop, value, `${prop} = ${value === '' ? '(none)' : value}`));
    }
    if (missingVolume) continue;
    for (const [k, v] of Object.entries(doc.features).sort(([a], [b]) => (a < b ? -1 : 1))) configure.push(step('admin.vm.feature.Set', k, v, `feature ${k} = ${v}`));
    for (const t of [...doc.tags].sort()) if (t !== RESTORE_TAG && !t.startsWith('created-by-')) configure.push(step('admin.vm.tag.Set', t, null, `tag ${t}`));
    if (doc.firewall.length > 0) configure.push(step('admin.vm.firewall.Set', '', doc.firewall.map((r) => `${r}\n`).join(''), `${doc.firewall.length} firewall rule(s)`));
    if (doc.notes !== null && doc.notes !== '') {
      const bytes = new TextEncoder().encode(doc.notes).length;
      if (options.notesApi === true && bytes <= MAX_NOTES_BYTES) configure.push(step('admin.vm.notes.Set', '', doc.notes, `notes (${bytes} bytes)`));
      else {
        findings.push(finding('RESTORE_NOTES_NOT_APPLIED', 'warning', `${held.qube}'s notes (${bytes} bytes) are not restored: ${options.notesApi === true ? `qubesd takes at most ${MAX_NOTES_BYTES} bytes` : "this dom0's qubesd has no notes calls (R4.2)"}. They are in the settings document: qubes-zfs-backup settings shows them.`, { subject: name }));
      }
    }
    const assignments = doc.devices.filter((d) => d.persistent !== false);
    if (assignments.length > 0 && !options.devices) {
      findings.push(finding('RESTORE_DEVICES_SKIPPED', 'info', `${held.qube} had ${assignments.length} device assignment(s) (${assignments.map((d) => `${d.class} ${d.backend}:${d.port}`).join(', ')}); they are not applied (hardware differs after a reinstall): pass --devices to apply them, or assign them with qvm-device.`, { subject: name }));
    } else if (assignments.length > 0 && options.deviceApi === null) {
      findings.push(finding('RESTORE_DEVICE_NOT_APPLIED', 'warning', `${name}: qubesd answers neither R4.2's nor R4.3's device calls, so ${assignments.map((d) => `${d.class} ${d.backend}:${d.port}`).join(', ')} cannot be applied: assign them with qvm-device.`, { subject: name }));
    } else if (assignments.length > 0 && options.deviceApi !== null) {
      const dev = planDevices(assignments, name, options.deviceApi, (b) => liveByName.has(b) || restoring.has(b));
      findings.push(...dev.findings);
      for (const d of dev.steps) configure.push({ method: d.method, arg: d.arg, payload: d.payload, what: d.what, device: { alreadyDone: d.alreadyDone, backend: d.backend, manual: d.manual } });
    }
    // qubesadmin's add_new_vm: pool:<volume>=<pool> in volume order (CreateInPool).
    const poolArgs = volumes.filter((v) => pools.includes(v.pool)).sort((a, b) => (a.name < b.name ? -1 : 1)).map((v) => `pool:${v.name}=${v.pool}`);
    const createArgs = [`name=${name}`, `label=${doc.label}`, ...poolArgs].join(' ');
    Object.assign(base, {
      action: existing ? 'continue' : 'create',
      template,
      create: existing ? null : step(poolArgs.length > 0 ? `admin.vm.CreateInPool.${doc.class}` : `admin.vm.Create.${doc.class}`, template ?? '', createArgs, `create ${doc.class} ${name}${template ? ` from ${template}` : ''}`),
      configure,
      volumes,
      autostart,
    } satisfies Partial<PlannedQube>);
  }
  return { qubes: dependencyOrder(planned), findings };
}

/** Templates and netvms that are restored too come before the qubes that use them. */
function dependencyOrder(qubes: PlannedQube[]): PlannedQube[] {
  const byName = new Map(qubes.map((q) => [q.name, q]));
  const deps = (q: PlannedQube): string[] => {
    const out: string[] = [];
    if (q.template && byName.has(q.template)) out.push(q.template);
    for (const s of q.configure) if (s.method === 'admin.vm.property.Set' && s.payload && byName.has(s.payload) && s.payload !== q.name) out.push(s.payload);
    for (const s of q.configure) if (s.device && byName.has(s.device.backend) && s.device.backend !== q.name) out.push(s.device.backend);
    return out;
  };
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: PlannedQube[] = [];
  const visit = (q: PlannedQube): void => {
    if (done.has(q.name) || visiting.has(q.name)) return;
    visiting.add(q.name);
    for (const d of deps(q)) visit(byName.get(d)!);
    visiting.delete(q.name);
    done.add(q.name);
    out.push(q);
  };
  for (const q of qubes) visit(q);
  return out;
}
