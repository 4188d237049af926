// `check` feedback that only qube settings make possible (pure): Qubes' own backup intent
// (`include_in_backups=True`) not covered by an include designation, and included qubes whose
// template or netvm a restore would need but the backup leaves out.
import { finding, type Finding } from '../job/findings.ts';
import type { QubesInventory } from '../inventory/types.ts';
import type { ResolvedDesignation, Target } from '../plan/types.ts';
import type { PropertyEntry } from './schema.ts';

/** What the checks read. */
export interface SettingsCheckInput {
  qubes: QubesInventory;
  designations: readonly ResolvedDesignation[];
  targets: readonly Target[];
  /** Live properties per qube (admin.vm.property.GetAll). */
  properties: ReadonlyMap<string, Record<string, PropertyEntry>>;
  /** The job's receiver qube (never a backup target, so never warned about). */
  receiverQube: string;
}

// Qubes the backup includes: those with targets, and those an include designation names.
export function includedQubes(designations: readonly ResolvedDesignation[], targets: readonly Target[]): Set<string> {
  const out = new Set<string>();
  for (const t of targets) if (t.qube) out.add(t.qube);
  for (const d of designations) if (d.designation === 'include' && d.objectType === 'qube') out.add(d.object);
  return out;
}

// The settings findings, sorted by code then qube.
export function settingsFindings(input: SettingsCheckInput): Finding[] {
  const included = includedQubes(input.designations, input.targets);
  const out: Finding[] = [];
  const designationOf = (q: string): ResolvedDesignation | undefined => input.designations.find((d) => d.objectType === 'qube' && d.object === q);
  for (const q of [...input.qubes.qubes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = input.properties.get(q.name);
    if (!p) continue;
    if (!included.has(q.name) && q.name !== input.receiverQube && p.include_in_backups?.value === 'True') {
      const d = designationOf(q.name);
      const why = d ? `it is in ${d.designation} group ${d.group}` : 'no group of the job mentions it';
      out.push(finding('BACKUP_INTENT_NOT_INCLUDED', 'warning', `Qube ${q.name} has include_in_backups=True (Qubes' own backup selection) but this backup does not include it: ${why}. Add it to an include group, or run \`qvm-prefs ${q.name} include_in_backups False\` if it needs no backup.`, { subject: q.name, pos: d?.pos }));
    }
    if (!included.has(q.name)) continue;
    const template = p.template?.value ?? '';
    if (q.klass === 'AppVM' && template !== '' && !included.has(template)) {
      out.push(finding('TEMPLATE_NOT_INCLUDED', 'info', `Qube ${q.name} is included but its template ${template} is not: restoring ${q.name} needs ${template} (or another template) on the restoring system.`, { subject: q.name, details: { template } }));
    }
    const netvm = p.netvm?.value ?? '';
    if (netvm !== '' && netvm !== 'dom0' && !included.has(netvm)) {
      out.push(finding('NETVM_NOT_INCLUDED', 'info', `Qube ${q.name} is included but its netvm ${netvm} is not: a restored ${q.name} needs ${netvm}, or another netvm set with qvm-prefs ${q.name} netvm.`, { subject: q.name, details: { netvm } }));
    }
  }
  const order = ['BACKUP_INTENT_NOT_INCLUDED', 'TEMPLATE_NOT_INCLUDED', 'NETVM_NOT_INCLUDED'];
  return out.sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code));
}
