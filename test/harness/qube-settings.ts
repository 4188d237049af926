// The fake qubesd's qube settings: properties (qvm-prefs), global properties, features, tags,
// firewall rules, device assignments and notes, answered in the real Admin API wire formats of
// R4.2 and R4.3 (qubes-core-admin qubes/api/admin.py, qubes/firewall.py, qubes/device_protocol.py;
// research qubes-facts §2.4). Pure: the scenario loader validates with it and qubesd.ts answers
// with it.

/** Qubes' labels (qubes.xml of a fresh install). */
export const LABELS = ['red', 'orange', 'yellow', 'green', 'gray', 'blue', 'purple', 'black'] as const;

/** The property types the Admin API reports (`_serialize_property`). */
export type PropType = 'str' | 'int' | 'bool' | 'vm' | 'label';

/** Assignment modes (R4.3 `AssignmentMode`); R4.2 lists every assignment as `persistent=yes`. */
export const DEVICE_MODES = ['required', 'auto-attach', 'ask-to-attach'] as const;
export const DEVICE_CLASSES = ['pci', 'block', 'usb'] as const;

export interface FakeDevice {
  devclass: (typeof DEVICE_CLASSES)[number];
  backend: string;
  /** The port id as Qubes shows it, e.g. `00_14.0` (pci) or `sda` (block). */
  port: string;
  /** R4.3 device identity; `*` matches any device on the port. */
  deviceId: string;
  mode: (typeof DEVICE_MODES)[number];
  options: Record<string, string>;
}

/** What a qube has beyond its volumes; prefs holds only the non-default values (as qubes.xml). */
export interface FakeSettings {
  prefs: Record<string, string>;
  features: Record<string, string>;
  tags: string[];
  /** Rules in admin.vm.firewall.Get order and format; null = no firewall.xml (accept everything). */
  firewall: string[] | null;
  devices: FakeDevice[];
  notes: string;
}

export function emptySettings(): FakeSettings {
  return { prefs: {}, features: {}, tags: [], firewall: null, devices: [], notes: '' };
}

/** What a default value may depend on. */
export interface PropContext {
  name: string;
  klass: string;
  state: string;
  qid: number;
  settings: FakeSettings;
  globals: Record<string, string>;
}

interface PropDef {
  name: string;
  type: PropType;
  /** Classes that have the property (all when absent). */
  classes?: readonly string[];
  /** Always explicitly set (default=False), e.g. name, label, template. */
  fixed?: boolean;
  /** qvm-prefs refuses to change it (write-once or computed). */
  readOnly?: boolean;
  /** The value when not set ('' = None or unset). */
  value: (c: PropContext) => string;
}

const APP_LIKE = ['AppVM', 'DispVM'];
const HAS_NET = (c: PropContext): boolean => (c.settings.prefs['netvm'] ?? defaultNetvm(c)) !== '';

function defaultNetvm(c: PropContext): string {
  if ((c.settings.prefs['provides_network'] ?? 'False') === 'True') return '';
  if (c.klass === 'TemplateVM') return '';
  return c.globals['default_netvm'] ?? '';
}

/** Every VM property the fake knows, by name (a subset of R4.2/R4.3's, with the same types). */
export const VM_PROPERTIES: readonly PropDef[] = [
  { name: 'audiovm', type: 'vm', value: (c) => c.globals['default_audiovm'] ?? '' },
  { name: 'auto_cleanup', type: 'bool', classes: ['DispVM'], value: () => 'False' },
  { name: 'autostart', type: 'bool', value: () => 'False' },
  { name: 'backup_timestamp', type: 'int', value: () => '' },
  { name: 'debug', type: 'bool', value: () => 'False' },
  { name: 'default_dispvm', type: 'vm', value: (c) => c.globals['default_dispvm'] ?? '' },
  { name: 'default_user', type: 'str', value: () => 'user' },
  { name: 'dns', type: 'str', readOnly: true, value: (c) => (HAS_NET(c) ? '10.139.1.1 10.139.1.2' : '') },
  { name: 'guivm', type: 'vm', value: (c) => c.globals['default_guivm'] ?? '' },
  { name: 'include_in_backups', type: 'bool', value: (c) => (c.klass === 'DispVM' ? 'False' : 'True') },
  { name: 'installed_by_rpm', type: 'bool', value: () => 'False' },
  { name: 'ip', type: 'str', value: (c) => (HAS_NET(c) ? `10.137.0.${c.qid + 1}` : '') },
  { name: 'kernel', type: 'str', value: (c) => c.globals['default_kernel'] ?? '' },
  // The kernel's default-kernelopts files: a qube with PCI devices gets "iommu=soft swiotlb=8192".
  { name: 'kernelopts', type: 'str', value: (c) => (c.settings.devices.some((d) => d.devclass === 'pci') ? 'iommu=soft swiotlb=8192' : 'swiotlb=2048') },
  { name: 'keyboard_layout', type: 'str', value: () => 'us++' },
  { name: 'klass', type: 'str', readOnly: true, value: (c) => c.klass },
  { name: 'label', type: 'label', fixed: true, value: (c) => (c.klass === 'TemplateVM' ? 'black' : c.klass === 'DispVM' ? 'red' : 'red') },
  { name: 'management_dispvm', type: 'vm', value: (c) => c.globals['management_dispvm'] ?? '' },
  { name: 'maxmem', type: 'int', value: () => '4000' },
  { name: 'memory', type: 'int', value: () => '400' },
  { name: 'name', type: 'str', fixed: true, readOnly: true, value: (c) => c.name },
  { name: 'netvm', type: 'vm', value: defaultNetvm },
  { name: 'provides_network', type: 'bool', value: () => 'False' },
  { name: 'qid', type: 'int', fixed: true, readOnly: true, value: (c) => String(c.qid) },
  { name: 'qrexec_timeout', type: 'int', value: (c) => c.globals['default_qrexec_timeout'] ?? '60' },
  { name: 'shutdown_timeout', type: 'int', value: (c) => c.globals['default_shutdown_timeout'] ?? '60' },
  { name: 'start_time', type: 'str', readOnly: true, value: (c) => (c.state === 'Halted' ? '' : '1764650000.5') },
  { name: 'template', type: 'vm', classes: APP_LIKE, fixed: true, value: () => '' },
  { name: 'template_for_dispvms', type: 'bool', classes: ['AppVM', 'StandaloneVM'], value: () => 'False' },
  { name: 'updateable', type: 'bool', readOnly: true, value: (c) => (c.klass === 'TemplateVM' || c.klass === 'StandaloneVM' ? 'True' : 'False') },
  { name: 'uuid', type: 'str', fixed: true, readOnly: true, value: () => '' },
  { name: 'vcpus', type: 'int', value: () => '2' },
  { name: 'virt_mode', type: 'str', value: (c) => (c.settings.devices.some((d) => d.devclass === 'pci') ? 'hvm' : 'pvh') },
  { name: 'xid', type: 'int', readOnly: true, value: (c) => (c.state === 'Halted' ? '-1' : String(10 + c.qid)) },
];

/** Global properties (admin.property.GetAll), with the fake's defaults. */
export const GLOBAL_PROPERTIES: readonly { name: string; type: PropType; value: string }[] = [
  { name: 'check_updates_vm', type: 'bool', value: 'True' },
  { name: 'clockvm', type: 'vm', value: '' },
  { name: 'default_audiovm', type: 'vm', value: 'dom0' },
  { name: 'default_dispvm', type: 'vm', value: '' },
  { name: 'default_guivm', type: 'vm', value: 'dom0' },
  { name: 'default_kernel', type: 'str', value: '6.6.63-1.qubes.fc37' },
  { name: 'default_netvm', type: 'vm', value: '' },
  { name: 'default_pool', type: 'str', value: '' },
  { name: 'default_qrexec_timeout', type: 'int', value: '60' },
  { name: 'default_shutdown_timeout', type: 'int', value: '60' },
  { name: 'default_template', type: 'vm', value: '' },
  { name: 'management_dispvm', type: 'vm', value: '' },
  { name: 'stats_interval', type: 'int', value: '3' },
  { name: 'updatevm', type: 'vm', value: '' },
];

/** The properties a qube of this class has. */
export function propertiesOf(klass: string): PropDef[] {
  return VM_PROPERTIES.filter((p) => !p.classes || p.classes.includes(klass));
}

/** Why `value` cannot be given to property `name` of a `klass` qube, or null. `qubes` are the
 *  qube names a `vm` property may name ('' is None). */
export function prefProblem(klass: string, name: string, value: string, qubes: ReadonlySet<string>): string | null {
  return settableProblem(klass, name) ?? valueProblem(propertiesOf(klass).find((p) => p.name === name)!.type, name, value, qubes);
}

/** Why qvm-prefs cannot set (or reset) property `name` of a `klass` qube, or null. */
export function settableProblem(klass: string, name: string): string | null {
  const def = propertiesOf(klass).find((p) => p.name === name);
  if (!def) return `a ${klass} has no property ${name}`;
  if (def.readOnly) return `property ${name} cannot be set`;
  return null;
}

/** Why `value` is not a valid value of type `type`, or null. */
export function valueProblem(type: PropType, name: string, value: string, qubes: ReadonlySet<string>): string | null {
  if (type === 'int' && !/^-?[0-9]+$/.test(value)) return `${name} takes a whole number, not ${JSON.stringify(value)}`;
  if (type === 'bool' && value !== 'True' && value !== 'False') return `${name} takes true or false, not ${JSON.stringify(value)}`;
  if (type === 'label' && !(LABELS as readonly string[]).includes(value)) return `${name} takes one of ${LABELS.join(', ')}`;
  if (type === 'vm' && value !== '' && value !== 'dom0' && !qubes.has(value)) return `${name}: no qube named ${JSON.stringify(value)}`;
  if (/[\n\0]/.test(value)) return `${name}: a value cannot hold a line break`;
  return null;
}

/** One property as the fake reports it. */
export interface PropValue {
  name: string;
  type: PropType;
  isDefault: boolean;
  value: string;
}

/** Every property of a qube, sorted by name (fixed ones are never default). */
export function propertyValues(c: PropContext, fixedValues: Record<string, string>): PropValue[] {
  return propertiesOf(c.klass)
    .map((p) => {
      const set = c.settings.prefs[p.name];
      if (p.fixed) return { name: p.name, type: p.type, isDefault: false, value: set ?? fixedValues[p.name] ?? p.value(c) };
      return set !== undefined ? { name: p.name, type: p.type, isDefault: false, value: set } : { name: p.name, type: p.type, isDefault: true, value: p.value(c) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The global properties with the scenario's overrides. */
export function globalValues(defaults: Record<string, string>, set: Record<string, string>): PropValue[] {
  return GLOBAL_PROPERTIES.map((g) =>
    set[g.name] !== undefined ? { name: g.name, type: g.type, isDefault: false, value: set[g.name]! } : { name: g.name, type: g.type, isDefault: true, value: defaults[g.name] ?? g.value },
  );
}

/** `name default=True|False type=T value` per line, `\` and newlines escaped (`_property_get_all`). */
export function formatGetAll(values: readonly PropValue[]): string {
  return values.map((v) => `${v.name} ${formatGet(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`).join('');
}

/** One property as admin.vm.property.Get answers it. */
export function formatGet(v: PropValue): string {
  return `default=${v.isDefault ? 'True' : 'False'} type=${v.type} ${v.value}`;
}

// ---- firewall ----
const FIREWALL_ORDER = ['action', 'expire', 'dsthost', 'proto', 'specialtarget', 'dstports', 'icmptype'];
const RULE_VALUE = /^[A-Za-z0-9:;,./\-_[\]]+$/;

/** A rule as admin.vm.firewall.Get prints it (options in qubes' order, comment last), or an error. */
export function normaliseFirewallRule(rule: string): { rule?: string; problem?: string } {
  const [options, , comment] = partition(rule.trim(), 'comment=');
  const kv = new Map<string, string>();
  for (const part of options.split(' ').filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq) : part;
    const value = eq > 0 ? part.slice(eq + 1) : '';
    if (!FIREWALL_ORDER.includes(key)) return { problem: `unknown firewall option ${JSON.stringify(key)} (known: ${[...FIREWALL_ORDER, 'comment'].join(', ')})` };
    if (!RULE_VALUE.test(value)) return { problem: `firewall option ${key}: strange characters in rule` };
    if (kv.has(key)) return { problem: `firewall option ${key} given twice` };
    kv.set(key, value);
  }
  const action = kv.get('action');
  if (action !== 'accept' && action !== 'drop') return { problem: 'a firewall rule needs action=accept or action=drop' };
  const proto = kv.get('proto');
  if (proto !== undefined && !['tcp', 'udp', 'icmp'].includes(proto)) return { problem: `proto must be tcp, udp or icmp` };
  if (kv.has('dstports') && proto !== 'tcp' && proto !== 'udp') return { problem: "dstports valid only for 'tcp' and 'udp' protocols" };
  if (kv.has('icmptype') && proto !== 'icmp') return { problem: "icmptype valid only for 'icmp' protocol" };
  if (comment !== undefined && /[\n\0]/.test(comment)) return { problem: 'strange characters comment' };
  const parts = FIREWALL_ORDER.filter((k) => kv.has(k)).map((k) => `${k}=${kv.get(k)!}`);
  if (comment !== undefined && comment !== '') parts.push(`comment=${comment}`);
  return { rule: parts.join(' ') };
}

function partition(s: string, sep: string): [string, string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, '', undefined] : [s.slice(0, i), sep, s.slice(i + sep.length)];
}

/** admin.vm.firewall.Get: one rule per line; no firewall.xml means the single rule action=accept. */
export function formatFirewall(rules: readonly string[] | null): string {
  return (rules ?? ['action=accept']).map((r) => `${r}\n`).join('');
}

// ---- devices ----
/** R4.2 admin.vm.device.<class>.List: `<backend>+<ident> opt=value … persistent=yes`, sorted. */
export function formatDeviceList42(devices: readonly FakeDevice[], devclass: string): string {
  const rows = devices
    .filter((d) => d.devclass === devclass)
    .map((d) => {
      const opts = [...Object.entries(d.options).map(([k, v]) => `${k}=${v}`), 'persistent=yes'];
      return [`${d.backend}+${d.port}`, `${d.backend}+${d.port} ${opts.join(' ')}\n`] as const;
    });
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((r) => r[1]).join('');
}

const quote43 = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;

/** R4.3 admin.vm.device.<class>.Assigned: `<backend>+<port>:<device_id> device_id='…' port_id='…'
 *  devclass='…' backend_domain='…' mode='…' frontend_domain='…' _<option>='…'`, sorted. */
export function formatDeviceAssigned43(devices: readonly FakeDevice[], devclass: string, frontend: string): string {
  const rows = devices
    .filter((d) => d.devclass === devclass)
    .map((d) => {
      const key = `${d.backend}+${d.port}:${d.deviceId}`;
      const props: [string, string][] = [
        ['device_id', d.deviceId],
        ['port_id', d.port],
        ['devclass', d.devclass],
        ['backend_domain', d.backend],
        ['mode', d.mode],
        ['frontend_domain', frontend],
        ...Object.entries(d.options).map(([k, v]): [string, string] => [`_${k}`, v]),
      ];
      return [key, `${key} ${props.map(([k, v]) => `${k}=${quote43(v)}`).join(' ')}\n`] as const;
    });
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((r) => r[1]).join('');
}

/** Python's str(bool)-style feature values: true → "1", false → "" (qubes/features.py). */
export function featureValue(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? '1' : '';
  return String(v);
}

/** Python's str() of a YAML value given to qvm-prefs (booleans True/False, null = none). */
export function prefValue(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** qubes.vm.Tags.validate_tag: ASCII letters, digits, `-` and `_`. */
export const TAG_RE = /^[A-Za-z0-9_-]+$/;
