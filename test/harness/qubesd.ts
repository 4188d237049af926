// A fake qubesd: a Unix socket server speaking the real Admin API wire format (SPEC §2, research
// qubes-facts §2.4; qubes-core-admin qubes/api/__init__.py). Request: "<method>[+<arg>] <src> name
// <dest>\0<payload>", then the client shuts down its write side. Reply: "0\0"<payload> on success, or
// "2\0"<exception type>\0<traceback (empty)>\0<message>\0 on error; a framing error closes the
// connection without a reply, as qubesd does. The answers come from a QubesModel (the scenario's
// qubes, pools and volumes); the guest executor changes the model on `qube: start/stop` steps.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import {
  DEVICE_CLASSES, emptySettings, formatDeviceAssigned43, formatDeviceList42, formatFirewall, formatGet, formatGetAll,
  globalValues, propertyValues,
} from './qube-settings.ts';
import type { FakeDevice, FakeSettings, PropValue } from './qube-settings.ts';
import { deviceWrite } from './qubesd-devices.ts';
import { QubesdAbort, QubesdError } from './qubesd-errors.ts';

export interface FakeVolume {
  name: string;
  pool: string;
  vid: string;
  size: string;
  rw: boolean;
  source: string;
  path: string;
  saveOnStop: boolean;
  snapOnStart: boolean;
  revisionsToKeep: number;
  ephemeral: boolean;
}

export interface FakeQube {
  name: string;
  klass: string;
  state: string;
  uuid: string;
  template?: string;
  volumes: FakeVolume[];
  /** Properties, features, tags, firewall, devices, notes (none when absent). */
  settings?: FakeSettings;
}

export interface FakePool {
  name: string;
  /** The pool's config as admin.pool.Info prints it (sorted by key there). */
  config: Record<string, string>;
}

/** What the fake qubesd answers from. Optional hooks read live values (usage) from ZFS. */
export interface QubesModel {
  release: '4.2' | '4.3';
  qubes(): FakeQube[];
  pools(): FakePool[];
  volumeUsage?(qube: FakeQube, volume: FakeVolume): Promise<string>;
  volumeOutdated?(qube: FakeQube, volume: FakeVolume): Promise<boolean>;
  /** The volume's size as the driver reports it (the zfs driver reads volsize); absent: the recorded one. */
  volumeSize?(qube: FakeQube, volume: FakeVolume): Promise<string>;
  poolSizeUsage?(pool: FakePool): Promise<{ size: string; usage: string } | undefined>;
  /** Global properties: computed defaults and the explicitly set ones (admin.property.GetAll). */
  globalProperties?(): { defaults: Record<string, string>; set: Record<string, string> };
  // Writes (restore). Each throws a QubesdError for what qubesd would refuse.
  /** admin.vm.Create / CreateInPool: a new halted qube with the class's volumes (pool per volume name, when given). */
  createNewQube?(klass: string, name: string, label: string, template: string | null, pools: Record<string, string>): Promise<void>;
  setProperty?(qube: string, name: string, value: string): void;
  resetProperty?(qube: string, name: string): void;
  setFeature?(qube: string, name: string, value: string): void;
  setTag?(qube: string, tag: string): void;
  removeTag?(qube: string, tag: string): void;
  setFirewall?(qube: string, rules: string[]): void;
  setNotes?(qube: string, notes: string): void;
  /** R4.2 device.<class>.Attach (persistent) / R4.3 device.<class>.Assign, already checked. */
  assignDevice?(qube: string, device: FakeDevice): void;
  /** internal.vm.volume.ImportBegin: the path the data goes to (the driver's import_data). */
  importBegin?(qube: string, volume: string, size: string): Promise<string>;
  /** internal.vm.volume.ImportEnd: commit or discard (the driver's import_data_end). */
  importEnd?(qube: string, volume: string, success: boolean): Promise<void>;
}

export { QubesdAbort, QubesdError } from './qubesd-errors.ts';

const MAX_REQUEST = 65536;
const py = (b: boolean): string => (b ? 'True' : 'False');
const pyRepr = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Parses a raw request; undefined on a framing error (qubesd aborts the connection). */
export function parseRequest(buf: Buffer): { method: string; arg: string; src: string; dest: string; payload: Buffer } | undefined {
  const nul = buf.indexOf(0);
  if (nul < 0) return undefined;
  const header = buf.subarray(0, nul).toString('utf8');
  const parts = header.split(' ');
  if (parts.length !== 4) return undefined;
  const [methArg, src, destType, destRaw] = parts as [string, string, string, string];
  let dest = destRaw;
  if (destType === 'keyword' && dest === 'adminvm') dest = 'dom0';
  else if (destType !== 'name') return undefined;
  const plus = methArg.indexOf('+');
  return {
    method: plus < 0 ? methArg : methArg.slice(0, plus),
    arg: plus < 0 ? '' : methArg.slice(plus + 1),
    src,
    dest,
    payload: buf.subarray(nul + 1),
  };
}

export function encodeOk(payload: string): Buffer {
  return Buffer.concat([Buffer.from('0\0'), Buffer.from(payload, 'utf8')]);
}

export function encodeError(excType: string, message: string): Buffer {
  return Buffer.from(`2\0${excType}\0\0${message}\0`, 'utf8');
}

const dom0: FakeQube = { name: 'dom0', klass: 'AdminVM', state: 'Running', uuid: '00000000-0000-0000-0000-000000000000', volumes: [] };

/** Answers one Admin API call from the model (throws QubesdError like qubesd would). */
export async function answer(model: QubesModel, method: string, arg: string, dest: string, payload: Buffer = Buffer.alloc(0)): Promise<string> {
  const all = [dom0, ...model.qubes()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const target = all.find((q) => q.name === dest);
  if (!target) throw new QubesdError('QubesVMNotFoundError', `No such domain: ${pyRepr(dest)}`);
  const noArg = (): void => {
    if (arg !== '') throw new QubesdAbort('unexpected argument');
  };
  const adminOnly = (): void => {
    if (dest !== 'dom0') throw new QubesdAbort('this call goes to dom0');
  };
  const write = await answerWrite(model, method, arg, dest, target, payload, all);
  if (write !== null) return write;
  switch (method) {
    case 'admin.vm.List': {
      noArg();
      const list = dest === 'dom0' ? all : [target];
      return list.map((q) => `${q.name} class=${q.klass} state=${q.state}${model.release === '4.3' ? ` uuid=${q.uuid}` : ''}\n`).join('');
    }
    case 'admin.vm.CurrentState': {
      noArg();
      const running = target.state !== 'Halted';
      return `mem=${running ? 409600 : 0} mem_static_max=${running ? 4096000 : 0} cputime=${running ? 12345678 : 0} power_state=${target.state}`;
    }
    case 'admin.vm.volume.List':
      noArg();
      return target.volumes.map((v) => `${v.name}\n`).join('');
    case 'admin.vm.volume.Info': {
      const v = target.volumes.find((x) => x.name === arg);
      if (!v) throw new QubesdAbort('Invalid argument: volume not in dest volumes');
      const usage = (await model.volumeUsage?.(target, v)) ?? '0';
      const outdated = v.snapOnStart ? ((await model.volumeOutdated?.(target, v)) ?? false) : false;
      const info: [string, string][] = [
        ['pool', v.pool],
        ['vid', v.vid],
        ['size', (await model.volumeSize?.(target, v)) ?? v.size],
        ['usage', usage],
        ['rw', py(v.rw)],
        ['source', v.source],
        ['path', v.path],
        ['save_on_stop', py(v.saveOnStop)],
        ['snap_on_start', py(v.snapOnStart)],
        ['revisions_to_keep', String(v.revisionsToKeep)],
        ['ephemeral', py(v.ephemeral)],
        ['is_outdated', py(outdated)],
      ];
      return info.map(([k, val]) => `${k}=${val}\n`).join('');
    }
    case 'admin.vm.property.Get': {
      const p = properties(model, all, target).find((x) => x.name === arg);
      if (!p) throw new QubesdError('QubesNoSuchPropertyError', `Invalid property ${pyRepr(arg)} of ${target.name}`);
      return formatGet(p);
    }
    case 'admin.vm.property.GetAll':
      noArg();
      return formatGetAll(properties(model, all, target));
    case 'admin.property.GetAll': {
      noArg();
      adminOnly();
      const g = model.globalProperties?.() ?? { defaults: {}, set: {} };
      return formatGetAll(globalValues(g.defaults, g.set));
    }
    case 'admin.vm.feature.List':
      noArg();
      return Object.keys(settingsOf(target).features).map((k) => `${k}\n`).join('');
    case 'admin.vm.feature.Get': {
      const v = settingsOf(target).features[arg];
      if (v === undefined) throw new QubesdError('QubesFeatureNotFoundError', `Feature not set for domain ${target.name}: ${arg}`);
      return v;
    }
    case 'admin.vm.tag.List':
      noArg();
      return [...settingsOf(target).tags].sort().map((t) => `${t}\n`).join('');
    case 'admin.vm.firewall.Get':
      noArg();
      return formatFirewall(settingsOf(target).firewall);
    case 'admin.deviceclass.List':
      noArg();
      adminOnly();
      return DEVICE_CLASSES.map((c) => `${c}\n`).join('');
    case 'admin.vm.notes.Get':
      // R4.3 (core-admin >= v4.3.26) only; R4.2 has no such method.
      if (model.release !== '4.3') throw new QubesdAbort('no such method');
      noArg();
      if (dest === 'dom0') throw new QubesdAbort('enforce: dest is not dom0');
      return settingsOf(target).notes;
    case 'admin.pool.List':
      noArg();
      adminOnly();
      return model.pools().map((p) => `${p.name}\n`).join('');
    case 'admin.pool.Info': {
      adminOnly();
      const pool = model.pools().find((p) => p.name === arg);
      if (!pool) throw new QubesdAbort('Invalid argument: pools');
      const lines = Object.entries(pool.config)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}\n`);
      const su = await model.poolSizeUsage?.(pool);
      if (su) lines.push(`size=${su.size}\n`, `usage=${su.usage}\n`);
      return lines.join('');
    }
    default: {
      const dev = /^admin\.vm\.device\.([a-z]+)\.(List|Assigned)$/.exec(method);
      // R4.2 lists assignments with .List, R4.3 with .Assigned (the other is not a method there).
      if (dev && (DEVICE_CLASSES as readonly string[]).includes(dev[1]!) && (dev[2] === 'List') === (model.release === '4.2')) {
        noArg();
        const devices = settingsOf(target).devices;
        return model.release === '4.2' ? formatDeviceList42(devices, dev[1]!) : formatDeviceAssigned43(devices, dev[1]!, target.name);
      }
      throw new QubesdAbort(`no such method: ${pyRepr(method)}`);
    }
  }
}

/** The write calls restore makes (qubes/api/admin.py formats); null when `method` is not one. */
async function answerWrite(model: QubesModel, method: string, arg: string, dest: string, target: FakeQube, payload: Buffer, all: FakeQube[]): Promise<string | null> {
  const text = payload.toString('utf8');
  // The model's hook, bound to it (QubesSim's are methods).
  const need = <A extends unknown[], R>(hook: ((...args: A) => R) | undefined): ((...args: A) => R) => {
    if (hook === undefined) throw new QubesdAbort(`${method} is not emulated by this model`);
    return hook.bind(model);
  };
  const create = /^admin\.vm\.(Create|CreateInPool)\.([A-Za-z]+)$/.exec(method);
  if (create) {
    if (dest !== 'dom0') throw new QubesdAbort('enforce: dest is not dom0');
    // _vm_create: "name=N label=L [pool=P | pool:VOL=P …]", space-separated ASCII.
    const kv: Record<string, string> = {};
    const pools: Record<string, string> = {};
    for (const part of text.split(' ').filter(Boolean)) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new QubesdAbort('Invalid payload');
      const k = part.slice(0, eq);
      const v = part.slice(eq + 1);
      if (k.startsWith('pool:') && create[1] === 'CreateInPool') pools[k.slice(5)] = v;
      else if (k === 'name' || k === 'label' || (k === 'pool' && create[1] === 'CreateInPool')) kv[k] = v;
      else throw new QubesdAbort(`Invalid param name: ${k}`);
    }
    if (!kv.name || !kv.label) throw new QubesdAbort('name and label are required');
    if (all.some((q) => q.name === kv.name)) throw new QubesdError('QubesValueError', `VM ${kv.name} already exists`);
    if (arg !== '' && !all.some((q) => q.name === arg)) throw new QubesdError('QubesVMNotFoundError', `No such domain: ${pyRepr(arg)}`);
    await need(model.createNewQube)(create[2]!, kv.name, kv.label, arg === '' ? null : arg, pools);
    return '';
  }
  const device = deviceWrite(model.release, method, arg, target, settingsOf(target).devices, text, all);
  if (device) {
    need(model.assignDevice)(target.name, device.assign);
    if (device.thenRefuse) throw device.thenRefuse;
    return '';
  }
  switch (method) {
    case 'admin.vm.property.Set':
      need(model.setProperty)(target.name, arg, text);
      return '';
    case 'admin.vm.property.Reset':
      need(model.resetProperty)(target.name, arg);
      return '';
    case 'admin.vm.feature.Set':
      need(model.setFeature)(target.name, arg, text);
      return '';
    case 'admin.vm.tag.Set':
      need(model.setTag)(target.name, arg);
      return '';
    case 'admin.vm.tag.Remove':
      need(model.removeTag)(target.name, arg);
      return '';
    case 'admin.vm.notes.Set': {
      // R4.3 only (qubes/api/admin.py vm_notes_set): at most 256000 bytes; code points unsafe for
      // display become "_" (libqubes-pure; here: C0/C1 controls other than tab and newline).
      if (model.release !== '4.3') throw new QubesdAbort('no such method');
      if (dest === 'dom0') throw new QubesdAbort('enforce: dest is not dom0');
      if (Buffer.byteLength(text) > 256000) throw new QubesdError('ProtocolError', `Maximum note size is 256000 bytes (${Buffer.byteLength(text)} bytes received)`);
      need(model.setNotes)(target.name, [...text].map((c) => { const n = c.codePointAt(0)!; return (n < 0x20 && c !== '\t' && c !== '\n') || (n >= 0x7f && n <= 0x9f) ? '_' : c; }).join(''));
      return '';
    }
    case 'admin.vm.firewall.Set':
      need(model.setFirewall)(target.name, text.split('\n').filter((l) => l.length > 0));
      return '';
    case 'internal.vm.volume.ImportBegin': {
      if (!target.volumes.some((v) => v.name === arg)) throw new QubesdAbort('enforce: volume not in dest volumes');
      const size = text === '' ? target.volumes.find((v) => v.name === arg)!.size : text;
      if (!/^[0-9]{1,20}$/.test(size)) throw new QubesdAbort('Invalid size');
      if (target.state !== 'Halted') throw new QubesdError('QubesVMNotHaltedError', `Domain is powered on: ${target.name}`);
      return `${size} ${await need(model.importBegin)(target.name, arg, size)}`;
    }
    case 'internal.vm.volume.ImportEnd':
      if (!target.volumes.some((v) => v.name === arg)) throw new QubesdAbort('enforce: volume not in dest volumes');
      await need(model.importEnd)(target.name, arg, text === 'ok');
      if (text !== 'ok') throw new QubesdError('QubesException', 'Data import failed');
      return '';
    default:
      return null;
  }
}

function settingsOf(q: FakeQube): FakeSettings {
  return q.settings ?? emptySettings();
}

// Every property of one qube, from its settings and the global defaults.
function properties(model: QubesModel, all: FakeQube[], q: FakeQube): PropValue[] {
  const g = model.globalProperties?.() ?? { defaults: {}, set: {} };
  const globals = Object.fromEntries(globalValues(g.defaults, g.set).map((v) => [v.name, v.value]));
  const qid = Math.max(0, all.filter((x) => x.name !== 'dom0').indexOf(q) + 1);
  const fixed: Record<string, string> = { name: q.name, uuid: q.uuid, ...(q.template !== undefined ? { template: q.template } : {}) };
  const values = propertyValues({ name: q.name, klass: q.klass, state: q.state, qid, settings: settingsOf(q), globals }, fixed);
  // dom0 (the AdminVM) has few properties.
  return q.klass === 'AdminVM' ? values.filter((v) => ['default_dispvm', 'icon', 'klass', 'label', 'name', 'qid', 'uuid'].includes(v.name)) : values;
}

export interface QubesdServer {
  server: Server;
  path: string;
  /** Every call received, for debugging and tests: "method+arg dest". */
  calls: string[];
  close(): Promise<void>;
}

/** Starts the fake qubesd on a Unix socket path (an existing socket file is replaced). */
export async function startQubesd(path: string, model: QubesModel, log?: (line: string) => void): Promise<QubesdServer> {
  await rm(path, { force: true });
  const calls: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (sock: Socket) => {
    const chunks: Buffer[] = [];
    let len = 0;
    sock.on('data', (d: Buffer) => {
      len += d.length;
      if (len > MAX_REQUEST) {
        sock.destroy();
        return;
      }
      chunks.push(d);
    });
    sock.on('error', () => sock.destroy());
    sock.on('end', () => {
      const req = parseRequest(Buffer.concat(chunks));
      if (!req) {
        log?.('qubesd: framing error, connection closed');
        sock.destroy();
        return;
      }
      calls.push(`${req.method}${req.arg ? `+${req.arg}` : ''} ${req.dest}`);
      answer(model, req.method, req.arg, req.dest, req.payload).then(
        (payload) => sock.end(encodeOk(payload)),
        (e: unknown) => {
          if (e instanceof QubesdError) sock.end(encodeError(e.excType, e.message));
          else if (e instanceof QubesdAbort) {
            log?.(`qubesd: ${req.method} aborted (${e.message})`);
            sock.destroy();
          } else {
            log?.(`qubesd: internal error on ${req.method}: ${String(e)}`);
            sock.destroy();
          }
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    server,
    path,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
