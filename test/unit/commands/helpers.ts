// A Context with a fake core and fake system adapters, for command tests without processes.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Context, Core } from '../../../dom0/commands/context.ts';
import type { QubesInventory, ZfsInventory } from '../../../dom0/inventory/types.ts';
import type { Job } from '../../../dom0/job/types.ts';
import { finding } from '../../../dom0/job/findings.ts';
import { targetsOf } from '../snapshot/fixtures.ts';
import { QzbError } from '../../../shared/errors.ts';

// A job as the loader would build it from "name: <name>" (snapshot-creation from the text).
export function jobFromText(text: string): Job {
  const name = /^name: (\S+)/m.exec(text)?.[1] ?? 'j';
  return {
    name,
    scope: { targetSnapshot: '@l', since: 'beginning', progressive: false, honourOrigins: false },
    allowedBehaviours: { snapshotCreation: !/creation: no/.test(text), patching: false },
    receiver: { qube: 'backups', dataset: 'backup/x' },
    includeGroups: [{ name: 'g' }], forgoGroups: [], voidGroups: [],
    groups: [{ name: 'g', type: 'qubes', members: [{ value: 'work' }, { value: 'vault' }] }],
    positions: {},
  };
}

/** Loads any text with a "name:" line; "BROKEN" gives an error finding at 3:1. */
export const fakeCore: Core = {
  loadJob(text) {
    if (text.includes('BROKEN')) return { job: null, findings: [finding('YAML_SYNTAX', 'error', 'broken', { pos: { line: 3, column: 1 } })] };
    const findings = text.includes('WARN') ? [finding('GROUP_UNUSED', 'warning', 'group x is unused', { pos: { line: 9, column: 1 } })] : [];
    return { job: jobFromText(text), findings };
  },
  resolveDesignations() {
    return {
      designations: [
        { dataset: 'tank/qubes/work', designation: 'include', object: 'work', objectType: 'qube', group: 'g' },
        { dataset: 'aux/qubes/work', designation: 'include', object: 'work', objectType: 'qube', group: 'g' },
        { dataset: 'tank/qubes/vault', designation: 'include', object: 'vault', objectType: 'qube', group: 'g' },
        { dataset: 'tank/dom0', designation: 'include', object: 'tank/dom0', objectType: 'dataset', group: 'd' },
        { dataset: 'aux/dom0', designation: 'include', object: 'aux/dom0', objectType: 'dataset', group: 'd' },
      ],
      findings: [],
    };
  },
  computeTargets(_job, _d, _q, zfs) {
    return { targets: targetsOf(zfs), findings: [] };
  },
};

export interface FakeSystem {
  zfs: ZfsInventory;
  qubes: QubesInventory;
  created: string[][];
  failCreate?: string;
  qubesdDown?: boolean;
  zfsDown?: boolean;
}

// A context over a fake system; snapshots created are added to the fake ZFS inventory.
export function fakeContext(sys: FakeSystem, metadataDir = mkdtempSync(path.join(os.tmpdir(), 'qzb-cmd-'))): Context & { notices: string[] } {
  const notices: string[] = [];
  let guid = 9000n;
  return {
    core: fakeCore,
    system: {
      collectZfs: async () => {
        if (sys.zfsDown) throw new QzbError('ZFS_NOT_FOUND', 'cannot run zfs: no such program on PATH', { hint: 'install ZFS' });
        return structuredClone(sys.zfs);
      },
      collectQubes: async () => {
        if (sys.qubesdDown) throw new QzbError('QUBESD_UNREACHABLE', 'cannot reach the Qubes Admin API at /x.sock', { hint: 'start qubesd' });
        return structuredClone(sys.qubes);
      },
      createSnapshots: async (names) => {
        if (sys.failCreate && names.includes(sys.failCreate)) throw new QzbError('ZFS_COMMAND_FAILED', `cannot create snapshot '${sys.failCreate}': dataset already exists`);
        sys.created.push([...names]);
        for (const n of names) {
          const d = sys.zfs.datasets.find((x) => x.name === n.slice(0, n.indexOf('@')))!;
          d.snapshots.push({ name: n, guid: guid++, createtxg: 10_000n + guid, creation: 1n });
        }
      },
      listSnapshots: async (names) => sys.zfs.datasets.flatMap((d) => d.snapshots).filter((s) => names.includes(s.name)),
    },
    metadataDir,
    cwd: metadataDir,
    now: () => new Date('2026-04-14T12:00:00Z'),
    notice: (l) => notices.push(l),
    notices,
  };
}
