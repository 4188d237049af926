// The fake qubesd's device-assignment writes, as qubesd checks them (read from source, see
// dom0/restore/DEVICE-API.md): R4.2 `admin.vm.device.<class>.Attach` (qubes/api/admin.py
// vm_device_attach, qubes/devices.py attach, the block and USB extensions' option checks) and R4.3
// `admin.vm.device.<class>.Assign` (load_device_info, DeviceAssignment.deserialize, assign, and
// usb-proxy's refusal of options after the assignment is already held in memory).
import { DEVICE_CLASSES, DEVICE_MODES, type FakeDevice } from './qube-settings.ts';
import { QubesdAbort, QubesdError } from './qubesd-errors.ts';

interface Vm {
  name: string;
  state: string;
}

// R4.2: vm_device_attach's option check, and property.bool's literals.
const KEY42 = /^[A-Za-z0-9._-]+$/;
const VALUE42 = /^[A-Za-z0-9._,+:-]+$/;
const TRUE = new Set(['1', 'yes', 'true', 'on']);
const FALSE = new Set(['0', 'no', 'false', 'off']);
// The extensions' allowed options (ext/block.py, usb-proxy core3ext.py).
const OPTIONS42: Record<string, readonly string[] | null> = { block: ['frontend-dev', 'read-only', 'devtype'], usb: ['identity'], pci: null };

/** The assignment a device write adds (and, for R4.3 USB with options, the error sent after it is
 *  already held); null when `method` is not a device write of `release`. */
export function deviceWrite(
  release: '4.2' | '4.3', method: string, arg: string, target: Vm, current: readonly FakeDevice[], payload: string, all: readonly Vm[],
): { assign: FakeDevice; thenRefuse?: QubesdError } | null {
  const m = /^admin\.vm\.device\.([a-z]+)\.(Attach|Assign)$/.exec(method);
  if (!m || (m[2] === 'Attach') !== (release === '4.2')) return null;
  const devclass = m[1]!;
  if (!(DEVICE_CLASSES as readonly string[]).includes(devclass)) throw new QubesdAbort(`no such device class ${devclass}`);
  const cls = devclass as FakeDevice['devclass'];
  const plus = arg.indexOf('+');
  if (plus <= 0) throw new QubesdAbort('invalid device argument');
  const backend = arg.slice(0, plus);
  // app.domains[name]: a plain KeyError, so the connection is aborted.
  if (!all.some((q) => q.name === backend)) throw new QubesdAbort(`KeyError: ${backend}`);
  return release === '4.2' ? attach42(cls, backend, arg.slice(plus + 1), target, current, payload) : assign43(cls, backend, arg.slice(plus + 1), target, current, payload, all);
}

function attach42(cls: FakeDevice['devclass'], backend: string, ident: string, target: Vm, current: readonly FakeDevice[], payload: string): { assign: FakeDevice } {
  const options: Record<string, string> = {};
  let persistent = false;
  for (const tok of payload.split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new QubesdAbort('option without =');
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    if (!KEY42.test(k) || !VALUE42.test(v)) throw new QubesdAbort('invalid option');
    if (k === 'persistent') {
      if (TRUE.has(v.toLowerCase())) persistent = true;
      else if (FALSE.has(v.toLowerCase())) persistent = false;
      else throw new QubesdError('QubesValueError', `Invalid literal for boolean property: ${v}`);
    } else options[k] = v;
  }
  if (!persistent) {
    if (target.state === 'Halted') throw new QubesdError('QubesVMNotRunningError', 'VM not running, can only attach device with persistent flag');
    throw new QubesdAbort('a live attachment is not emulated');
  }
  if (current.some((d) => d.devclass === cls && d.backend === backend && d.port === ident)) {
    throw new QubesdError('DeviceAlreadyAttached', `'device ${backend}:${ident} of class ${cls} already attached to ${target.name}'`);
  }
  const allowed = OPTIONS42[cls];
  for (const k of Object.keys(options)) if (allowed && !allowed.includes(k)) throw new QubesdError('QubesValueError', `Unsupported option ${k}`);
  return { assign: { devclass: cls, backend, port: ident, deviceId: '*', mode: 'required', options } };
}

// DeviceSerializer.unpack_properties: key='value' pairs, `\'` a quote inside a value.
function unpack(s: string): [string, string][] {
  const out: [string, string][] = [];
  let rest = s.trim();
  while (rest.length > 0) {
    const m = /^([^=' ]+)='((?:[^'\\]|\\.)*)'(?: +|$)/s.exec(rest);
    if (!m) throw new QubesdAbort('cannot parse device properties');
    out.push([m[1]!, m[2]!.replace(/\\'/g, "'")]);
    rest = rest.slice(m[0].length);
  }
  return out;
}

function assign43(
  cls: FakeDevice['devclass'], backend: string, rest: string, target: Vm, current: readonly FakeDevice[], payload: string, all: readonly Vm[],
): { assign: FakeDevice; thenRefuse?: QubesdError } {
  // _parse: `+` back to `:`, port and device id split at the first `:`; `_` (or none) is any.
  const r = rest.replace(/\+/g, ':');
  const colon = r.indexOf(':');
  const argPort = colon < 0 ? r : r.slice(0, colon);
  const argId = colon < 0 ? '*' : r.slice(colon + 1);
  if (argPort === '' || argPort === '_') throw new QubesdAbort('assigning needs a port');
  const wildcard = argId === '*' || argId === '_' || /^_+$/.test(argId);
  const options: Record<string, string> = {};
  let deviceId = wildcard ? '*' : argId;
  let mode: string | undefined;
  for (const [k, v] of unpack(payload)) {
    if (k.startsWith('_')) options[k.slice(1)] = v;
    else if (k === 'backend_domain' && v !== backend) throw new QubesdAbort('backend_domain differs from the argument');
    else if (k === 'port_id' && v !== argPort) throw new QubesdAbort('port_id differs from the argument');
    else if (k === 'devclass' && v !== cls) throw new QubesdAbort('devclass differs from the endpoint');
    else if (k === 'device_id') {
      if (wildcard) deviceId = v;
      else if (v !== argId) throw new QubesdAbort('device_id differs from the argument');
    } else if (k === 'mode') mode = v;
    else if (k === 'frontend_domain') {
      if (!all.some((q) => q.name === v)) throw new QubesdAbort(`unknown frontend_domain ${v}`);
    } else if (!['backend_domain', 'port_id', 'devclass'].includes(k)) throw new QubesdAbort(`unexpected property ${k}`);
  }
  // No mode is `manual`, which assign() refuses with a plain ValueError; an unknown one fails in deserialize.
  if (mode === undefined || !(DEVICE_MODES as readonly string[]).includes(mode)) throw new QubesdAbort('Only auto-attachable devices can be assigned');
  if (current.some((d) => d.devclass === cls && d.backend === backend && d.port === argPort && d.deviceId === deviceId)) {
    throw new QubesdError('DeviceAlreadyAssigned', `'${cls} device ${backend}:${argPort}:${deviceId} already assigned to ${target.name}'`);
  }
  const assign: FakeDevice = { devclass: cls, backend, port: argPort, deviceId, mode: mode as FakeDevice['mode'], options };
  if (cls === 'usb' && Object.keys(options).length > 0) {
    return { assign, thenRefuse: new QubesdError('QubesException', 'USB device assignment does not support user options') };
  }
  return { assign };
}
