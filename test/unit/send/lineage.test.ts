// The send preflight for a source dataset whose lineage was replaced (a restore or qvm-volume import
// makes a fresh dataset, a revert past our snapshots destroys them): RECEIVER_LINEAGE_REPLACED, said
// first and distinctly from DIVERGED / DESTINATION_EXISTS / SNAPSHOTS_IN_THE_WAY, only when dom0's job
// states show the receiver's copy came from this dataset; never anything destroyed or rolled back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobState } from '../../../dom0/metadata/types.ts';
import { asideName, shellWord } from '../../../dom0/send/lineage.ts';
import { errorCodes, receiver, ROOT, sendPlan, stepLines, world, type World } from './helpers.ts';

const DS = { d: 'datasets: tank/a' };
const OLD = 4_242_424_242n;

// The state of an earlier job that sent `snapshots` (GUIDs given) of this dom0.
function earlierJob(job: string, snapshots: Record<string, bigint>): JobState {
  const targets: JobState['targets'] = {};
  for (const [s, g] of Object.entries(snapshots)) targets[s] = { snapshot: s, status: 'sent', guid: g.toString(), receivedGuid: g.toString() };
  return { version: 1, job, configSha256: '0'.repeat(64), importedAt: 'x', targets };
}

// tank/a replaced after job `full` sent tank/a@b1: the source has only the new @b2.
function replacedWorld(system = 'ds tank/a @b2'): World {
  return world(system, { include: DS, target: '@b2' });
}

test('a replaced dataset whose old history the receiver holds: RECEIVER_LINEAGE_REPLACED, not DESTINATION_EXISTS', () => {
  const w = replacedWorld();
  const r = receiver(w, { 'tank/a': { extra: [{ label: 'b1', guid: OLD }] } });
  const history = [earlierJob('full', { 'tank/a@b1': OLD })];
  const p = sendPlan(w, r, { history });
  assert.deepEqual(errorCodes(p), ['RECEIVER_LINEAGE_REPLACED']);
  assert.deepEqual(stepLines(p), ['pending tank/a@b2']);
  const f = p.findings[0]!;
  assert.equal(f.subject, 'tank/a@b2');
  assert.match(f.message, /recorded by job full/);
  assert.match(f.message, new RegExp(`zfs rename ${ROOT}/tank/a ${ROOT}/tank/a-before-2026-12-02`));
  assert.match(f.message, /new receive root/);
  assert.doesNotMatch(f.message, /zfs destroy|zfs rollback/);
  assert.deepEqual(f.details, {
    dataset: 'tank/a', receiving: `${ROOT}/tank/a`, labels: ['b1'], jobs: ['full'],
    renameTo: `${ROOT}/tank/a-before-2026-12-02`, command: `zfs rename ${ROOT}/tank/a ${ROOT}/tank/a-before-2026-12-02`,
  });
  // Without dom0's record of where the receiver's copy came from, the ordinary finding stays.
  assert.deepEqual(errorCodes(sendPlan(w, r)), ['DESTINATION_EXISTS']);
});

test('this job itself may be the evidence (a progressive job whose dataset was imported over)', () => {
  const w = replacedWorld();
  w.state.targets['tank/a@b1'] = { snapshot: 'tank/a@b1', status: 'sent', guid: OLD.toString(), receivedGuid: OLD.toString() };
  const p = sendPlan(w, receiver(w, { 'tank/a': { extra: [{ label: 'b1', guid: OLD }] } }));
  assert.deepEqual(errorCodes(p), ['RECEIVER_LINEAGE_REPLACED']);
});

test('the same label with another GUID: RECEIVER_LINEAGE_REPLACED when dom0 sent the old one, DIVERGED otherwise', () => {
  const w = replacedWorld();
  const r = receiver(w, { 'tank/a': { extra: [{ label: 'b2', guid: OLD }] } });
  assert.deepEqual(errorCodes(sendPlan(w, r, { history: [earlierJob('old', { 'tank/a@b2': OLD })] })), ['RECEIVER_LINEAGE_REPLACED']);
  assert.deepEqual(errorCodes(sendPlan(w, r)), ['DIVERGED']);
  // A record of another dataset's snapshot with that GUID is no evidence for this one.
  assert.deepEqual(errorCodes(sendPlan(w, r, { history: [earlierJob('old', { 'tank/other@b2': OLD })] })), ['DIVERGED']);
});

test('any shared snapshot or bookmark keeps the ordinary planning (incremental, SNAPSHOTS_IN_THE_WAY)', () => {
  const w = world('ds tank/a @prev @b2', { include: DS, target: '@b2', since: '@prev' });
  const history = [earlierJob('old', { 'tank/a@later': OLD })];
  const inTheWay = sendPlan(w, receiver(w, { 'tank/a': { labels: ['prev'], extra: [{ label: 'later', guid: OLD }] } }), { history });
  assert.deepEqual(errorCodes(inTheWay), ['SNAPSHOTS_IN_THE_WAY']);
  // The base kept only as a bookmark still counts as shared history.
  const a = w.source.datasets.find((d) => d.name === 'tank/a')!;
  const prev = a.snapshots.find((s) => s.name === 'tank/a@prev')!;
  const r = receiver(w, { 'tank/a': { labels: ['prev'] } });
  a.snapshots = a.snapshots.filter((s) => s !== prev);
  a.bookmarks.push({ name: 'tank/a#prev', guid: prev.guid, createtxg: prev.createtxg });
  const p = sendPlan(w, r, { history: [earlierJob('old', { 'tank/a@prev': prev.guid })] });
  assert.deepEqual(stepLines(p), ['send tank/a@b2 incremental tank/a#prev']);
});

test('after the old history is renamed aside on the receiver, the next send is a full one', () => {
  const w = replacedWorld();
  const r = receiver(w, { 'tank/a-before-2026-12-02': { extra: [{ label: 'b1', guid: OLD }] } });
  const p = sendPlan(w, r, { history: [earlierJob('full', { 'tank/a@b1': OLD })] });
  assert.deepEqual(errorCodes(p), []);
  assert.deepEqual(stepLines(p), ['send tank/a@b2 full']);
});

test('a parent replaced too: the child is named, and renaming the parent is the one command', () => {
  const w = world('ds tank/a @b2\nds tank/a/v volume @b2', { include: DS, target: '@b2' });
  const r = receiver(w, { 'tank/a': { extra: [{ label: 'b1', guid: OLD }] }, 'tank/a/v': { type: 'volume', extra: [{ label: 'b1', guid: OLD + 1n }] } });
  const p = sendPlan(w, r, { history: [earlierJob('full', { 'tank/a@b1': OLD, 'tank/a/v@b1': OLD + 1n })] });
  assert.deepEqual(errorCodes(p), ['RECEIVER_LINEAGE_REPLACED', 'RECEIVER_LINEAGE_REPLACED']);
  const child = p.findings.find((f) => f.subject === 'tank/a/v@b2')!;
  assert.match(child.message, new RegExp(`renaming ${ROOT}/tank/a \\(above\\)`));
  assert.equal((child.details as Record<string, unknown>)['movedWith'], `${ROOT}/tank/a`);
  assert.equal((child.details as Record<string, unknown>)['command'], undefined);
});

test('the aside name never collides, and odd names are quoted for the shell', () => {
  const taken = new Set(['p/x-before-2026-12-02', 'p/x-before-2026-12-02-2']);
  assert.equal(asideName('p/x', '2026-12-02', (n) => taken.has(n)), 'p/x-before-2026-12-02-3');
  assert.equal(asideName('p/y', '2026-12-02', (n) => taken.has(n)), 'p/y-before-2026-12-02');
  assert.equal(shellWord('p/a b'), "'p/a b'");
  assert.equal(shellWord('p/a.b:c_d-e'), 'p/a.b:c_d-e');
  const w = replacedWorld();
  const r = receiver(w, { 'tank/a': { extra: [{ label: 'b1', guid: OLD }] }, 'tank/a-before-2026-12-02': {} });
  const p = sendPlan(w, r, { history: [earlierJob('full', { 'tank/a@b1': OLD })] });
  assert.match(p.findings[0]!.message, /tank\/a-before-2026-12-02-2`/);
});

test('check, without the receiver: a dataset that kept none of the snapshots this dom0 sent of it', async () => {
  const { sentHistoryGone } = await import('../../../dom0/send/lineage.ts');
  const w = replacedWorld();
  const a = w.source.datasets.find((d) => d.name === 'tank/a')!;
  assert.deepEqual(sentHistoryGone(a, [earlierJob('full', { 'tank/a@b1': OLD })]), { labels: ['b1'], jobs: ['full'] });
  // One sent snapshot still on the source (here, this job's @b2, sent after the old copy was renamed): nothing to say.
  const b2 = a.snapshots.find((s) => s.name === 'tank/a@b2')!.guid;
  assert.equal(sentHistoryGone(a, [earlierJob('full', { 'tank/a@b1': OLD }), earlierJob('next', { 'tank/a@b2': b2 })]), null);
  // Only snapshotted (never sent), or another dataset's: no evidence.
  const snapshotted = earlierJob('x', { 'tank/a@b1': OLD });
  snapshotted.targets['tank/a@b1']!.status = 'snapshotted';
  assert.equal(sentHistoryGone(a, [snapshotted, earlierJob('y', { 'tank/ab@b1': OLD })]), null);
  // A bookmark of the sent snapshot counts as kept.
  a.bookmarks.push({ name: 'tank/a#b1', guid: OLD, createtxg: 1n });
  assert.equal(sentHistoryGone(a, [earlierJob('full', { 'tank/a@b1': OLD })]), null);
});
