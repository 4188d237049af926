// `settings` as text (grouped per qube: properties set and inherited, features, tags, firewall,
// devices, volumes, notes; with --diff the changes) and as JSON. Every string shown came from
// qubesd and passed the settings schema (no control characters).
import type { SettingsResult } from '../commands/settings.ts';
import { deviceDetails, deviceKey, type SettingsChange } from '../settings/diff.ts';
import type { PropertyEntry, SettingsDocument } from '../settings/schema.ts';
import { plural, type Style } from './style.ts';

function shown(v: string): string {
  return v === '' ? '(none)' : v;
}

function props(entries: Record<string, PropertyEntry>, isDefault: boolean): string[] {
  return Object.entries(entries)
    .filter(([, p]) => p.default === isDefault)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, p]) => `${k} = ${shown(p.value)}`);
}

function section(out: string[], title: string, lines: string[], style: Style): void {
  out.push(`  ${style.bold(title)}${lines.length === 0 ? ' (none)' : ''}`);
  for (const l of lines) out.push(`    ${l}`);
}

function qubeBlock(d: SettingsDocument, sha256: string, verbose: boolean, style: Style): string[] {
  const out: string[] = [];
  out.push(style.bold(d.qube) + `  ${d.class}, label ${d.label}${d.template ? `, template ${d.template}` : ''}` + style.dim(`  (captured ${d.capturedAt}, sha256 ${sha256.slice(0, 16)}…)`));
  section(out, 'Properties set', props(d.properties, false), style);
  if (verbose) section(out, 'Properties inherited (current values)', props(d.properties, true), style);
  section(out, 'Features', Object.entries(d.features).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} = ${v === '' ? "''" : v.replace(/\n/g, '\\n')}`), style);
  section(out, 'Tags', d.tags.length ? [d.tags.join(', ')] : [], style);
  section(out, 'Firewall', d.firewall.map((r, i) => `${i + 1}. ${r}`), style);
  section(out, 'Devices', d.devices.map((x) => `${deviceKey(x)}${deviceDetails(x) ? `  (${deviceDetails(x)})` : ''}`), style);
  section(
    out,
    'Volumes',
    Object.entries(d.volumes).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) =>
      `${n}: pool ${v.pool}, ${v.size} bytes, revisions_to_keep ${v.revisionsToKeep}, ${v.rw ? 'rw' : 'ro'}${v.saveOnStop ? ', save_on_stop' : ''}${v.snapOnStart ? `, snap_on_start from ${v.source || '?'}` : ''}`),
    style,
  );
  if (d.notes !== null) section(out, 'Notes', d.notes === '' ? [] : d.notes.split('\n'), style);
  return out;
}

function changeLine(c: SettingsChange): string {
  const v = (x: string | null): string => (x === null ? '(absent)' : x === '' ? '(none)' : x.replace(/\n/g, '\\n'));
  return `${c.section}${c.section === 'notes' ? '' : ` ${c.key}`}: ${v(c.backup)} → ${v(c.live)}`;
}

// The human-readable report (inherited properties only with --verbose).
export function renderSettings(r: SettingsResult, style: Style, verbose = false): string {
  const out: string[] = [];
  if (r.qubes.length === 0) return `No settings captured for job ${r.job} (${r.label}) yet; they are captured by \`qubes-zfs-backup snapshot ${r.job}\`.\n`;
  if (r.diff) {
    out.push(`Settings of job ${r.job} at ${r.label}, compared with the live system:`);
    for (const q of r.qubes) {
      if (q.changes === 'removed') out.push(`  ${style.bold(q.qube)}: ${style.yellow('no longer exists')}`);
      else if (!q.changes || q.changes.length === 0) out.push(`  ${style.bold(q.qube)}: unchanged`);
      else {
        out.push(`  ${style.bold(q.qube)}: ${plural(q.changes.length, 'change')}`);
        for (const c of q.changes) out.push(`    ${changeLine(c)}`);
      }
    }
    return out.join('\n') + '\n';
  }
  out.push(`Settings of job ${r.job} captured at ${r.label} (${plural(r.qubes.length, 'qube')}):`, '');
  for (const q of r.qubes) out.push(...qubeBlock(q.document, q.sha256, verbose, style), '');
  const g = r.qubes[0]!.document.global;
  out.push(style.bold('Global properties set') + style.dim(` (at ${r.qubes[0]!.qube}'s capture)`));
  const set = props(g, false);
  for (const l of set.length ? set : ['(none)']) out.push(`  ${l}`);
  if (!verbose) out.push('', style.dim('Inherited (default) properties are in --json, or shown with --verbose.'));
  return out.join('\n') + '\n';
}

// The --json document.
export function settingsJson(r: SettingsResult): unknown {
  return { ok: true, job: r.job, label: r.label, diff: r.diff, qubes: r.qubes };
}
