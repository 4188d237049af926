// Helpers for the send planner tests: a planned fixture system (test/unit/plan/fixtures.ts), a job
// state as `snapshot` would have recorded it, and a receiver view that holds copies of chosen source
// snapshots (by GUID), as an earlier send would have left it.
import type { ZfsInventory } from '../../../dom0/inventory/types.ts';
import type { JobState } from '../../../dom0/metadata/types.ts';
import type { Target } from '../../../dom0/plan/types.ts';
import { planSend } from '../../../dom0/send/plan.ts';
import type { DecodedToken, ReceiverDatasetView, ReceiverView, SendPlan } from '../../../dom0/send/types.ts';
import { plan } from '../plan/helpers.ts';
import { sys, type JobSpec } from '../plan/fixtures.ts';

export const ROOT = 'bpool/bk';

/** A fixture world: the live targets, the source inventory, and a state recording every existing target. */
export interface World {
  targets: Target[];
  source: ZfsInventory;
  state: JobState;
}

// Plans `system` against `spec` and records every existing target as `snapshot` would.
export function world(system: string, spec: JobSpec): World {
  const r = plan(system, spec);
  const source = sys(system, { addReceiver: spec.receiver === undefined }).zfs;
  const state: JobState = { version: 1, job: 'j', configSha256: '0'.repeat(64), importedAt: 'x', targets: {} };
  for (const t of r.tgt.targets) {
    if (t.exists && t.guid !== undefined) state.targets[t.snapshot] = { snapshot: t.snapshot, status: 'snapshotted', guid: t.guid.toString() };
  }
  return { targets: r.tgt.targets, source, state };
}

// Marks snapshots as sent by this job in the state.
export function markSent(w: World, ...snapshots: string[]): void {
  for (const s of snapshots) {
    const r = w.state.targets[s]!;
    r.status = 'sent';
    r.receivedGuid = r.guid!;
  }
}

/** Receiver datasets to build: source dataset → labels (by source GUID) or extra overrides. */
export type Held = Record<string, { labels?: string[]; extra?: { label: string; guid: bigint }[]; placeholder?: boolean; written?: bigint; token?: string; inconsistent?: boolean; encryption?: string; type?: 'filesystem' | 'volume' }>;

// A receiver view holding `held` (each label copied with the source snapshot's GUID).
export function receiver(w: World, held: Held = {}, over: Partial<ReceiverView> = {}): ReceiverView {
  const datasets = new Map<string, ReceiverDatasetView>();
  datasets.set(ROOT, { name: ROOT, type: 'filesystem', encryption: 'off', inconsistent: false, placeholder: false, resumeToken: null, written: 0n, snapshots: [] });
  for (const [ds, h] of Object.entries(held)) {
    const src = w.source.datasets.find((d) => d.name === ds);
    const snapshots = (h.labels ?? []).map((label) => {
      const s = src?.snapshots.find((x) => x.name === `${ds}@${label}`);
      if (!s) throw new Error(`fixture: no ${ds}@${label}`);
      return { label, guid: s.guid };
    });
    snapshots.push(...(h.extra ?? []));
    const name = `${ROOT}/${ds}`;
    datasets.set(name, {
      name, type: h.type ?? (h.placeholder && !h.inconsistent ? 'filesystem' : src?.type ?? 'filesystem'), encryption: h.encryption ?? 'off', inconsistent: h.inconsistent ?? false,
      placeholder: h.placeholder ?? false, resumeToken: h.token ?? null, written: h.written ?? 0n, snapshots,
    });
  }
  return {
    root: ROOT, rootExists: true, rootType: 'filesystem', rootEncryption: 'off', rootKeyStatus: 'none',
    features: new Map([['extensible_dataset', 'active'], ['large_blocks', 'enabled'], ['lz4_compress', 'active'], ['embedded_data', 'active']]),
    datasets, ...over,
  };
}

// Runs the planner.
export function sendPlan(w: World, r: ReceiverView, opts: { patching?: boolean; tokens?: Map<string, DecodedToken | { error: string }>; history?: JobState[] } = {}): SendPlan {
  return planSend({ targets: w.targets, source: w.source, state: w.state, patching: opts.patching ?? false, receiver: r, tokens: opts.tokens ?? new Map(), history: opts.history ?? [], today: '2026-12-02' });
}

// "action snapshot stream[ from]" lines, e.g. "send tank/a@bk incremental tank/a@prev".
export function stepLines(p: SendPlan): string[] {
  return p.steps.map((s) => `${s.action} ${s.snapshot}${s.action === 'send' || s.action === 'resume' ? ` ${s.stream}${s.from ? ` ${s.from}` : ''}${s.intoPlaceholder ? ' into-placeholder' : ''}${s.abortFirst ? ' abort-first' : ''}` : ''}`);
}

// The codes of the error findings, sorted.
export function errorCodes(p: SendPlan): string[] {
  return p.findings.filter((f) => f.severity === 'error').map((f) => f.code).sort();
}
