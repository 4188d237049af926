// Property-based tests (fast-check) for the nesting, void and ordering rules on random systems:
// random dataset trees (with names that sort awkwardly), qubes, snapshots, clones and designations.
import { isDriverSnapshot } from '../../../dom0/plan/chains.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Designation } from '../../../dom0/job/types.ts';
import type { QubesInventory, Qube, ZfsDataset, ZfsInventory } from '../../../dom0/inventory/types.ts';
import { resolveDesignations } from '../../../dom0/plan/resolve.ts';
import { computeTargets } from '../../../dom0/plan/targets.ts';
import type { Target } from '../../../dom0/plan/types.ts';
import { isSameOrDescendant } from '../../../shared/zfs-names.ts';
import type { GroupSpec, JobSpec } from './fixtures.ts';
import { mkJob } from './fixtures.ts';

// Components chosen so that siblings sort between a parent and its children ('a-b', 'a.b' < 'a/…').
const COMPONENTS = ['a', 'b', 'a-b', 'a.b', 'a b', 'c'];
const LABELS = ['@bk', '@prev', '@s1', '@s2', '@qubes-clean-abcdefgh', '@zz'];

interface World {
  zfs: ZfsInventory;
  qubes: QubesInventory;
  spec: JobSpec;
}

const worldArb = fc
  .record({
    paths: fc.uniqueArray(fc.array(fc.constantFrom(...COMPONENTS), { minLength: 1, maxLength: 4 }), {
      minLength: 1,
      maxLength: 25,
      selector: (p) => p.join('/'),
    }),
    qubes: fc.array(fc.record({ klass: fc.constantFrom('AppVM', 'TemplateVM', 'DispVM', 'StandaloneVM'), state: fc.constantFrom('Halted', 'Running') }), { maxLength: 4 }),
    seed: fc.array(fc.nat(1000), { minLength: 200, maxLength: 200 }),
    designate: fc.array(fc.tuple(fc.nat(), fc.constantFrom<Designation>('include', 'forgo', 'void')), { maxLength: 8 }),
    qubeDesignate: fc.array(fc.tuple(fc.nat(), fc.constantFrom<Designation>('include', 'forgo', 'void')), { maxLength: 4 }),
    since: fc.constantFrom('beginning', '@prev'),
    progressive: fc.boolean(),
    honourOrigins: fc.boolean(),
  })
  .map((r): World => {
    let k = 0;
    const rnd = (n: number): number => (n <= 0 ? 0 : r.seed[k++ % r.seed.length]! % n);
    let txg = 10n;
    const byName = new Map<string, ZfsDataset>();
    const add = (name: string, type: 'filesystem' | 'volume' = 'filesystem'): ZfsDataset => {
      const got = byName.get(name);
      if (got) return got;
      const slash = name.lastIndexOf('/');
      if (slash > 0) add(name.slice(0, slash));
      const ds: ZfsDataset = {
        name,
        type,
        guid: 1000n + txg,
        createtxg: txg++,
        origin: null,
        encrypted: false,
        receiveResumeToken: null,
        qubesDirty: null,
        snapshots: [],
        bookmarks: [],
      };
      byName.set(name, ds);
      return ds;
    };
    for (const p of r.paths) add('p/' + p.join('/'));
    add('p/q');
    const qubes: Qube[] = r.qubes.map((q, i) => {
      const name = `q${i}`;
      const persistentRoot = q.klass === 'TemplateVM' || q.klass === 'StandaloneVM';
      const vols: [string, boolean][] = [['root', persistentRoot], ['private', q.klass !== 'DispVM'], ['volatile', false]];
      return {
        name,
        klass: q.klass,
        state: q.state,
        volumes: vols.map(([v, saveOnStop]) => {
          add(`p/q/${name}/${v}`, 'volume');
          return { name: v, pool: 'main', vid: `p/q/${name}/${v}`, saveOnStop, snapOnStart: !saveOnStop && v !== 'volatile', rw: true, source: '', revisionsToKeep: 1, ephemeral: false };
        }),
      };
    });
    add('p/q/.tmp/x', 'volume');
    const all = [...byName.values()];
    // Snapshots with random labels in random order; createtxg ascending per dataset.
    for (const ds of all) {
      const n = rnd(4);
      const labels = new Set<string>();
      for (let i = 0; i < n; i++) labels.add(LABELS[rnd(LABELS.length)]!);
      for (const l of labels) ds.snapshots.push({ name: ds.name + l, guid: 5000n + txg, createtxg: txg++, creation: 1n });
    }
    // Clones: a dataset's origin is a snapshot of a dataset created earlier (as in real ZFS), sometimes.
    for (let i = 0; i < all.length; i++) {
      if (rnd(4) !== 0) continue;
      const candidates = all.slice(0, i).filter((d) => d.snapshots.length > 0);
      if (candidates.length === 0) continue;
      const o = candidates[rnd(candidates.length)]!;
      all[i]!.origin = o.snapshots[rnd(o.snapshots.length)]!.name;
    }
    const names = all.map((d) => d.name).sort();
    const groups: Record<Designation, string[]> = { include: [], forgo: [], void: [] };
    const qgroups: Record<Designation, string[]> = { include: [], forgo: [], void: [] };
    for (const [i, d] of r.designate) groups[d].push(names[i % names.length]!);
    for (const [i, d] of r.qubeDesignate) if (qubes.length > 0) qgroups[d].push(qubes[i % qubes.length]!.name);
    const spec: JobSpec = { since: r.since, progressive: r.progressive, honourOrigins: r.honourOrigins };
    for (const d of ['include', 'forgo', 'void'] as const) {
      const g: Record<string, GroupSpec> = {};
      if (groups[d].length > 0) g[`${d}-ds`] = ['datasets', [...new Set(groups[d])]];
      if (qgroups[d].length > 0) g[`${d}-q`] = ['qubes', [...new Set(qgroups[d])]];
      spec[d] = g;
    }
    return {
      zfs: { datasets: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) },
      qubes: { qubes, pools: [{ name: 'main', driver: 'zfs', container: 'p/q', config: { container: 'p/q' } }] },
      spec,
    };
  });

function run(w: World) {
  const job = mkJob(w.spec);
  const res = resolveDesignations(job, w.qubes, w.zfs);
  const tgt = computeTargets(job, res.designations, w.qubes, w.zfs);
  return { job, res, tgt };
}

const within = (name: string, roots: Iterable<string>): boolean => [...roots].some((r) => isSameOrDescendant(name, r));
const RUNS = { numRuns: 300 };

test('no target ever lies inside a void designation', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      const { res, tgt } = run(w);
      const voids = res.designations.filter((d) => d.designation === 'void').map((d) => d.dataset);
      for (const t of tgt.targets) assert.ok(!within(t.dataset, voids), `${t.snapshot} is inside a void designation`);
    }),
    RUNS,
  );
});

test('every target or intermediate lies in an include designation; transient and work datasets never do', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      const { res, tgt } = run(w);
      const includes = res.designations.filter((d) => d.designation === 'include').map((d) => d.dataset);
      const transient = new Set(w.qubes.qubes.flatMap((q) => q.volumes.filter((v) => !v.saveOnStop).map((v) => v.vid)));
      for (const t of tgt.targets) {
        if (t.kind !== 'origin') assert.ok(within(t.dataset, includes), `${t.snapshot} outside every include`);
        assert.ok(!transient.has(t.dataset), `${t.snapshot} is a transient volume`);
        assert.ok(!isSameOrDescendant(t.dataset, 'p/q/.tmp'), `${t.snapshot} is a driver work dataset`);
      }
    }),
    RUNS,
  );
});

test('include or forgo nested inside another designation always (and only then) gives NESTED_DESIGNATION', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      const { res } = run(w);
      const nested = new Set(res.findings.filter((f) => f.code === 'NESTED_DESIGNATION').map((f) => f.subject));
      for (const d of res.designations) {
        if (d.designation === 'void') continue;
        const inside = res.designations.some((o) => o.dataset !== d.dataset && isSameOrDescendant(d.dataset, o.dataset));
        assert.equal(nested.has(d.dataset), inside, `${d.designation} ${d.dataset}`);
      }
      for (const f of res.findings) if (f.code === 'NESTED_DESIGNATION') assert.equal(f.severity, 'error');
    }),
    RUNS,
  );
});

function checkOrder(targets: readonly Target[]): void {
  const index = new Map(targets.map((t, i) => [t.snapshot, i]));
  assert.equal(index.size, targets.length, 'a snapshot is listed twice');
  const datasetsInOrder: string[] = [];
  for (const t of targets) if (datasetsInOrder[datasetsInOrder.length - 1] !== t.dataset) datasetsInOrder.push(t.dataset);
  assert.equal(new Set(datasetsInOrder).size, datasetsInOrder.length, "one dataset's targets are contiguous");
  const firstOf = new Map<string, number>();
  datasetsInOrder.forEach((d, i) => firstOf.set(d, i));
  for (const a of datasetsInOrder) {
    for (const b of datasetsInOrder) {
      if (a !== b && isSameOrDescendant(b, a)) assert.ok(firstOf.get(a)! < firstOf.get(b)!, `parent ${a} before child ${b}`);
    }
  }
  targets.forEach((t, i) => {
    const prev = targets[i - 1];
    const sameAsPrev = prev !== undefined && prev.dataset === t.dataset;
    if (sameAsPrev) {
      assert.deepEqual(t.send, { type: 'incremental', from: prev.snapshot }, `${t.snapshot} follows ${prev.snapshot}`);
      if (prev.exists && t.exists) assert.ok(prev.createtxg! < t.createtxg!, `createtxg ascending at ${t.snapshot}`);
      assert.ok(prev.exists, `a pending snapshot is always last in its dataset (${prev.snapshot})`);
    }
    if (t.send.type === 'clone') {
      assert.ok(!sameAsPrev, 'only the first send of a dataset is a clone');
      const o = index.get(t.send.origin);
      assert.ok(o !== undefined && o < i, `origin ${t.send.origin} before clone ${t.snapshot}`);
    }
    if (t.send.type === 'incremental' && !sameAsPrev) {
      assert.ok(t.send.from.startsWith(t.dataset + '@') || t.send.from.startsWith(t.dataset + '#'), `base of ${t.snapshot} on its own dataset`);
    }
  });
}

test('order: parents before children, origins before clones, createtxg ascending per dataset', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      checkOrder(run(w).tgt.targets);
    }),
    RUNS,
  );
});

test('progressive: yes sends every snapshot after the base up to the target (but the driver\'s own); no sends only targets and origins', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      const { job, tgt } = run(w);
      const byName = new Map(w.zfs.datasets.map((d) => [d.name, d]));
      for (const t of tgt.targets) {
        if (!job.scope.progressive) assert.notEqual(t.kind, 'intermediate');
        if (t.kind !== 'target' || !job.scope.progressive) continue;
        const ds = byName.get(t.dataset)!;
        const listed = new Set(tgt.targets.filter((x) => x.dataset === t.dataset).map((x) => x.snapshot));
        const target = ds.snapshots.find((s) => s.name === t.snapshot);
        const base = job.scope.since === 'beginning' ? undefined : ds.snapshots.find((s) => s.name === t.dataset + job.scope.since);
        for (const s of ds.snapshots) {
          const after = base === undefined || s.createtxg > base.createtxg;
          const before = target === undefined || s.createtxg <= target.createtxg;
          if (after && before && !isDriverSnapshot(s.name)) assert.ok(listed.has(s.name), `${s.name} missing from the progressive chain`);
          if (isDriverSnapshot(s.name) && s.name !== t.snapshot) {
            const x = tgt.targets.find((y) => y.snapshot === s.name);
            assert.ok(x === undefined || x.kind === 'origin', `${s.name} is a driver snapshot but planned as ${x?.kind}`);
          }
        }
      }
    }),
    RUNS,
  );
});

test('the plan does not depend on the order of the inventory and is deterministic', () => {
  fc.assert(
    fc.property(worldArb, fc.nat(), (w, n) => {
      const a = run(w);
      const shuffled = [...w.zfs.datasets];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (n + i * 7919) % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const b = run({ ...w, zfs: { datasets: shuffled } });
      assert.deepEqual(b.tgt.targets, a.tgt.targets);
      assert.deepEqual(b.res.findings, a.res.findings);
    }),
    { numRuns: 100 },
  );
});

test('no dataset goes unmentioned: each is designated, listed as undesignated, a qube or work dataset, or above one', () => {
  fc.assert(
    fc.property(worldArb, (w) => {
      const { res } = run(w);
      const designated = res.designations.map((d) => d.dataset);
      const f = res.findings.find((x) => x.code === 'DATASET_UNDESIGNATED');
      const listed = [...((f?.details?.['datasets'] as string[] | undefined) ?? []), ...((f?.details?.['undesignatedParents'] as string[] | undefined) ?? [])];
      const qubeRoots = w.qubes.qubes.flatMap((q) => q.volumes.map((v) => v.vid.slice(0, v.vid.lastIndexOf('/'))));
      const work = ['p/q/.tmp', 'p/q/.exported', 'p/q/.importing'];
      const accounted = [...designated, ...qubeRoots, ...work];
      for (const ds of w.zfs.datasets) {
        const ok =
          within(ds.name, accounted) ||
          within(ds.name, listed) ||
          accounted.some((a) => isSameOrDescendant(a, ds.name)) ||
          !ds.name.includes('/');
        assert.ok(ok, `${ds.name} is neither designated nor reported`);
      }
      // And nothing listed is inside a designation.
      for (const l of (f?.details?.['datasets'] as string[] | undefined) ?? []) assert.ok(!within(l, designated), `${l} is listed but designated`);
    }),
    RUNS,
  );
});
