// Pure parsers for Admin API payloads (formats from qubes-core-admin qubes/api/admin.py).
import { QzbError } from '../../shared/errors.ts';

// One line of admin.vm.List.
export interface VmListEntry {
  name: string;
  klass: string;
  state: string;
  uuid?: string;
}

function protocolError(what: string, line: string): QzbError {
  return new QzbError('QUBES_API_PROTOCOL', `unexpected Admin API reply (${what}): ${JSON.stringify(line.slice(0, 200))}`);
}

function lines(payload: string): string[] {
  return payload.split('\n').filter((l) => l.length > 0);
}

// admin.vm.List: "name class=X state=Y[ uuid=Z]" per line.
export function parseVmList(payload: string): VmListEntry[] {
  return lines(payload).map((line) => {
    const [name, ...pairs] = line.split(' ');
    if (!name) throw protocolError('admin.vm.List line without a name', line);
    const kv = parsePairs(pairs, line);
    const klass = kv.class;
    const state = kv.state;
    if (klass === undefined || state === undefined) throw protocolError('admin.vm.List line without class= or state=', line);
    const entry: VmListEntry = { name, klass, state };
    if (kv.uuid !== undefined) entry.uuid = kv.uuid;
    return entry;
  });
}

function parsePairs(pairs: string[], line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw protocolError('expected key=value', line);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

// admin.vm.volume.List / admin.pool.List: one name per line.
export function parseNameList(payload: string): string[] {
  return lines(payload);
}

// admin.vm.volume.Info / admin.pool.Info: "key=value" per line (value may be empty or hold '=').
export function parseKeyValues(payload: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(payload)) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw protocolError('expected key=value', line);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

// Python's str(bool) as the Admin API writes it.
export function parseBool(value: string | undefined, key: string): boolean {
  if (value === 'True') return true;
  if (value === 'False') return false;
  throw protocolError(`${key} is not True/False`, `${key}=${value ?? '(missing)'}`);
}

// An integer field such as revisions_to_keep (may be negative).
export function parseIntField(value: string | undefined, key: string): number {
  if (value === undefined || !/^-?[0-9]+$/.test(value)) throw protocolError(`${key} is not an integer`, `${key}=${value ?? '(missing)'}`);
  return Number(value);
}
