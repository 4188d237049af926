// `verify <name>`: lists the receiver once and checks every target of the job by GUID (the GUID
// recorded at `snapshot` time, else the live source's). Confirmed targets are recorded as verified;
// anything missing or different is listed and the exit status is 1.
import { QzbError, isQzbError } from '../../shared/errors.ts';
import { errorFinding, finding, hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import { receiverView } from '../send/receiver-view.ts';
import { settingsSnapshotName, verifySettings } from '../settings/deliver.ts';
import { analyseJob } from './analyse.ts';
import type { Context, ReceiverConnection } from './context.ts';

// Options of `verify`.
export interface VerifyOptions {
  name: string;
}

/** One target's verdict. */
export interface VerifiedTarget {
  snapshot: string;
  receiving: string;
  result: 'ok' | 'missing' | 'different' | 'pending';
  /** The GUID expected (recorded, else live), when known. */
  guid: bigint | null;
  receiverGuid: bigint | null;
}

/** The verdict on one qube's settings copy on the receiver. */
export interface VerifiedSettings {
  qube: string;
  /** The received snapshot the copy is attached to. */
  snapshot: string;
  result: 'ok' | 'missing' | 'altered';
}

// What `verify` returns (its --json document).
export interface VerifyResult {
  job: string;
  ok: boolean;
  targets: VerifiedTarget[];
  settings: VerifiedSettings[];
  findings: Finding[];
}

// Runs `verify` under the job's lock.
export async function verify(options: VerifyOptions, ctx: Context): Promise<VerifyResult> {
  const adapters = ctx.send;
  if (!adapters) throw new QzbError('SEND_UNAVAILABLE', 'verify needs the receiver adapters');
  await requireMetadataDir(ctx.metadataDir);
  const store = new MetadataStore(ctx.metadataDir);
  await store.read(options.name);
  // The qrexec call's stdin pipe is made (a process start) while dom0 analyses the job.
  const releasePrepared = adapters.prepareConnection?.() ?? ((): void => {});
  const lock = await store.lock(options.name, 'verify').catch((e: unknown) => {
    releasePrepared();
    throw e;
  });
  const result: VerifyResult = { job: options.name, ok: false, targets: [], settings: [], findings: [] };
  let link: ReceiverConnection | null = null;
  try {
    const stored = await store.read(options.name);
    const state = stored.state;
    const a = await analyseJob(stored.text, ctx);
    result.findings.push(...a.findings.filter((f) => f.severity === 'error'));
    if (!a.job || hasErrors(result.findings)) return result;
    const root = a.job.receiver.dataset;
    link = adapters.connectReceiver(a.job.receiver.qube);
    const hello = await link.client.hello(root);
    if (!hello.receiveRoot.exists) {
      result.findings.push(finding('RECEIVE_ROOT_MISSING', 'error', `The receive root ${root} does not exist on the receiver qube ${a.job.receiver.qube}: nothing of this job is there (is the backup pool imported?).`, { subject: root }));
      return result;
    }
    const view = receiverView(root, hello, await link.client.inventory());
    // Every target the job knows: the live plan's, and any the state recorded that the plan lost.
    const names = new Map<string, { dataset: string; guid: bigint | null }>();
    for (const t of a.targets) names.set(t.snapshot, { dataset: t.dataset, guid: t.guid ?? null });
    for (const r of Object.values(state.targets)) {
      if (!names.has(r.snapshot)) names.set(r.snapshot, { dataset: r.snapshot.slice(0, r.snapshot.indexOf('@')), guid: null });
    }
    const now = ctx.now().toISOString();
    for (const [snapshot, t] of names) {
      const record = state.targets[snapshot];
      const expected = record?.guid !== undefined ? BigInt(record.guid) : t.guid;
      const receiving = `${root}/${t.dataset}`;
      const label = snapshot.slice(t.dataset.length + 1);
      const held = view.datasets.get(receiving)?.snapshots.find((s) => s.label === label) ?? null;
      let verdict: VerifiedTarget['result'];
      if (expected === null) verdict = held ? 'different' : 'pending';
      else if (!held) verdict = record && record.status !== 'snapshotted' ? 'missing' : record ? 'missing' : 'pending';
      else verdict = held.guid === expected ? 'ok' : 'different';
      if (verdict === 'ok' && record && (record.status === 'sent' || record.status === 'verified' || record.status === 'snapshotted')) {
        if (record.status === 'sent' || record.status === 'verified') {
          record.status = 'verified';
          record.verifiedAt = now;
        }
      }
      result.targets.push({ snapshot, receiving, result: verdict, guid: expected, receiverGuid: held?.guid ?? null });
    }
    await store.saveState(state);
    // Each qube's settings copy, on its received root snapshot, against the hash recorded in dom0.
    const label = a.job.scope.targetSnapshot;
    const types = new Map((a.zfs?.datasets ?? []).map((d) => [d.name, d.type]));
    for (const t of a.targets) {
      if (!t.qube || t.kind !== 'target' || types.get(t.dataset) !== 'filesystem') continue;
      const target = result.targets.find((x) => x.snapshot === t.snapshot);
      if (target?.result !== 'ok') continue;
      const snapshot = settingsSnapshotName(root, t.dataset, label);
      const v = await verifySettings(link.client, stored.dir, state, t.qube, label, snapshot);
      if (v.status === 'no-document') continue;
      result.settings.push({ qube: t.qube, snapshot, result: v.status });
      if (v.status === 'missing') {
        result.findings.push(finding('VERIFY_SETTINGS_MISSING', 'error', `the settings of qube ${t.qube} are not on the receiver with ${snapshot}: run send to store them.`, { subject: snapshot }));
      } else if (v.status === 'altered') {
        result.findings.push(finding('VERIFY_SETTINGS_ALTERED', 'error', `the settings of qube ${t.qube} on the receiver (${snapshot}) are not the ones recorded at snapshot time (SHA-256 ${v.found}, recorded ${v.expected}): the copy on the backup disk was altered. Do not restore from it without checking.`, { subject: snapshot }));
      }
    }
    const bad = result.targets.filter((t) => t.result !== 'ok');
    const list = (r: VerifiedTarget['result']): string[] => bad.filter((t) => t.result === r).map((t) => t.snapshot);
    if (list('different').length > 0) {
      result.findings.push(finding('VERIFY_DIFFERENT', 'error', `${plural(list('different').length)} on the receiver with another GUID than the source snapshot: ${list('different').join(', ')}. These are not the snapshots this job backed up.`, { details: { snapshots: list('different') } }));
    }
    if (list('missing').length > 0) {
      result.findings.push(finding('VERIFY_MISSING', 'error', `${plural(list('missing').length)} not on the receiver: ${list('missing').join(', ')}. Run send to send them.`, { details: { snapshots: list('missing') } }));
    }
    if (list('pending').length > 0) {
      result.findings.push(finding('VERIFY_PENDING', 'error', `${plural(list('pending').length)} not snapshotted or sent yet: ${list('pending').join(', ')}. Run snapshot and send first.`, { details: { snapshots: list('pending') } }));
    }
    result.ok = bad.length === 0 && result.settings.every((x) => x.result === 'ok');
    await store.log(options.name, `verify: ${result.targets.length - bad.length} ok, ${bad.length} not`, ctx.now()).catch(() => {});
    return result;
  } catch (e) {
    if (!isQzbError(e)) throw e;
    result.findings.push(errorFinding(e));
    return result;
  } finally {
    releasePrepared();
    await link?.client.close().catch(() => {});
    await lock.release();
  }
}

function plural(n: number): string {
  return n === 1 ? '1 target is' : `${n} targets are`;
}
