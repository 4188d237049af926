// The `send` step planner (SPEC §6) as a pure function: live targets + job state + the receiver's
// inventory + decoded resume tokens → one step per target snapshot, and every preflight problem at
// once. It simulates the receiver dataset by dataset as the steps would leave it, so each step's
// base is what the receiver will hold when the step runs. No I/O, no clock.
import { finding, type Finding } from '../job/findings.ts';
import type { ZfsDataset } from '../inventory/types.ts';
import type { Target } from '../plan/types.ts';
import { parentOf } from '../../shared/zfs-names.ts';
import { chooseFlags, tokenMismatch } from './flags.ts';
import { asideName, replacedLineage, shellWord } from './lineage.ts';
import type { ReceiverDatasetView, SendFlags, SendPlan, SendPlanInput, SendStep } from './types.ts';

/** A snapshot on the simulated receiving dataset. */
interface SimSnapshot {
  label: string;
  guid: bigint;
  /** Planned in this run (not on the receiver yet). */
  planned: boolean;
}

/** The receiving dataset as the steps planned so far would leave it. */
interface Sim {
  live: ReceiverDatasetView | undefined;
  snapshots: SimSnapshot[];
  /** Still the agent's empty placeholder. */
  placeholder: boolean;
  /** The live resume token has been matched (or discarded) by a step of this run. */
  tokenHandled: boolean;
  /** Why later steps of this lineage wait, once one of them cannot run now. */
  blocked: string | null;
  /** Whether the receiver's history was checked against the source's (once, before the first step). */
  lineageChecked: boolean;
}

// Plans every step of a send run.
export function planSend(input: SendPlanInput): SendPlan {
  const { receiver, state } = input;
  const findings: Finding[] = [...receiverFindings(input)];
  const sources = new Map(input.source.datasets.map((d) => [d.name, d]));
  const sims = new Map<string, Sim>();
  const steps: SendStep[] = [];
  const bySnapshot = new Map<string, SendStep>();
  const firstByDataset = new Map<string, SendStep>();
  const lineages: Record<string, SendFlags> = {};
  const onReceiverUnrecorded: string[] = [];
  /** Receiving datasets found holding a replaced source dataset's history (RECEIVER_LINEAGE_REPLACED). */
  const replaced: string[] = [];

  const simOf = (receiving: string): Sim => {
    let sim = sims.get(receiving);
    if (!sim) {
      const live = receiver.datasets.get(receiving);
      const snapshots = (live?.snapshots ?? []).map((s) => ({ label: s.label, guid: s.guid, planned: false }));
      // Only an empty, consistent filesystem can be the agent's placeholder (a partial full receive
      // of a new dataset below one inherits its marker but is inconsistent).
      const placeholder = live?.placeholder === true && live.type === 'filesystem' && !live.inconsistent && snapshots.length === 0;
      sim = { live, snapshots, placeholder, tokenHandled: false, blocked: null, lineageChecked: false };
      sims.set(receiving, sim);
    }
    return sim;
  };

  for (const t of input.targets) {
    const src = sources.get(t.dataset);
    const receiving = `${receiver.root}/${t.dataset}`;
    const label = t.snapshot.slice(t.dataset.length + 1);
    const sim = simOf(receiving);
    const step: SendStep = {
      snapshot: t.snapshot, dataset: t.dataset, label, kind: t.kind, qube: t.qube ?? null, receiving,
      type: src?.type ?? 'filesystem', guid: t.guid ?? 0n, action: 'pending', stream: 'full', from: null, fromGuid: null,
      receiverOrigin: null, flags: { raw: false, largeBlocks: false, compressed: false, embedded: false }, token: null,
      abortFirst: false, intoPlaceholder: false, reason: null, patched: false,
    };
    steps.push(step);
    bySnapshot.set(t.snapshot, step);
    if (!firstByDataset.has(t.dataset)) firstByDataset.set(t.dataset, step);

    const wait = (reason: string): void => {
      step.action = 'pending';
      step.reason = reason;
      sim.blocked ??= `waits for ${t.snapshot}`;
    };
    const fail = (code: string, message: string, details?: Record<string, unknown>): void => {
      findings.push(finding(code, 'error', message, { subject: t.snapshot, ...(details ? { details } : {}) }));
      wait(`cannot be sent: ${code}`);
    };

    // Dependencies first: an earlier snapshot of the lineage, the origin, the parent.
    if (sim.blocked !== null) {
      step.reason = sim.blocked;
      continue;
    }
    if (t.send.type === 'clone') {
      const o = bySnapshot.get(t.send.origin);
      if (o && o.action === 'pending') {
        wait(`waits for its origin ${t.send.origin}`);
        continue;
      }
    }
    const parent = parentStep(t.dataset, firstByDataset);
    if (parent && parent.action === 'pending' && !hasSnapshots(receiver.datasets.get(parent.receiving))) {
      wait(`waits for its parent ${parent.dataset} (sent first, so that it is not created as an empty placeholder)`);
      continue;
    }
    if (!src) {
      fail('SOURCE_DATASET_MISSING', `${t.dataset} is not in the dom0 inventory any more: run send again`);
      continue;
    }

    // The receiver's history of this dataset belongs to a dataset that was replaced: said first,
    // since every other check of this lineage would only name a symptom of it.
    if (!sim.lineageChecked) {
      sim.lineageChecked = true;
      const gone = replacedLineage(src, sim.live, [state, ...(input.history ?? [])]);
      if (gone) {
        const above = replaced.find((r) => receiving.startsWith(`${r}/`));
        const to = asideName(receiving, input.today, (n) => receiver.datasets.has(n));
        const command = `zfs rename ${shellWord(receiving)} ${shellWord(to)}`;
        const what = above
          ? `renaming ${above} (above) in the receiver qube moves its history aside too; then send again (a full send)`
          : `keep the old history under another name: in the receiver qube run \`${command}\` and send again (a full send of ${t.dataset}); or set receiver.dataset to a new receive root and re-import the job`;
        replaced.push(receiving);
        fail('RECEIVER_LINEAGE_REPLACED', `${receiving} on the receiver holds the history of an earlier ${t.dataset} (${gone.labels.map((l) => `@${l}`).join(', ')}, recorded by job ${gone.jobs.join(', ')}), but ${t.dataset} in dom0 has none of those snapshots any more, neither as snapshots nor as bookmarks: it was replaced by a new dataset (a restore, qvm-volume import, or destroy and re-create), or that history was destroyed on it (a qvm-volume revert past those snapshots does that). Its next backup cannot be incremental onto that history, and a full receive into ${receiving} is refused (it would overwrite that history). Nothing on the receiver is changed or destroyed. To back it up again, ${what}.`, {
          dataset: t.dataset, receiving, labels: gone.labels, jobs: gone.jobs, ...(above ? { movedWith: above } : { renameTo: to, command }),
        });
        continue;
      }
    }

    // Already on the receiver (by GUID), or diverged under the same name.
    if (t.exists && t.guid !== undefined) {
      const present = sim.snapshots.find((s) => s.guid === t.guid);
      if (present) {
        step.action = 'skip';
        if (recordedSent(input, t)) {
          step.reason = 'already sent';
        } else if (input.patching) {
          step.reason = 'already on the receiver (patching)';
          step.patched = true;
        } else {
          step.reason = 'already on the receiver, not sent by this job';
          onReceiverUnrecorded.push(t.snapshot);
        }
        continue;
      }
      const same = sim.snapshots.find((s) => s.label === label);
      if (same) {
        fail('DIVERGED', `${receiving}@${label} on the receiver has GUID ${same.guid}, but ${t.snapshot} has GUID ${t.guid}: they are different snapshots under one name (the source dataset was replaced, or the receiver holds another system's backup). Nothing is overwritten: send this job to a new receiver.dataset, or rename the receiver's copy (zfs rename, in the receiver qube).`);
        continue;
      }
    }

    // Only what `snapshot` recorded is sent, with the GUID it recorded.
    const record = state.targets[t.snapshot];
    if (!t.exists || t.guid === undefined) {
      wait(t.qube ? `not snapshotted yet (qube ${t.qube}): run snapshot` : 'not snapshotted yet: run snapshot');
      continue;
    }
    if (record?.guid === undefined) {
      wait('exists but was not recorded by snapshot: run snapshot first');
      continue;
    }
    if (record.guid !== t.guid.toString()) {
      fail('SNAPSHOT_GUID_CHANGED', `${t.snapshot} now has GUID ${t.guid}, but GUID ${record.guid} was recorded by snapshot: the snapshot was replaced. Nothing is sent; re-import the job (import FILE --replace) to begin this backup again.`);
      continue;
    }

    // Flags of the lineage: recorded at its first send, never mixed afterwards.
    const flags = chooseFlags(src, state.lineages?.[t.dataset], receiver, sim.live);
    if (typeof flags === 'string') {
      fail('LINEAGE_FLAGS_MIXED', flags);
      continue;
    }
    step.flags = flags;
    lineages[t.dataset] = flags;

    // How the stream starts: from the receiver's newest snapshot, or full / as a clone.
    const newest = sim.snapshots.at(-1);
    if (newest) {
      if (!newest.planned && (sim.live?.written ?? 0n) > 0n) {
        fail('RECEIVER_DATASET_MODIFIED', `${receiving} on the receiver was modified after its newest snapshot @${newest.label} (${sim.live!.written} bytes written): an incremental receive would have to roll it back, which this tool never does. In the receiver qube, look at what changed; to keep it, snapshot it there and back up to a new receiver.dataset; to discard it, run zfs rollback ${receiving}@${newest.label} yourself.`);
        continue;
      }
      const base = chooseBase(t, newest, sim, src, input);
      if ('code' in base) {
        fail(base.code, base.message);
        continue;
      }
      step.stream = 'incremental';
      step.from = base.name;
      step.fromGuid = base.guid;
    } else if (t.send.type === 'incremental') {
      fail('BASE_MISSING_ON_RECEIVER', `${t.snapshot} is planned incremental from ${t.send.from}, but ${receiving} has no snapshots on the receiver${sim.live ? '' : ' (it does not exist there)'}. Send a full backup first (since: beginning), or point receiver.dataset at the receive root that holds your previous backup.`);
      continue;
    } else {
      if (sim.live && !sim.placeholder && !(sim.live.inconsistent && sim.live.resumeToken !== null)) {
        fail('DESTINATION_EXISTS', `${receiving} already exists on the receiver (with no snapshots, and not as this tool's placeholder), so a full receive into it is refused (it would be overwritten). Remove or rename it in the receiver qube, or use another receiver.dataset.`);
        continue;
      }
      if (sim.placeholder) {
        if (src.type === 'volume') {
          fail('PLACEHOLDER_TYPE', `${receiving} exists on the receiver as an empty placeholder filesystem, but ${t.dataset} is a volume: a volume cannot replace it. Remove the placeholder in the receiver qube (zfs destroy ${receiving}, after checking it holds nothing) and send again.`);
          continue;
        }
        if (flags.raw || (receiver.rootEncryption !== null && receiver.rootEncryption !== 'off')) {
          fail('PLACEHOLDER_NOT_REPLACEABLE', `${receiving} exists on the receiver as an empty placeholder (a child was backed up first), and ZFS cannot replace it with ${flags.raw ? 'a raw (encrypted) stream' : 'a stream under an encrypted receive root'}. In the receiver qube, check it holds nothing but its children, then send to a new receiver.dataset, or move the children aside and destroy the placeholder (zfs destroy ${receiving}).`);
          continue;
        }
        step.intoPlaceholder = true;
        if (t.send.type === 'clone') {
          findings.push(finding('CLONE_SENT_IN_FULL', 'info', `${t.snapshot} is sent in full rather than as a clone of ${t.send.origin}: ${receiving} already exists on the receiver as an empty placeholder (a child was backed up first), and only a full stream can replace a placeholder.`, { subject: t.snapshot }));
        }
      } else if (t.send.type === 'clone') {
        const origin = t.send.origin;
        const originDataset = origin.slice(0, origin.indexOf('@'));
        const originGuid = sources.get(originDataset)?.snapshots.find((s) => s.name === origin)?.guid;
        const onReceiver = originGuid !== undefined && simOf(`${receiver.root}/${originDataset}`).snapshots.some((s) => s.guid === originGuid);
        if (!onReceiver) {
          fail('ORIGIN_MISSING_ON_RECEIVER', `${t.snapshot} is a clone of ${t.send.origin}, which is not on the receiver with the source's GUID, so it cannot be received as a clone. Send the origin first (it is planned as an origin target when honour-origins is yes), or set honour-origins: no.`);
          continue;
        }
        step.stream = 'clone';
        step.from = t.send.origin;
        step.fromGuid = originGuid;
        step.receiverOrigin = `${receiver.root}/${t.send.origin}`;
      }
    }

    // Partial state left on the receiving dataset: resume it if it is exactly this step.
    if (!sim.tokenHandled && sim.live?.resumeToken) {
      sim.tokenHandled = true;
      const decoded = input.tokens.get(receiving);
      const why = decoded === undefined ? 'it was not decoded' : 'error' in decoded ? `it cannot be decoded (${decoded.error})` : tokenMismatch(decoded, step);
      if (why === null) {
        step.action = 'resume';
        step.token = sim.live.resumeToken;
      } else {
        step.abortFirst = true;
        findings.push(finding('STALE_RESUME_TOKEN', 'info', `${receiving} holds partial receive state that does not belong to this step (${why}): it will be discarded (zfs receive -A) and ${t.snapshot} sent from the start.`, { subject: receiving }));
      }
    }
    if (step.action === 'pending') step.action = 'send';
    sim.snapshots.push({ label, guid: t.guid, planned: true });
    sim.placeholder = false;
  }

  if (onReceiverUnrecorded.length > 0) {
    findings.push(finding('TARGETS_ON_RECEIVER', 'error', `${onReceiverUnrecorded.length === 1 ? 'A target is' : `${onReceiverUnrecorded.length} targets are`} already on the receiver (same GUID) but were not sent by this job, and patching is not allowed: ${onReceiverUnrecorded.join(', ')}. If the receiver is meant to be patched (only missing targets sent), set allowed-behaviours.patching: yes and re-import the job.`, { details: { snapshots: onReceiverUnrecorded } }));
  }
  for (const [receiving, sim] of sims) {
    if (sim.live?.resumeToken && !sim.tokenHandled && !steps.some((s) => s.receiving === receiving && s.action === 'pending')) {
      findings.push(finding('PARTIAL_STATE_LEFT', 'warning', `${receiving} holds partial receive state that no step of this run uses; it is left as it is (discard it in the receiver qube with zfs receive -A ${receiving} if it is not needed).`, { subject: receiving }));
    }
  }
  return { steps, findings, lineages };
}

// Checks of the receiver as a whole: the receive root, resumability, keys.
function receiverFindings(input: SendPlanInput): Finding[] {
  const r = input.receiver;
  const out: Finding[] = [];
  if (!r.rootExists) {
    out.push(finding('RECEIVE_ROOT_MISSING', 'error', `The receive root ${r.root} does not exist on the receiver. Create it once in the receiver qube: zfs create -p -o mountpoint=none -o volmode=none ${r.root}`, { subject: r.root }));
  } else if (r.rootType !== 'filesystem') {
    out.push(finding('RECEIVE_ROOT_NOT_FILESYSTEM', 'error', `The receive root ${r.root} is a ${r.rootType ?? 'dataset of unknown type'}, not a filesystem: nothing can be received below it. Point receiver.dataset at a filesystem.`, { subject: r.root }));
  }
  const ext = r.features.get('extensible_dataset');
  if (ext !== 'enabled' && ext !== 'active') {
    out.push(finding('RECEIVER_NOT_RESUMABLE', 'error', `The receiver pool does not have the extensible_dataset feature enabled, so an interrupted receive could not be resumed. Upgrade the backup pool in the receiver qube (zpool upgrade ${r.root.split('/')[0]}) first.`));
  }
  const encrypted = r.rootEncryption !== null && r.rootEncryption !== 'off';
  const needsKey = encrypted && r.rootKeyStatus === 'unavailable' && input.source.datasets.some((d) => !d.encrypted && input.targets.some((t) => t.dataset === d.name));
  if (needsKey) {
    out.push(finding('RECEIVE_ROOT_KEY_UNAVAILABLE', 'error', `The receive root ${r.root} is encrypted and its key is not loaded, so unencrypted datasets cannot be received into it. Load it in the receiver qube (zfs load-key ${r.root}) and send again.`, { subject: r.root }));
  }
  return out;
}

// The nearest ancestor dataset that has steps in this plan (parents come first in plan order).
function parentStep(dataset: string, firstByDataset: ReadonlyMap<string, SendStep>): SendStep | undefined {
  for (let p = parentOf(dataset); p !== null; p = parentOf(p)) {
    const s = firstByDataset.get(p);
    if (s) return s;
  }
  return undefined;
}

function hasSnapshots(d: ReceiverDatasetView | undefined): boolean {
  return d !== undefined && d.snapshots.length > 0;
}

// True when this job recorded `t` as sent (or verified) with the source's GUID, or was sending it
// when it stopped (a run killed between the receiver's confirmation and the state write).
function recordedSent(input: SendPlanInput, t: Target): boolean {
  const r = input.state.targets[t.snapshot];
  if (r !== undefined && input.state.inProgress?.snapshot === t.snapshot && r.guid === t.guid?.toString()) return true;
  return r !== undefined && (r.status === 'sent' || r.status === 'verified') && (r.receivedGuid ?? r.guid) === t.guid?.toString();
}

// True when this job sent a snapshot of `dataset` with this GUID (recorded in the state).
function sentByThisJob(input: SendPlanInput, dataset: string, guid: bigint): boolean {
  const g = guid.toString();
  const busy = input.state.inProgress?.snapshot;
  if (busy?.startsWith(`${dataset}@`) && input.state.targets[busy]?.guid === g) return true;
  for (const r of Object.values(input.state.targets)) {
    if (r.snapshot.startsWith(`${dataset}@`) && (r.status === 'sent' || r.status === 'verified') && (r.receivedGuid ?? r.guid) === g) return true;
  }
  return false;
}

// A source snapshot, or failing that a bookmark, of `ds` with this GUID.
function sourceRef(ds: ZfsDataset, guid: bigint): { name: string; guid: bigint; createtxg: bigint } | null {
  const snap = ds.snapshots.find((s) => s.guid === guid);
  if (snap) return snap;
  return ds.bookmarks.find((b) => b.guid === guid) ?? null;
}

/** Why a step cannot be planned: a finding code and its message. */
interface Problem {
  code: string;
  message: string;
}

function problem(code: string, message: string): Problem {
  return { code, message };
}

// The incremental base for a step onto a receiving dataset that has snapshots, or why there is none.
function chooseBase(t: Target, newest: SimSnapshot, sim: Sim, src: ZfsDataset, input: SendPlanInput): { name: string; guid: bigint } | Problem {
  const receiving = `${input.receiver.root}/${t.dataset}`;
  const ours = newest.planned || sentByThisJob(input, t.dataset, newest.guid);
  if (t.send.type === 'incremental') {
    const from = t.send.from;
    const fromRef = from.includes('#') ? src.bookmarks.find((b) => b.name === from) : src.snapshots.find((s) => s.name === from);
    if (fromRef && fromRef.guid !== newest.guid && !ours) {
      const at = sim.snapshots.findIndex((s) => s.guid === fromRef.guid);
      if (at >= 0) {
        const inTheWay = sim.snapshots.slice(at + 1).map((s) => `@${s.label}`);
        return problem('SNAPSHOTS_IN_THE_WAY', `${t.snapshot} is incremental from ${from}, but on the receiver ${receiving} has newer snapshots after it: ${inTheWay.join(', ')}. ZFS can only add snapshots after the newest one. If those are old backups you no longer need, destroy them in the receiver qube; otherwise set since to the newest of them.`);
      }
      return problem('BASE_MISSING_ON_RECEIVER', `${t.snapshot} is incremental from ${from}, which is not on the receiver (${receiving}'s newest snapshot is @${newest.label}, GUID ${newest.guid}). Set since to the label of the backup this receiver holds, or send to a new receiver.dataset.`);
    }
  } else if (!ours) {
    return problem('DESTINATION_EXISTS', `${t.snapshot} would be sent ${t.send.type === 'clone' ? 'as a clone' : 'in full'}, but ${receiving} already exists on the receiver with snapshots this job did not send (newest @${newest.label}). A full receive cannot go into it. Use since: <label of that backup> for an incremental, patching: yes if the receiver already holds these targets, or another receiver.dataset. A qube restored with "restore" has new datasets (new GUIDs) whose history cannot continue the old one: send it to a new receiver.dataset, or rename the old copy in the receiver qube first (zfs rename ${receiving} ${receiving}-before-restore).`);
  }
  const ref = sourceRef(src, newest.guid);
  if (ref === null) {
    return problem('BASE_NOT_ON_SOURCE', `${receiving}'s newest snapshot on the receiver, @${newest.label} (GUID ${newest.guid}), is neither a snapshot nor a bookmark of ${t.dataset} any more, so nothing can be sent incrementally onto it. Keep (or recreate from the receiver) the bookmark ${t.dataset}#${newest.label}; otherwise send to a new receiver.dataset. A qube restored with "restore" has new datasets (new GUIDs) whose history cannot continue the old one: send it to a new receiver.dataset, or rename the old copy in the receiver qube first (zfs rename ${receiving} ${receiving}-before-restore).`);
  }
  if (t.createtxg !== undefined && ref.createtxg >= t.createtxg) {
    return problem('BASE_NOT_OLDER', `${receiving}'s newest snapshot on the receiver, @${newest.label}, is not older than ${t.snapshot} on the source, so ${t.snapshot} cannot be added after it.`);
  }
  return { name: ref.name, guid: ref.guid };
}
