// `send <name> [--dry-run]` (SPEC §6): re-plan from live state (dom0 inventory + one receiver
// inventory), preflight everything, then run the steps in order, recording each one atomically
// before the next starts, bookmarking what was sent, and confirming every target by GUID at the end.
// The decisions are dom0/send/plan.ts (pure); this file collects, executes, records and reports.
import { QzbError, isQzbError } from '../../shared/errors.ts';
import { errorFinding, finding, hasErrors, type Finding } from '../job/findings.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import type { JobState } from '../metadata/types.ts';
import type { SendEvent, StepOutcome } from '../send/events.ts';
import { executeStep, sourceOf, UNFRAMED_MIN_BYTES } from '../send/execute.ts';
import { planSend } from '../send/plan.ts';
import { estimateChains } from '../send/estimate-chains.ts';
import { rangeKey } from '../zfs/send-args.ts';
import { receiverView, tokensToDecode } from '../send/receiver-view.ts';
import type { DecodedToken, SendPlan, SendStep } from '../send/types.ts';
import { formatBytes } from '../output/bytes.ts';
import { deliverSettings, settingsSnapshotName } from '../settings/deliver.ts';
import { analyseJob } from './analyse.ts';
import type { Context, ReceiverConnection, SendAdapters } from './context.ts';
import type { ReceiverHello, ReceiverInventory } from '../receiver-link/types.ts';

/** How many `zfs send -nvP` estimates run at once before the first step. */
const ESTIMATES_AT_ONCE = 4;

// Options of `send`.
export interface SendOptions {
  name: string;
  dryRun: boolean;
  /** Ctrl-C / SIGTERM: stop at once, keep resumable state, exit 130. */
  signal?: AbortSignal;
  onEvent?: (event: SendEvent) => void;
}

// What `send` returns.
export interface SendResult {
  job: string;
  dryRun: boolean;
  steps: StepOutcome[];
  plan: SendPlan | null;
  findings: Finding[];
  bytes: bigint;
  verified: number;
  interrupted: boolean;
  exitCode: 0 | 1 | 3 | 130;
}

/** How often the in-progress record in state.json is rewritten during a step. */
const PROGRESS_SAVE_MS = 5_000;
/** How often a progress event is emitted. */
const PROGRESS_EVENT_MS = 1_000;

// The states of this dom0's other jobs (read without their locks: each state.json is replaced
// atomically), as evidence of which receiver snapshots came from here. An unreadable job is no evidence.
async function otherJobStates(store: MetadataStore, self: string): Promise<JobState[]> {
  const out: JobState[] = [];
  for (const name of await store.list()) {
    if (name === self) continue;
    try {
      out.push((await store.read(name)).state);
    } catch (e) {
      if (!isQzbError(e)) throw e;
    }
  }
  return out;
}

// Runs `send` under the job's lock.
export async function send(options: SendOptions, ctx: Context): Promise<SendResult> {
  const adapters = ctx.send;
  if (!adapters) throw new QzbError('SEND_UNAVAILABLE', 'send needs the receiver and zfs send adapters');
  await requireMetadataDir(ctx.metadataDir);
  const store = new MetadataStore(ctx.metadataDir);
  // The qrexec call's stdin pipe is made (a process start) while the job is locked, read and parsed.
  const releasePrepared = adapters.prepareConnection?.() ?? ((): void => {});
  const lock = await store.lock(options.name, options.dryRun ? 'send --dry-run' : 'send').catch((e: unknown) => {
    releasePrepared();
    throw e;
  });
  // Read once, under the lock. A missing or damaged job fails the command itself (no summary), as
  // it always has.
  const stored = await store.read(options.name).catch(async (e: unknown) => {
    releasePrepared();
    await lock.release();
    throw e;
  });
  const emit = options.onEvent ?? ((): void => {});
  const result: SendResult = { job: options.name, dryRun: options.dryRun, steps: [], plan: null, findings: [], bytes: 0n, verified: 0, interrupted: false, exitCode: 1 };
  let link: ReceiverConnection | null = null;
  try {
    if (lock.tookOverFrom) ctx.notice(`note: took over a stale lock left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command})`);
    const state = stored.state;
    // The receiver session (the qrexec call, the agent's start-up, hello, inventory: seconds in a
    // slow VM) runs while dom0 takes its own inventory, once the job file itself is sound.
    const parsed = ctx.core.loadJob(stored.text);
    const session = parsed.job && !hasErrors(parsed.findings) ? openSession(adapters, parsed.job.receiver.qube, parsed.job.receiver.dataset) : null;
    link = session?.link ?? null;
    const a = await analyseJob(stored.text, ctx, { loaded: parsed });
    result.findings.push(...a.findings.filter((f) => f.severity === 'error'));
    // (A job file with errors has them in the analysis too: no session was opened for it.)
    if (!a.job || !a.zfs || hasErrors(result.findings) || session === null) return finish(result, emit);

    const root = a.job.receiver.dataset;
    const { hello, inventory } = await session.opened;
    const live = session.link;
    const view = receiverView(root, hello, inventory);
    const tokens = await decodeTokens(adapters, tokensToDecode(root, new Set(a.targets.map((t) => t.dataset)), view));
    const history = await otherJobStates(store, options.name);
    const today = ctx.now().toISOString().slice(0, 10);
    const plan = planSend({ targets: a.targets, source: a.zfs, state, patching: a.job.allowedBehaviours.patching, receiver: view, tokens, history, today });
    result.plan = plan;
    result.findings.push(...plan.findings);
    const estimates = new Map<string, bigint | null>();
    if (options.dryRun || !hasErrors(result.findings)) await estimateSteps(plan.steps, adapters, estimates);
    emit({
      event: 'preflight', job: options.name, dryRun: options.dryRun, findings: result.findings,
      steps: plan.steps.map((s) => ({ snapshot: s.snapshot, receiving: s.receiving, action: s.action, stream: s.stream, from: s.from, estimate: estimates.get(s.snapshot) ?? null, reason: s.reason })),
    });
    result.steps = plan.steps.map((s) => ({ snapshot: s.snapshot, action: s.action === 'skip' ? 'skipped' : 'pending', resumed: false, bytes: 0n, reason: s.reason }));
    if (options.dryRun || hasErrors(result.findings)) return finish(result, emit);

    // Record what this run learned before any byte moves: lineage flags, and steps a killed run
    // completed without recording (its in-progress step is on the receiver: plan.ts counts it sent).
    const now = ctx.now().toISOString();
    for (const [ds, flags] of Object.entries(plan.lineages)) {
      state.lineages ??= {};
      state.lineages[ds] ??= { ...flags, receiving: `${root}/${ds}`, fixedAt: now };
    }
    for (const s of plan.steps) {
      if (s.action === 'skip' && !s.patched && s.reason === 'already sent' && state.targets[s.snapshot]?.status === 'snapshotted') {
        markSent(state, s, s.guid, 0n, false, now);
      }
    }
    state.inProgress = null;
    await store.saveState(state);
    await bookmarkSkipped(plan.steps, a.zfs.datasets, adapters, result, emit);
    const label = a.job.scope.targetSnapshot;
    const settingsFor = async (s: SendStep): Promise<void> => {
      if (isQubeRoot(s)) await deliver(s, live, stored.dir, state, label, root, result, emit);
    };
    for (const s of plan.steps) if (s.action === 'skip' && !s.patched && s.reason === 'already sent') await settingsFor(s);

    const runnable = plan.steps.filter((s) => s.action === 'send' || s.action === 'resume');
    const run: Run = { link: live, adapters, state, store, ctx, options, emit, result };
    let index = 0;
    let failed = false;
    // A step's bookmark is made while the next step streams (one at a time): the next step sends
    // from the snapshot itself, which exists, and a run that dies first leaves the bookmark to
    // bookmarkSkipped() of the next run. It starts once the next step's zfs send and request are
    // out (a process start is a fork of this process: not before them), or after the last step.
    // Saves one zfs process start per step off the critical path; the bookmark runs at the lowest
    // CPU priority (adapters.ts), so it does not slow the step's own zfs send and receive either.
    let bookmarking: Promise<void> | null = null;
    let toBookmark: SendStep | null = null;
    const startBookmark = (): void => {
      if (toBookmark === null) return;
      const sent = toBookmark;
      const previous = bookmarking;
      toBookmark = null;
      bookmarking = (async () => {
        await previous;
        await bookmark(sent, a.zfs!.datasets, adapters, result, emit);
      })();
      // Awaited below (its failure is rethrown there); not an unhandled rejection meanwhile.
      bookmarking.catch(() => {});
    };
    let listing: Promise<ReceiverInventory> | null = null;
    let unsaved = false;
    try {
      for (const step of runnable) {
        if (options.signal?.aborted) break;
        index++;
        const outcome = result.steps.find((o) => o.snapshot === step.snapshot)!;
        const estimate = estimates.get(step.snapshot) ?? null;
        // A large stream goes from zfs send straight into the link and is counted from the I/O
        // accounting of the children this process reaps (zfs/proc-io.ts): no other may end meanwhile.
        if (estimate !== null && estimate >= UNFRAMED_MIN_BYTES) {
          startBookmark();
          await bookmarking;
        }
        // A sent step is recorded in the same atomic write as the next step's start (one write and
        // fsync less per step), and by the `finally` below after the last one.
        const ok = await runOne(step, { index, count: runnable.length, estimate, started: startBookmark, deferRecord: index < runnable.length }, run);
        unsaved = ok.ok && index < runnable.length;
        outcome.bytes = ok.bytes;
        outcome.resumed = step.action === 'resume';
        result.bytes += ok.bytes;
        if (!ok.ok) {
          outcome.action = 'failed';
          outcome.reason = ok.message;
          failed = true;
          break;
        }
        outcome.action = 'sent';
        outcome.reason = null;
        toBookmark = step;
        await settingsFor(step);
      }
      startBookmark();
      // The confirming listing (below) runs while the last bookmark is made.
      if (!options.signal?.aborted && !failed) {
        listing = live.client.inventory();
        listing.catch(() => {});
      }
    } finally {
      startBookmark();
      if (unsaved) await store.saveState(state);
      await bookmarking;
    }
    // A signal that came while a step was finishing lets that step complete (it is recorded) and
    // stops the run before the next one: still an interrupted run, with the rest left pending.
    if (options.signal?.aborted) result.interrupted = true;
    if (result.interrupted || failed) return finish(result, emit);

    // Confirm every step on the receiver by GUID (a fresh listing, never the agent's word alone):
    // those sent now and those skipped as already there, never one this run did not get to.
    const after = receiverView(root, hello, await (listing ?? live.client.inventory()));
    const at = ctx.now().toISOString();
    for (const s of plan.steps) {
      const outcome = result.steps.find((o) => o.snapshot === s.snapshot);
      if (s.action === 'pending' || (outcome && outcome.action !== 'sent' && outcome.action !== 'skipped')) continue;
      const held = after.datasets.get(s.receiving)?.snapshots.find((x) => x.label === s.label);
      if (held?.guid === s.guid) {
        if (!s.patched) {
          const r = state.targets[s.snapshot];
          if (r && (r.status === 'sent' || r.status === 'verified')) {
            r.status = 'verified';
            r.verifiedAt = at;
          }
        }
        result.verified++;
      } else {
        result.findings.push(finding('NOT_CONFIRMED', 'error', `${s.receiving}@${s.label} is ${held ? `on the receiver with GUID ${held.guid}, not ${s.guid}` : 'not on the receiver'} after the send: the receiver did not keep what it reported. Run verify, and check the backup pool in the receiver qube.`, { subject: s.snapshot }));
      }
    }
    await store.saveState(state);
    return finish(result, emit);
  } catch (e) {
    if (!isQzbError(e)) throw e;
    result.findings.push(errorFinding(e));
    if (options.signal?.aborted) result.interrupted = true;
    return finish(result, emit);
  } finally {
    releasePrepared();
    await link?.client.close().catch(() => {});
    if (!options.dryRun) await store.log(options.name, `send: ${describe(result)}`, ctx.now()).catch(() => {});
    await lock.release();
  }
}

// The estimate of every step to send (hints): one range dry run per chain of consecutive
// incrementals (estimate-chains.ts), single ones for the rest and for pairs a range did not print;
// a few zfs processes at a time, since each is mostly start-up and their latency overlaps.
async function estimateSteps(steps: readonly SendStep[], adapters: SendAdapters, estimates: Map<string, bigint | null>): Promise<void> {
  const todo = steps.filter((s) => s.action === 'send' || s.action === 'resume');
  const { chains, singles } = adapters.estimateRange ? estimateChains(todo) : { chains: [], singles: todo };
  const jobs: (() => Promise<void>)[] = [];
  const single = (s: SendStep) => async (): Promise<void> => {
    estimates.set(s.snapshot, await adapters.estimate(sourceOf(s)).catch(() => null));
  };
  for (const c of chains) {
    jobs.push(async () => {
      const pairs = await adapters.estimateRange!(c.from, c.last, c.steps[0]!.flags).catch(() => new Map<string, bigint>());
      for (const s of c.steps) {
        const bytes = pairs.get(rangeKey(s.from ?? '', s.snapshot));
        if (bytes !== undefined) estimates.set(s.snapshot, bytes);
        else jobs.push(single(s));
      }
    });
  }
  jobs.push(...singles.map(single));
  const worker = async (): Promise<void> => {
    for (let job = jobs.shift(); job; job = jobs.shift()) await job();
  };
  // Sized by the steps, not the first queue: a chain's pairs the range left out are queued later.
  await Promise.all(Array.from({ length: Math.min(ESTIMATES_AT_ONCE, todo.length) }, worker));
}

// Decodes each receiving dataset's resume token in dom0 (`zfs send -nvP -t`); failures are values.
async function decodeTokens(adapters: SendAdapters, tokens: Map<string, string>): Promise<Map<string, DecodedToken | { error: string }>> {
  const out = new Map<string, DecodedToken | { error: string }>();
  for (const [receiving, token] of tokens) {
    try {
      out.set(receiving, await adapters.decodeToken(token));
    } catch (e) {
      if (!isQzbError(e)) throw e;
      out.set(receiving, { error: e.message.slice(0, 300) });
    }
  }
  return out;
}

/** The link to the receiver, with hello and the inventory under way (awaited once dom0 needs them). */
function openSession(adapters: SendAdapters, qube: string, root: string): { link: ReceiverConnection; opened: Promise<{ hello: ReceiverHello; inventory: ReceiverInventory }> } {
  const link = adapters.connectReceiver(qube);
  const opened = (async () => {
    const hello = await link.client.hello(root);
    return { hello, inventory: await link.client.inventory() };
  })();
  // Awaited once dom0's own analysis passed; after a failed one only closed (in send's `finally`).
  opened.catch(() => {});
  return { link, opened };
}

type StepRun = { ok: true; bytes: bigint } | { ok: false; bytes: bigint; message: string };

/** What every step of one run shares. */
interface Run {
  link: ReceiverConnection;
  adapters: SendAdapters;
  state: JobState;
  store: MetadataStore;
  ctx: Context;
  options: SendOptions;
  emit: (e: SendEvent) => void;
  result: SendResult;
}

/** Where a step stands in the run. */
interface StepAt {
  index: number;
  count: number;
  estimate: bigint | null;
  /** Called once the step's zfs send and request are out (the previous step's bookmark starts then). */
  started?: () => void;
  /** A success is recorded by the caller's next write (with the next step's start), not here. */
  deferRecord?: boolean;
}

// Executes one step and records its outcome in the state before returning (a success with
// deferRecord only in memory: the caller's next write records it).
async function runOne(step: SendStep, info: StepAt, run: Run): Promise<StepRun> {
  const { link, adapters, state, store, ctx, options, emit, result } = run;
  const resumed = step.action === 'resume';
  const started = Date.now();
  const earlier = state.inProgress?.snapshot === step.snapshot ? BigInt(state.inProgress.bytes) : 0n;
  state.inProgress = {
    snapshot: step.snapshot, receiving: step.receiving, startedAt: ctx.now().toISOString(), updatedAt: ctx.now().toISOString(),
    bytes: '0', resumed, pid: process.pid, ...(info.estimate !== null ? { estimate: info.estimate.toString() } : {}),
  };
  await store.saveState(state);
  emit({ event: 'step-start', snapshot: step.snapshot, receiving: step.receiving, stream: step.stream, from: step.from, resumed, estimate: info.estimate, index: info.index, count: info.count });
  let lastEvent = 0;
  let lastSave = Date.now();
  let saving: Promise<void> | null = null;
  // `started` runs once this step's zfs send and its request are out (they are started in the
  // synchronous part of executeStep and the microtasks after it; setImmediate comes later).
  if (info.started) setImmediate(info.started);
  const r = await executeStep(step, link, adapters, {
    signal: options.signal ?? new AbortController().signal,
    estimate: info.estimate,
    onProgress: (bytes) => {
      const t = Date.now();
      if (t - lastEvent >= PROGRESS_EVENT_MS) {
        lastEvent = t;
        emit({ event: 'progress', snapshot: step.snapshot, bytes, estimate: info.estimate, totalBytes: result.bytes + bytes, totalEstimate: null, seconds: (t - started) / 1000 });
      }
      if (t - lastSave >= PROGRESS_SAVE_MS && saving === null && state.inProgress) {
        lastSave = t;
        state.inProgress.bytes = bytes.toString();
        state.inProgress.updatedAt = ctx.now().toISOString();
        saving = store.saveState(state).catch(() => {}).finally(() => { saving = null; });
      }
    },
  });
  await (saving as Promise<void> | null);
  const seconds = (Date.now() - started) / 1000;
  if (r.ok && r.guid !== step.guid) {
    const message = `the receiver reported GUID ${r.guid} for ${step.receiving}@${step.label}, but the source snapshot has GUID ${step.guid}: the step is not recorded as sent. Run verify, and check the backup pool in the receiver qube.`;
    result.findings.push(finding('GUID_MISMATCH', 'error', message, { subject: step.snapshot }));
    emit({ event: 'step-failed', snapshot: step.snapshot, code: 'GUID_MISMATCH', message, resumable: false });
    state.inProgress = null;
    await store.saveState(state);
    return { ok: false, bytes: r.bytes, message };
  }
  if (r.ok) {
    markSent(state, step, r.guid, earlier + r.bytes, resumed, ctx.now().toISOString());
    state.inProgress = null;
    // deferRecord: the caller writes it with the next step's start (before that step's first byte).
    if (!info.deferRecord) await store.saveState(state);
    emit({ event: 'step-done', snapshot: step.snapshot, bytes: r.bytes, guid: r.guid, resumed, seconds });
    return { ok: true, bytes: r.bytes };
  }
  if (state.inProgress) {
    state.inProgress.bytes = (earlier + r.bytes).toString();
    state.inProgress.updatedAt = ctx.now().toISOString();
  }
  await store.saveState(state);
  if (r.cancelled) {
    result.interrupted = true;
    emit({ event: 'step-failed', snapshot: step.snapshot, code: 'INTERRUPTED', message: 'interrupted', resumable: true });
    return { ok: false, bytes: r.bytes, message: 'interrupted' };
  }
  const size = info.estimate !== null ? ` The step needs about ${formatBytes(info.estimate)} on the receiver pool; free space there (or grow the pool)` : ' Free space on the receiver pool';
  const message = r.error.code === 'RECEIVER_POOL_FULL'
    ? `The receiver pool is full: ${step.receiving}@${step.label} could not be received.${size}, then run send again${r.resumable ? ' to resume where it stopped' : ''}.`
    : `${r.error.message}${r.resumable ? ' — run send again to resume' : ''}`;
  result.findings.push(finding(r.error.code, 'error', message, { subject: step.snapshot }));
  emit({ event: 'step-failed', snapshot: step.snapshot, code: r.error.code, message, resumable: r.resumable });
  return { ok: false, bytes: r.bytes, message };
}

// Marks a step's target as sent in the state.
function markSent(state: JobState, step: SendStep, guid: bigint, bytes: bigint, resumed: boolean, at: string): void {
  const old = state.targets[step.snapshot];
  state.targets[step.snapshot] = {
    ...old, snapshot: step.snapshot, status: 'sent', guid: old?.guid ?? step.guid.toString(), receivedGuid: guid.toString(),
    bytes: bytes.toString(), sentAt: at, resumed,
  };
}

// Bookmarks a sent snapshot on the source (`ds#label`), the cursor for later incrementals.
async function bookmark(step: SendStep, datasets: readonly { name: string; bookmarks: readonly { name: string; guid: bigint }[] }[], adapters: SendAdapters, result: SendResult, emit: (e: SendEvent) => void): Promise<void> {
  const name = `${step.dataset}#${step.label}`;
  const existing = datasets.find((d) => d.name === step.dataset)?.bookmarks.find((b) => b.name === name);
  if (existing) {
    if (existing.guid !== step.guid) {
      const message = `the bookmark ${name} already exists for another snapshot (GUID ${existing.guid}); it is left alone, so later incrementals cannot fall back on it for ${step.snapshot}.`;
      result.findings.push(finding('BOOKMARK_CONFLICT', 'warning', message, { subject: name }));
      emit({ event: 'notice', message: `warning: ${message}` });
    }
    return;
  }
  try {
    await adapters.createBookmark(step.snapshot, name);
  } catch (e) {
    if (!isQzbError(e)) throw e;
    const message = `could not bookmark ${step.snapshot} as ${name} (${e.message}); the backup is complete, but an incremental from it will need the snapshot itself.`;
    result.findings.push(finding('BOOKMARK_FAILED', 'warning', message, { subject: name }));
    emit({ event: 'notice', message: `warning: ${message}` });
  }
}

// A qube's root dataset (`<container>/<qube>`) at the job's target label: its settings go there.
function isQubeRoot(s: SendStep): boolean {
  return s.qube !== null && s.type === 'filesystem' && s.kind === 'target';
}

// Delivers the qube's settings document for the label onto its received root snapshot (issue 11).
async function deliver(step: SendStep, link: ReceiverConnection, jobDir: string, state: JobState, label: string, root: string, result: SendResult, emit: (e: SendEvent) => void): Promise<void> {
  try {
    const r = await deliverSettings(link.client, jobDir, state, step.qube!, label, settingsSnapshotName(root, step.dataset, label));
    if (r === 'stored') emit({ event: 'notice', message: `settings of qube ${step.qube} stored with ${step.receiving}@${step.label}` });
  } catch (e) {
    if (!isQzbError(e)) throw e;
    const message = `the settings of qube ${step.qube} could not be stored with ${step.receiving}@${step.label} (${e.message}); its data is backed up. Run send again to store them.`;
    result.findings.push(finding('SETTINGS_NOT_DELIVERED', 'error', message, { subject: step.snapshot }));
    emit({ event: 'notice', message: `error: ${message}` });
  }
}

// Creates missing bookmarks of steps an earlier run sent (it may have stopped before bookmarking).
async function bookmarkSkipped(steps: readonly SendStep[], datasets: Parameters<typeof bookmark>[1], adapters: SendAdapters, result: SendResult, emit: (e: SendEvent) => void): Promise<void> {
  for (const s of steps) if (s.action === 'skip' && !s.patched && s.reason === 'already sent') await bookmark(s, datasets, adapters, result, emit);
}

function finish(result: SendResult, emit: (e: SendEvent) => void): SendResult {
  const errors = hasErrors(result.findings);
  // A dry run ends with the status the real run's plan implies: only planned-pending steps wait.
  const waiting = result.dryRun ? (result.plan?.steps ?? []).some((s) => s.action === 'pending') : result.steps.some((s) => s.action === 'pending');
  result.exitCode = result.interrupted ? 130 : errors ? 1 : waiting ? 3 : 0;
  emit({ event: 'summary', exit: result.exitCode, bytes: result.bytes, steps: result.steps, findings: result.findings, interrupted: result.interrupted, verified: result.verified });
  return result;
}

function describe(r: SendResult): string {
  const n = (a: StepOutcome['action']): number => r.steps.filter((s) => s.action === a).length;
  return `${n('sent')} sent, ${n('skipped')} skipped, ${n('pending')} pending, ${n('failed')} failed, ${r.bytes} bytes, exit ${r.exitCode}${r.interrupted ? ' (interrupted)' : ''}`;
}
