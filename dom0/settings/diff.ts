// Compares two settings documents of one qube (the backup's and the live system's): every
// property, feature, tag, firewall rule, device assignment, volume field, the notes, class, label,
// template and the global properties. Pure. Values that change on their own (xid, start_time,
// stubdom_xid) are not compared.
import type { DeviceEntry, PropertyEntry, SettingsDocument } from './schema.ts';

/** Properties that change without anyone changing a setting. */
export const VOLATILE_PROPERTIES: ReadonlySet<string> = new Set(['xid', 'start_time', 'stubdom_xid']);

/** One difference; `backup` or `live` is null when that side does not have it. */
export interface SettingsChange {
  section: 'qube' | 'properties' | 'features' | 'tags' | 'firewall' | 'devices' | 'volumes' | 'notes' | 'global';
  key: string;
  backup: string | null;
  live: string | null;
}

const showProp = (p: PropertyEntry | undefined): string | null => (p ? `${p.value}${p.default ? ' (default)' : ''}` : null);

function compareProps(section: 'properties' | 'global', a: Record<string, PropertyEntry>, b: Record<string, PropertyEntry>, out: SettingsChange[]): void {
  for (const key of union(a, b)) {
    if (section === 'properties' && VOLATILE_PROPERTIES.has(key)) continue;
    const x = a[key];
    const y = b[key];
    if (x?.value === y?.value && x?.default === y?.default && x?.type === y?.type) continue;
    out.push({ section, key, backup: showProp(x), live: showProp(y) });
  }
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** A device assignment's identity (class, backend, port) and its description. */
export function deviceKey(d: DeviceEntry): string {
  return `${d.class} ${d.backend}:${d.port}`;
}

/** A device assignment's details in one line. */
export function deviceDetails(d: DeviceEntry): string {
  const opts = Object.entries(d.options).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
  return [
    ...(d.deviceId !== null && d.deviceId !== '*' ? [`device ${d.deviceId}`] : []),
    ...(d.mode !== null ? [d.mode] : []),
    ...(d.persistent !== null ? [d.persistent ? 'persistent' : 'not persistent'] : []),
    ...opts,
  ].join(', ');
}

// Every difference between the backup's document and the live one, in a stable order.
export function diffSettings(backup: SettingsDocument, live: SettingsDocument): SettingsChange[] {
  const out: SettingsChange[] = [];
  for (const key of ['class', 'label', 'template'] as const) {
    if (backup[key] !== live[key]) out.push({ section: 'qube', key, backup: backup[key], live: live[key] });
  }
  compareProps('properties', backup.properties, live.properties, out);
  for (const key of union(backup.features, live.features)) {
    if (backup.features[key] !== live.features[key]) out.push({ section: 'features', key, backup: backup.features[key] ?? null, live: live.features[key] ?? null });
  }
  for (const t of [...new Set([...backup.tags, ...live.tags])].sort()) {
    const a = backup.tags.includes(t);
    const b = live.tags.includes(t);
    if (a !== b) out.push({ section: 'tags', key: t, backup: a ? 'set' : null, live: b ? 'set' : null });
  }
  const n = Math.max(backup.firewall.length, live.firewall.length);
  for (let i = 0; i < n; i++) {
    if (backup.firewall[i] !== live.firewall[i]) out.push({ section: 'firewall', key: `rule ${i + 1}`, backup: backup.firewall[i] ?? null, live: live.firewall[i] ?? null });
  }
  const devA = new Map(backup.devices.map((d) => [deviceKey(d), deviceDetails(d)]));
  const devB = new Map(live.devices.map((d) => [deviceKey(d), deviceDetails(d)]));
  for (const key of [...new Set([...devA.keys(), ...devB.keys()])].sort()) {
    if (devA.get(key) !== devB.get(key)) out.push({ section: 'devices', key, backup: devA.get(key) ?? null, live: devB.get(key) ?? null });
  }
  for (const vol of union(backup.volumes, live.volumes)) {
    const a = backup.volumes[vol];
    const b = live.volumes[vol];
    if (!a || !b) {
      out.push({ section: 'volumes', key: vol, backup: a ? 'present' : null, live: b ? 'present' : null });
      continue;
    }
    for (const f of Object.keys(a).sort() as (keyof typeof a)[]) {
      if (a[f] !== b[f]) out.push({ section: 'volumes', key: `${vol}.${f}`, backup: String(a[f]), live: String(b[f]) });
    }
  }
  if (backup.notes !== live.notes) out.push({ section: 'notes', key: 'notes', backup: backup.notes, live: live.notes });
  compareProps('global', backup.global, live.global, out);
  return out;
}
