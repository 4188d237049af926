// Captures qube settings through the Admin API only: admin.vm.property.GetAll, feature.List/Get,
// tag.List, firewall.Get, deviceclass.List and per class R4.2's device.<class>.List or R4.3's
// device.<class>.Assigned, volume.List/Info, R4.3's notes.Get, and admin.property.GetAll once.
// Which flavour the release speaks is found by asking: qubesd closes the connection without a
// reply for a method it does not have (AdminApiRefused).
import { QzbError } from '../../shared/errors.ts';
import { mapLimit, ADMIN_API_CONCURRENCY } from '../inventory/collect-qubes.ts';
import { AdminApiError, AdminApiRefused } from '../qubes/client.ts';
import { parseBool, parseIntField, parseKeyValues, parseNameList } from '../qubes/parse.ts';
import {
  checkText, parseDeviceAssigned43, parseDeviceClasses, parseDeviceList42, parseFeatureNames, parseFeatureValue, parseFirewall,
  parsePropertyGetAll, parseTags,
} from './parse.ts';
import {
  SETTINGS_FORMAT, SETTINGS_LIMITS, SETTINGS_VERSION, settingsDocumentSchema,
  type DeviceEntry, type PropertyEntry, type SettingsDocument, type VolumeEntry,
} from './schema.ts';

/** One Admin API call (adminCall with the CLI's options bound). */
export type AdminApi = (method: string, dest: string, arg?: string) => Promise<string>;

/** Which Admin API flavour answered (R4.2 or R4.3 device API; notes or not). */
export interface ApiFlavour {
  devices: '4.2' | '4.3';
  notes: boolean;
}

// True when `p` fails because qubesd has no such method (or refused it).
async function refused(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (e) {
    if (e instanceof AdminApiRefused) return true;
    throw e;
  }
}

// Finds out which device API and whether notes exist, by asking about one qube.
export async function detectFlavour(api: AdminApi, qube: string, classes: readonly string[]): Promise<ApiFlavour> {
  const notes = !(await refused(api('admin.vm.notes.Get', qube)));
  let devices: ApiFlavour['devices'] = notes ? '4.3' : '4.2';
  const cls = classes[0];
  if (cls !== undefined) {
    if (!(await refused(api(`admin.vm.device.${cls}.Assigned`, qube)))) devices = '4.3';
    else if (!(await refused(api(`admin.vm.device.${cls}.List`, qube)))) devices = '4.2';
    else throw new QzbError('QUBES_API_REFUSED', `qubesd answers neither admin.vm.device.${cls}.Assigned (R4.3) nor admin.vm.device.${cls}.List (R4.2) for ${qube}`, { hint: 'See journalctl -u qubesd.' });
  }
  return { devices, notes };
}

// detectFlavour on the first of `qubes` that exists (a removed qube must not fail the others).
export async function detectFlavourOnAny(api: AdminApi, qubes: readonly string[], classes: readonly string[]): Promise<ApiFlavour> {
  let last: unknown;
  for (const q of qubes) {
    try {
      return await detectFlavour(api, q, classes);
    } catch (e) {
      if (!(e instanceof AdminApiError && e.excType === 'QubesVMNotFoundError')) throw e;
      last = e;
    }
  }
  throw last;
}

// Reads the global properties (admin.property.GetAll).
export async function captureGlobal(api: AdminApi): Promise<Record<string, PropertyEntry>> {
  return parsePropertyGetAll(await api('admin.property.GetAll', 'dom0'), 'admin.property.GetAll');
}

// Reads the device classes once (admin.deviceclass.List).
export async function captureDeviceClasses(api: AdminApi): Promise<string[]> {
  return parseDeviceClasses(await api('admin.deviceclass.List', 'dom0'));
}

function volumeEntry(info: Record<string, string>, where: string): VolumeEntry {
  const size = info.size ?? '';
  if (!/^[0-9]{1,20}$/.test(size)) throw new QzbError('QUBES_API_PROTOCOL', `unexpected Admin API reply (${where}): size is ${JSON.stringify(size.slice(0, 40))}`);
  return {
    pool: checkText(info.pool ?? '', SETTINGS_LIMITS.name, `${where} pool`),
    vid: checkText(info.vid ?? '', SETTINGS_LIMITS.propertyValue, `${where} vid`),
    size,
    rw: parseBool(info.rw, 'rw'),
    saveOnStop: parseBool(info.save_on_stop, 'save_on_stop'),
    snapOnStart: parseBool(info.snap_on_start, 'snap_on_start'),
    source: checkText(info.source ?? '', SETTINGS_LIMITS.propertyValue, `${where} source`),
    revisionsToKeep: parseIntField(info.revisions_to_keep, 'revisions_to_keep'),
    ephemeral: info.ephemeral === undefined ? null : parseBool(info.ephemeral, 'ephemeral'),
  };
}

/** What one capture run shares between qubes. */
export interface CaptureShared {
  global: Record<string, PropertyEntry>;
  classes: string[];
  flavour: ApiFlavour;
  snapshotLabel: string;
  now: Date;
}

// Captures one qube's settings document (validated against the schema before it is returned).
export async function captureQube(api: AdminApi, qube: string, shared: CaptureShared): Promise<SettingsDocument> {
  const properties = parsePropertyGetAll(await api('admin.vm.property.GetAll', qube), `admin.vm.property.GetAll on ${qube}`);
  const featureNames = parseFeatureNames(await api('admin.vm.feature.List', qube), `admin.vm.feature.List on ${qube}`);
  const features: Record<string, string> = {};
  for (const f of featureNames) features[f] = parseFeatureValue(await api('admin.vm.feature.Get', qube, f), `admin.vm.feature.Get ${f} on ${qube}`);
  const tags = parseTags(await api('admin.vm.tag.List', qube), `admin.vm.tag.List on ${qube}`);
  const firewall = parseFirewall(await api('admin.vm.firewall.Get', qube), `admin.vm.firewall.Get on ${qube}`);
  const devices: DeviceEntry[] = [];
  for (const cls of shared.classes) {
    const method = shared.flavour.devices === '4.3' ? `admin.vm.device.${cls}.Assigned` : `admin.vm.device.${cls}.List`;
    const payload = await api(method, qube);
    devices.push(...(shared.flavour.devices === '4.3' ? parseDeviceAssigned43(payload, cls, `${method} on ${qube}`) : parseDeviceList42(payload, cls, `${method} on ${qube}`)));
  }
  const volumes: Record<string, VolumeEntry> = {};
  for (const v of parseNameList(await api('admin.vm.volume.List', qube))) {
    if (!/^[a-z0-9_-]{1,64}$/.test(v)) throw new QzbError('QUBES_API_PROTOCOL', `unexpected Admin API reply (admin.vm.volume.List on ${qube}): volume ${JSON.stringify(v.slice(0, 40))}`);
    volumes[v] = volumeEntry(parseKeyValues(await api('admin.vm.volume.Info', qube, v)), `admin.vm.volume.Info ${v} on ${qube}`);
  }
  const notes = shared.flavour.notes ? checkText(await api('admin.vm.notes.Get', qube), SETTINGS_LIMITS.notes, `admin.vm.notes.Get on ${qube}`, true) : null;
  const doc = {
    format: SETTINGS_FORMAT,
    version: SETTINGS_VERSION,
    qube,
    snapshotLabel: shared.snapshotLabel,
    capturedAt: shared.now.toISOString(),
    api: shared.flavour,
    class: properties.klass?.value ?? '',
    label: properties.label?.value ?? '',
    template: properties.template?.value ? properties.template.value : null,
    properties,
    features,
    tags,
    firewall,
    devices,
    volumes,
    notes,
    global: shared.global,
  };
  const parsed = settingsDocumentSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new QzbError('QUBES_API_PROTOCOL', `the settings of ${qube} from qubesd do not make a valid document (${i?.path.join('.') ?? ''}: ${i?.message ?? ''})`);
  }
  return parsed.data;
}

// Captures the documents of several qubes (shared calls once; bounded concurrency); throws on the
// first failure.
export async function captureSettings(api: AdminApi, qubes: readonly string[], snapshotLabel: string, now: Date): Promise<Map<string, SettingsDocument>> {
  const out = new Map<string, SettingsDocument>();
  for (const [q, r] of await captureSettingsEach(api, qubes, snapshotLabel, now)) {
    if (r instanceof QzbError) throw r;
    out.set(q, r);
  }
  return out;
}

// Like captureSettings, but one qube's failure (an Admin API error, a reply refused) is its own
// result and the others are still captured; a failure of the shared calls fails every qube.
export async function captureSettingsEach(api: AdminApi, qubes: readonly string[], snapshotLabel: string, now: Date): Promise<Map<string, SettingsDocument | QzbError>> {
  const out = new Map<string, SettingsDocument | QzbError>();
  if (qubes.length === 0) return out;
  let shared: CaptureShared;
  try {
    const [global, classes] = await Promise.all([captureGlobal(api), captureDeviceClasses(api)]);
    shared = { global, classes, flavour: await detectFlavourOnAny(api, qubes, classes), snapshotLabel, now };
  } catch (e) {
    if (!(e instanceof QzbError)) throw e;
    for (const q of qubes) out.set(q, e);
    return out;
  }
  const docs = await mapLimit(qubes, ADMIN_API_CONCURRENCY, (q) => captureQube(api, q, shared).catch((e: unknown) => {
    if (e instanceof QzbError) return e;
    throw e;
  }));
  qubes.forEach((q, i) => out.set(q, docs[i]!));
  return out;
}
