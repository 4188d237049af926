// Pure parsers for the Admin API replies that make up a settings document, each value checked
// (length, characters) before it is kept. Formats from qubes-core-admin qubes/api/admin.py
// (`_property_get_all`, `vm_feature_list`, `vm_tag_list`, `vm_firewall_get`, `vm_device_list`) and
// qubes/device_protocol.py (R4.3 `DeviceAssignment.serialize`).
import { QzbError } from '../../shared/errors.ts';
import {
  DEVICE_ID_RE, DEVICE_TOKEN_RE, FEATURE_NAME_RE, PROPERTY_NAME_RE, QUBE_NAME_RE, SETTINGS_LIMITS, TAG_RE, textProblem,
  type DeviceEntry, type PropertyEntry,
} from './schema.ts';

function bad(what: string, detail: string): QzbError {
  return new QzbError('QUBES_API_PROTOCOL', `unexpected Admin API reply (${what}): ${detail}`, {
    hint: 'qubesd returned something this tool does not accept; nothing was stored. Please report it with the output of the qvm-* command that shows it.',
  });
}

// Checks one string against the settings limits; throws naming where it came from.
export function checkText(s: string, max: number, where: string, multiline = false): string {
  const problem = textProblem(s, max, multiline);
  if (problem) throw bad(where, problem);
  return s;
}

function lines(payload: string): string[] {
  return payload.split('\n').filter((l) => l.length > 0);
}

function limit<T>(items: T[], max: number, where: string): T[] {
  if (items.length > max) throw bad(where, `more than ${max} entries`);
  return items;
}

// Undoes `_property_get_all`'s escaping: `\\` → `\`, `\n` → newline.
function unescapeValue(s: string, where: string): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw bad(where, 'a backslash that is not \\\\ or \\n');
  });
}

/** admin.vm.property.GetAll / admin.property.GetAll: `name default=True|False type=T value` lines. */
export function parsePropertyGetAll(payload: string, where: string): Record<string, PropertyEntry> {
  const out: Record<string, PropertyEntry> = {};
  for (const line of limit(lines(payload), SETTINGS_LIMITS.properties, where)) {
    const m = /^([^ ]+) default=(True|False) type=(str|int|bool|vm|label) (.*)$/s.exec(line);
    if (!m) throw bad(where, `not a property line: ${JSON.stringify(line.slice(0, 120))}`);
    const [, name = '', def, type, raw = ''] = m;
    if (!PROPERTY_NAME_RE.test(name)) throw bad(where, `invalid property name ${JSON.stringify(name.slice(0, 80))}`);
    if (name in out) throw bad(where, `property ${name} listed twice`);
    const value = checkText(unescapeValue(raw, `${where} ${name}`), SETTINGS_LIMITS.propertyValue, `${where} property ${name}`, true);
    if (type === 'bool' && value !== 'True' && value !== 'False' && value !== '') throw bad(where, `bool property ${name} is ${JSON.stringify(value)}`);
    if (type === 'int' && value !== '' && !/^-?[0-9]{1,20}$/.test(value)) throw bad(where, `int property ${name} is ${JSON.stringify(value.slice(0, 40))}`);
    if (type === 'vm' && value !== '' && !QUBE_NAME_RE.test(value)) throw bad(where, `vm property ${name} is ${JSON.stringify(value.slice(0, 40))}`);
    out[name] = { type: type as PropertyEntry['type'], default: def === 'True', value };
  }
  return out;
}

/** admin.vm.feature.List: one feature name per line. */
export function parseFeatureNames(payload: string, where: string): string[] {
  const names = limit(lines(payload), SETTINGS_LIMITS.features, where);
  for (const n of names) if (!FEATURE_NAME_RE.test(n)) throw bad(where, `invalid feature name ${JSON.stringify(n.slice(0, 80))}`);
  return names;
}

/** admin.vm.feature.Get: the value, as is. */
export function parseFeatureValue(payload: string, where: string): string {
  return checkText(payload, SETTINGS_LIMITS.featureValue, where, true);
}

/** admin.vm.tag.List: one tag per line; returned sorted. */
export function parseTags(payload: string, where: string): string[] {
  const tags = limit(lines(payload), SETTINGS_LIMITS.tags, where);
  for (const t of tags) if (!TAG_RE.test(t)) throw bad(where, `invalid tag ${JSON.stringify(t.slice(0, 80))}`);
  return [...new Set(tags)].sort();
}

/** admin.vm.firewall.Get: one rule per line, kept in order and verbatim. */
export function parseFirewall(payload: string, where: string): string[] {
  const rules = limit(lines(payload), SETTINGS_LIMITS.firewallRules, where);
  for (const r of rules) {
    checkText(r, SETTINGS_LIMITS.firewallRule, where);
    if (!/^action=(accept|drop)( |$)/.test(r)) throw bad(where, `not a firewall rule: ${JSON.stringify(r.slice(0, 120))}`);
  }
  return rules;
}

/** admin.deviceclass.List: one class name per line. */
export function parseDeviceClasses(payload: string): string[] {
  const classes = limit(lines(payload), 64, 'admin.deviceclass.List');
  for (const c of classes) if (!/^[a-z0-9_]{1,32}$/.test(c)) throw bad('admin.deviceclass.List', `invalid device class ${JSON.stringify(c.slice(0, 40))}`);
  return classes;
}

function splitIdent(ident: string, where: string): { backend: string; rest: string } {
  const plus = ident.indexOf('+');
  const backend = plus > 0 ? ident.slice(0, plus) : '';
  if (!QUBE_NAME_RE.test(backend)) throw bad(where, `invalid device backend in ${JSON.stringify(ident.slice(0, 80))}`);
  return { backend, rest: ident.slice(plus + 1) };
}

function token(s: string, where: string): string {
  if (!DEVICE_TOKEN_RE.test(s)) throw bad(where, `invalid device field ${JSON.stringify(s.slice(0, 80))}`);
  return s;
}

/** R4.2 admin.vm.device.<class>.List: `<backend>+<ident> opt=value … persistent=yes|no`. */
export function parseDeviceList42(payload: string, devclass: string, where: string): DeviceEntry[] {
  return limit(lines(payload), SETTINGS_LIMITS.devices, where).map((line) => {
    const [ident = '', ...pairs] = line.split(' ');
    const { backend, rest } = splitIdent(ident, where);
    const options: Record<string, string> = {};
    let persistent: boolean | null = null;
    for (const p of pairs) {
      const eq = p.indexOf('=');
      if (eq <= 0) throw bad(where, `expected option=value in ${JSON.stringify(line.slice(0, 120))}`);
      const k = token(p.slice(0, eq), where);
      const v = checkText(p.slice(eq + 1), SETTINGS_LIMITS.propertyValue, where);
      if (k === 'persistent') persistent = v === 'yes';
      else options[k] = v;
    }
    return { class: devclass, backend, port: token(rest, where), deviceId: null, mode: null, persistent, options };
  });
}

// DeviceSerializer.unpack_properties: key='value' pairs, `\'` inside a value is a quote.
function unpackProperties(s: string, where: string): [string, string][] {
  const out: [string, string][] = [];
  let rest = s.trim();
  while (rest.length > 0) {
    const m = /^([^=' ]+)='((?:[^'\\]|\\.)*)'(?: +|$)/s.exec(rest);
    if (!m) throw bad(where, `cannot read device properties at ${JSON.stringify(rest.slice(0, 80))}`);
    out.push([m[1]!, m[2]!.replace(/\\'/g, "'")]);
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** R4.3 admin.vm.device.<class>.Assigned: `<backend>+<port>:<device_id> key='value' …`. */
export function parseDeviceAssigned43(payload: string, devclass: string, where: string): DeviceEntry[] {
  return limit(lines(payload), SETTINGS_LIMITS.devices, where).map((line) => {
    // The key `<backend>+<port>:<device_id>` may hold spaces (a device id can): the properties
    // start at the first ` name='`.
    const m = / [^ =']+='/.exec(line);
    const sp = m ? m.index : line.length;
    const ident = line.slice(0, sp);
    const { backend } = splitIdent(ident, where);
    const props = new Map<string, string>();
    const options: Record<string, string> = {};
    for (const [k, v] of unpackProperties(sp < 0 ? '' : line.slice(sp + 1), where)) {
      token(k, where);
      checkText(v, SETTINGS_LIMITS.propertyValue, where);
      if (k.startsWith('_')) options[k.slice(1)] = v;
      else props.set(k, v);
    }
    const port = props.get('port_id');
    if (port === undefined) throw bad(where, `no port_id in ${JSON.stringify(line.slice(0, 120))}`);
    const backendProp = props.get('backend_domain');
    if (backendProp !== undefined && backendProp !== backend) throw bad(where, `backend_domain ${JSON.stringify(backendProp)} differs from ${backend}`);
    const mode = props.get('mode') ?? null;
    if (mode !== null && !/^[a-z-]{1,32}$/.test(mode)) throw bad(where, `invalid mode ${JSON.stringify(mode.slice(0, 40))}`);
    const deviceId = props.get('device_id') ?? '*';
    if (!DEVICE_ID_RE.test(deviceId)) throw bad(where, `invalid device id ${JSON.stringify(deviceId.slice(0, 80))}`);
    return { class: devclass, backend, port: token(port, where), deviceId, mode, persistent: null, options };
  });
}
