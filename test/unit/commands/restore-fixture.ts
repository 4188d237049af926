// The fixture of restore's command tests (restore.test.ts) and of its documented --json shape
// (json-docs.test.ts): a scripted receiver link, the harness's fake qubesd answers over an
// in-memory model, an importer that keeps the bytes, and an imported job with recorded settings.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { importJob } from '../../../dom0/commands/import.ts';
import type { RestoreOptions } from '../../../dom0/commands/restore.ts';
import type { ReceiverConnection, SendAdapters } from '../../../dom0/commands/context.ts';
import { MetadataStore } from '../../../dom0/metadata/store.ts';
import type { ExportOptions } from '../../../dom0/receiver-link/client.ts';
import type { ReceiverDataset } from '../../../dom0/receiver-link/types.ts';
import { encodeSettings } from '../../../dom0/settings/store.ts';
import { settingsDocumentSchema, type SettingsDocument } from '../../../dom0/settings/schema.ts';
import { answer, QubesdAbort, QubesdError, type FakeQube, type QubesModel } from '../../../test/harness/qubesd.ts';
import { AdminApiError, AdminApiRefused } from '../../../dom0/qubes/client.ts';
import { emptySettings } from '../../../test/harness/qube-settings.ts';
import { QzbError } from '../../../shared/errors.ts';
import { fakeContext, type FakeSystem } from './helpers.ts';
import { qubesOf, zfsOf } from '../snapshot/fixtures.ts';

export const ROOT = 'backup/x';
export const SIZE = 3 * 65536 + 100;
export const DATA = Buffer.alloc(SIZE);
DATA.fill(7, 0, 1000);
DATA.fill(9, SIZE - 50);
export const SHA = createHash('sha256').update(DATA).digest('hex');

export function doc(devices: unknown[] = []): SettingsDocument {
  return settingsDocumentSchema.parse({
    format: 'qubes-zfs-backup/qube-settings', version: 1, qube: 'work', snapshotLabel: '@l', capturedAt: '2026-12-02T05:00:00.000Z',
    api: { devices: '4.2', notes: false }, class: 'AppVM', label: 'blue', template: 'fedora-41',
    properties: { memory: { type: 'int', default: false, value: '800' }, autostart: { type: 'bool', default: false, value: 'True' } },
    features: { 'service.cups': '1' }, tags: ['audited'], firewall: ['action=drop'], devices,
    volumes: { private: { pool: 'zfs-main', vid: 'tank/qubes/work/private', size: String(SIZE), rw: true, saveOnStop: true, snapOnStart: false, source: '', revisionsToKeep: 1, ephemeral: false } },
    notes: null, global: {},
  });
}

let n = 100n;
export const ds = (name: string, type: 'filesystem' | 'volume', labels: string[]): ReceiverDataset => ({
  name, type, guid: ++n, createtxg: n, origin: null, encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n,
  snapshots: labels.map((l) => ({ name: `${name}@${l}`, label: l, guid: ++n * 1000n, createtxg: n })), bookmarks: [],
});

/** An in-memory Qubes for the harness's answer(): creation and the settings writes. */
export function model(release: '4.2' | '4.3' = '4.2'): QubesModel & { list: FakeQube[] } {
  const list: FakeQube[] = [
    { name: 'fedora-41', klass: 'TemplateVM', state: 'Halted', uuid: 'u1', volumes: [], settings: emptySettings() },
    { name: 'sys-usb', klass: 'AppVM', state: 'Running', uuid: 'u2', template: 'fedora-41', volumes: [], settings: emptySettings() },
  ];
  const q = (name: string): FakeQube => list.find((x) => x.name === name)!;
  return {
    release, list,
    qubes: () => list,
    pools: () => [{ name: 'zfs-main', config: { driver: 'zfs', container: 'tank/qubes' } }],
    async createNewQube(klass, name, label, template) {
      const settings = emptySettings();
      settings.prefs['label'] = label;
      list.push({
        name, klass, state: 'Halted', uuid: `u-${name}`, ...(template ? { template } : {}), settings,
        volumes: [{ name: 'private', pool: 'zfs-main', vid: `tank/qubes/${name}/private`, size: '2048', rw: true, source: '', path: '', saveOnStop: true, snapOnStart: false, revisionsToKeep: 1, ephemeral: false }],
      });
    },
    setProperty: (qube, k, v) => void (q(qube).settings!.prefs[k] = v),
    resetProperty: (qube, k) => void delete q(qube).settings!.prefs[k],
    setFeature: (qube, k, v) => void (q(qube).settings!.features[k] = v),
    setTag: (qube, t) => void (q(qube).settings!.tags = [...new Set([...q(qube).settings!.tags, t])]),
    removeTag: (qube, t) => void (q(qube).settings!.tags = q(qube).settings!.tags.filter((x) => x !== t)),
    setFirewall: (qube, rules) => void (q(qube).settings!.firewall = rules),
    assignDevice: (qube, d) => void q(qube).settings!.devices.push(d),
  };
}

export async function setup(opts: { contentHash?: string; tamper?: boolean; exportBytes?: Buffer; devices?: unknown[]; release?: '4.2' | '4.3' } = {}) {
  const sys: FakeSystem = { zfs: zfsOf(), qubes: qubesOf(), created: [] };
  const ctx = fakeContext(sys);
  const m = model(opts.release);
  const calls: string[] = [];
  const imported = new Map<string, Buffer>();
  const exported: string[] = [];
  const d = encodeSettings(doc(opts.devices));
  const inventory = { root: ROOT, datasets: new Map([ds(ROOT, 'filesystem', []), ds(`${ROOT}/tank`, 'filesystem', []), ds(`${ROOT}/tank/qubes`, 'filesystem', []), ds(`${ROOT}/tank/qubes/work`, 'filesystem', ['l']), ds(`${ROOT}/tank/qubes/work/private`, 'volume', ['l'])].map((x) => [x.name, x])) };
  const volGuid = inventory.datasets.get(`${ROOT}/tank/qubes/work/private`)!.snapshots[0]!.guid;
  const link: ReceiverConnection = {
    client: {
      hello: async () => ({ protocol: 2, agent: 't', zfsVersion: [], receiveRoot: { name: ROOT, exists: true, type: 'filesystem', encryption: 'off', keyStatus: 'none' }, pool: { name: 'backup', exists: true, features: [] }, features: new Map(), unframed: false }),
      inventory: async () => inventory,
      readSettings: async () => {
        const bytes = opts.tamper ? Buffer.from(d.bytes.toString().replace('"800"', '"900"')) : d.bytes;
        return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), storedSha256: d.sha256 };
      },
      exportVolume: async (snapshot: string, o: ExportOptions) => {
        exported.push(snapshot);
        if (o.volsize !== BigInt(SIZE)) throw new QzbError('EXPORT_SIZE_MISMATCH', 'size');
        const bytes = opts.exportBytes ?? DATA;
        await o.write({ kind: 'data', bytes: bytes.subarray(0, 1000) });
        await o.write({ kind: 'hole', length: BigInt(SIZE - 1050) });
        await o.write({ kind: 'data', bytes: bytes.subarray(SIZE - 50) });
        return { snapshot, guid: volGuid, bytes: BigInt(SIZE), holeBytes: BigInt(SIZE - 1050), cloneLeft: null };
      },
      sendSnapshot: async () => { throw new Error('the zfs receive adapter is faked whole'); },
      failed: null,
      receive: async () => { throw new Error('no'); },
      abort: async () => ({ hadState: false }),
      storeSettings: async () => ({ alreadyStored: false }),
      close: async () => {},
    },
    stderrTail: () => [],
  };
  const adapters = { connectReceiver: () => link } as unknown as SendAdapters;
  const full = Object.assign(ctx, {
    send: adapters,
    restore: {
      startImport: (qube: string, volume: string, size: bigint) => {
        const stdin = new PassThrough();
        const chunks: Buffer[] = [];
        stdin.on('data', (c: Buffer) => chunks.push(c));
        const done = new Promise<void>((resolve) => stdin.on('end', () => {
          imported.set(`${qube}:${volume}`, Buffer.concat(chunks));
          m.list.find((x) => x.name === qube)!.volumes[0]!.size = String(size);
          resolve();
        }));
        return { stdin, done, kill: () => stdin.destroy() };
      },
    },
  });
  full.system.adminApi = async (method, dest, arg = '', payload) => {
    calls.push(`${method}+${arg} ${dest}${payload !== undefined ? ` <${payload}>` : ''}`);
    // As the real client reports them: an exception reply, or a connection closed without one.
    try {
      return await answer(m, method, arg, dest, Buffer.from(payload ?? ''));
    } catch (e) {
      if (e instanceof QubesdError) throw new AdminApiError(method, dest, e.excType, e.message);
      if (e instanceof QubesdAbort) throw new AdminApiRefused(method, dest);
      throw e;
    }
  };
  writeFileSync(path.join(ctx.cwd, 'backup1.yaml'), 'name: j1\n');
  await importJob({ file: 'backup1.yaml', replace: false }, full);
  const store = new MetadataStore(ctx.metadataDir);
  const stored = await store.read('j1');
  stored.state.settings = { '@l': { work: { sha256: d.sha256, bytes: d.bytes.length, capturedAt: '2026-12-02T05:00:00.000Z', file: 'settings/l/work.json' } } };
  stored.state.targets['tank/qubes/work/private@l'] = {
    snapshot: 'tank/qubes/work/private@l', status: 'verified', guid: String(volGuid), receivedGuid: String(volGuid),
    ...(opts.contentHash ? { contentHash: { sha256: opts.contentHash, bytes: String(SIZE) } } : {}),
  } as never;
  await store.saveState(stored.state);
  return { ctx: full, m, calls, imported, exported };
}

export const options = (over: Partial<RestoreOptions> = {}): RestoreOptions => ({
  name: 'j1', receiver: null, dataset: null, qubes: ['work'], list: false, label: null, as: null, template: null, netvm: null,
  devices: false, acceptSettings: false, dryRun: false, ...over,
});
export const tagsOf = (m: ReturnType<typeof model>, name: string): string[] => m.list.find((q) => q.name === name)?.settings?.tags ?? [];

