// The send step planner (SPEC §6): staged steps, preflight by GUID, bases, placeholders, tokens, flags.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedToken } from '../../../dom0/send/types.ts';
import { errorCodes, markSent, receiver, ROOT, sendPlan, stepLines, world } from './helpers.ts';

const DS = { d: 'datasets: tank/a' };
const guidOf = (w: ReturnType<typeof world>, snapshot: string): bigint => w.source.datasets.flatMap((d) => d.snapshots).find((s) => s.name === snapshot)!.guid;
const token = (over: Partial<DecodedToken>): DecodedToken => ({ toname: 'tank/a@bk', toguid: 0n, fromguid: null, bytes: 1000n, flags: { largeblockok: true, embedok: true, compressok: true, rawok: false }, ...over });

test('a first backup: one full step per target, flags -L -c -e fixed for the lineage', () => {
  const w = world('ds tank/a @bk\nds tank/a/b @bk', { include: DS });
  const p = sendPlan(w, receiver(w));
  assert.deepEqual(stepLines(p), ['send tank/a@bk full', 'send tank/a/b@bk full']);
  assert.deepEqual(errorCodes(p), []);
  assert.deepEqual(p.lineages['tank/a'], { raw: false, largeBlocks: true, compressed: true, embedded: true });
  assert.equal(p.steps[0]!.receiving, `${ROOT}/tank/a`);
});

test('re-running a finished job: every step is skipped as already sent', () => {
  const w = world('ds tank/a @bk', { include: DS });
  markSent(w, 'tank/a@bk');
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['bk'] } }));
  assert.deepEqual(stepLines(p), ['skip tank/a@bk']);
  assert.equal(p.steps[0]!.reason, 'already sent');
  assert.deepEqual(p.findings, []);
});

test('incremental from since when the receiver holds it as its newest snapshot', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['prev'] } }));
  assert.deepEqual(stepLines(p), ['send tank/a@bk incremental tank/a@prev']);
  assert.equal(p.steps[0]!.fromGuid, guidOf(w, 'tank/a@prev'));
});

test('since deleted on the source: the bookmark with its GUID is the base', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  const prev = guidOf(w, 'tank/a@prev');
  const a = w.source.datasets.find((d) => d.name === 'tank/a')!;
  const r = receiver(w, { 'tank/a': { labels: ['prev'] } });
  a.snapshots = a.snapshots.filter((s) => s.name !== 'tank/a@prev');
  a.bookmarks.push({ name: 'tank/a#prev', guid: prev, createtxg: 1n });
  const p = sendPlan(w, r);
  assert.deepEqual(stepLines(p), ['send tank/a@bk incremental tank/a#prev']);
});

test('snapshots after the base on the receiver are named, never rolled back', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['prev'], extra: [{ label: 'later', guid: 42n }] } }));
  assert.deepEqual(errorCodes(p), ['SNAPSHOTS_IN_THE_WAY']);
  assert.match(p.findings[0]!.message, /@later/);
  assert.equal(p.steps[0]!.action, 'pending');
});

test('an incremental whose base is not on the receiver at all', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w))), ['BASE_MISSING_ON_RECEIVER']);
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w, { 'tank/a': { extra: [{ label: 'other', guid: 7n }] } }))), ['BASE_MISSING_ON_RECEIVER']);
});

test('patching: no refuses targets already on the receiver (one finding listing them); yes skips them', () => {
  const w = world('ds tank/a @bk\nds tank/b @bk', { include: { d: 'datasets: tank/a tank/b' } });
  const r = receiver(w, { 'tank/a': { labels: ['bk'] }, 'tank/b': { labels: ['bk'] } });
  const no = sendPlan(w, r);
  assert.deepEqual(errorCodes(no), ['TARGETS_ON_RECEIVER']);
  assert.deepEqual(no.findings[0]!.details, { snapshots: ['tank/a@bk', 'tank/b@bk'] });
  const yes = sendPlan(w, r, { patching: true });
  assert.deepEqual(stepLines(yes), ['skip tank/a@bk', 'skip tank/b@bk']);
  assert.ok(yes.steps.every((s) => s.patched));
  assert.deepEqual(yes.findings, []);
});

test('the same label with another GUID on the receiver is DIVERGED', () => {
  const w = world('ds tank/a @bk', { include: DS });
  const p = sendPlan(w, receiver(w, { 'tank/a': { extra: [{ label: 'bk', guid: 99n }] } }), { patching: true });
  assert.deepEqual(errorCodes(p), ['DIVERGED']);
});

test('staged: a pending target holds back its later snapshots and its children; what is ready goes', () => {
  const system = [
    'pool main zfs tank/qubes',
    'qube fedora TemplateVM',
    'qube work AppVM template=fedora state=Running @s1',
    'ds tank/dom0 @bk',
  ].join('\n');
  const w = world(system, { include: { q: 'qubes: work', d: 'datasets: tank/dom0' }, forgo: { t: 'qubes: fedora backup' }, progressive: true });
  assert.deepEqual(stepLines(sendPlan(w, receiver(w))), [
    'send tank/dom0@bk full',
    'send tank/qubes/work@s1 full',
    'pending tank/qubes/work@bk',
    'send tank/qubes/work/private@s1 full',
    'pending tank/qubes/work/private@bk',
  ]);
  // A child whose parent's target waits is not sent (it would leave the parent an empty placeholder).
  const w2 = world('ds tank/d @x\nds tank/d/sub @bk', { include: { d: 'datasets: tank/d' } });
  const p = sendPlan(w2, receiver(w2));
  assert.deepEqual(stepLines(p), ['pending tank/d@bk', 'pending tank/d/sub@bk']);
  assert.match(p.steps[1]!.reason!, /parent tank\/d /);
  assert.deepEqual(errorCodes(p), []);
});

test('a target that exists but was not recorded by snapshot waits', () => {
  const w = world('ds tank/a @bk', { include: DS });
  delete w.state.targets['tank/a@bk'];
  const p = sendPlan(w, receiver(w));
  assert.deepEqual(stepLines(p), ['pending tank/a@bk']);
  assert.match(p.steps[0]!.reason!, /run snapshot/);
});

test('a recorded GUID that changed is an error, never a re-baseline', () => {
  const w = world('ds tank/a @bk', { include: DS });
  w.state.targets['tank/a@bk']!.guid = '12345';
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w))), ['SNAPSHOT_GUID_CHANGED']);
});

test("a full send into the agent's own empty placeholder replaces it; a volume cannot", () => {
  const w = world('ds tank/a @bk\nds tank/v volume @bk', { include: { d: 'datasets: tank/a tank/v' } });
  const p = sendPlan(w, receiver(w, { 'tank/a': { placeholder: true }, 'tank/v': { placeholder: true } }));
  assert.deepEqual(stepLines(p).slice(0, 1), ['send tank/a@bk full into-placeholder']);
  assert.deepEqual(errorCodes(p), ['PLACEHOLDER_TYPE']);
});

test('a dataset on the receiver that is neither ours nor a placeholder is never overwritten', () => {
  const w = world('ds tank/a @bk', { include: DS });
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w, { 'tank/a': {} }))), ['DESTINATION_EXISTS']);
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w, { 'tank/a': { extra: [{ label: 'x', guid: 5n }] } }))), ['DESTINATION_EXISTS']);
});

test('a receiving dataset modified since its newest snapshot is refused (nothing rolled back)', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['prev'], written: 4096n } }));
  assert.deepEqual(errorCodes(p), ['RECEIVER_DATASET_MODIFIED']);
  assert.match(p.findings[0]!.message, /never does/);
});

test('a resume token that matches the step exactly resumes it', () => {
  const w = world('ds tank/a @prev @bk', { include: DS, since: '@prev' });
  const r = receiver(w, { 'tank/a': { labels: ['prev'], token: '1-abc-def-789' } });
  const good = token({ toguid: guidOf(w, 'tank/a@bk'), fromguid: guidOf(w, 'tank/a@prev') });
  const p = sendPlan(w, r, { tokens: new Map([[`${ROOT}/tank/a`, good]]) });
  assert.deepEqual(stepLines(p), ['resume tank/a@bk incremental tank/a@prev']);
  assert.equal(p.steps[0]!.token, '1-abc-def-789');
  // Without large blocks in the token (the dataset has none) it still matches.
  const small = token({ toguid: guidOf(w, 'tank/a@bk'), fromguid: guidOf(w, 'tank/a@prev'), flags: { largeblockok: false, embedok: false, compressok: true, rawok: false } });
  assert.equal(sendPlan(w, r, { tokens: new Map([[`${ROOT}/tank/a`, small]]) }).steps[0]!.action, 'resume');
});

test('a forged or stale token never steers the send: it is discarded and the planned step restarts', () => {
  const w = world('ds tank/a @prev @bk\nds tank/void @bk', { include: DS, since: '@prev' });
  const r = receiver(w, { 'tank/a': { labels: ['prev'], token: '1-abc-def-789' } });
  const bk = guidOf(w, 'tank/a@bk');
  const prev = guidOf(w, 'tank/a@prev');
  const forged: DecodedToken[] = [
    token({ toname: 'tank/void@bk', toguid: guidOf(w, 'tank/void@bk'), fromguid: null }), // a dataset outside the plan
    token({ toguid: bk + 1n, fromguid: prev }), // another toguid
    token({ toguid: bk, fromguid: null }), // full instead of incremental
    token({ toguid: bk, fromguid: prev, flags: { largeblockok: true, embedok: true, compressok: true, rawok: true } }), // raw flipped
  ];
  for (const t of forged) {
    const p = sendPlan(w, r, { tokens: new Map([[`${ROOT}/tank/a`, t]]) });
    assert.deepEqual(stepLines(p), ['send tank/a@bk incremental tank/a@prev abort-first'], JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(p.steps[0]!.token, null);
    assert.ok(p.findings.some((f) => f.code === 'STALE_RESUME_TOKEN'));
  }
  const undecodable = sendPlan(w, r, { tokens: new Map([[`${ROOT}/tank/a`, { error: 'resume token is corrupt' }]]) });
  assert.deepEqual(stepLines(undecodable), ['send tank/a@bk incremental tank/a@prev abort-first']);
});

test('an interrupted full receive into a new dataset resumes', () => {
  const w = world('ds tank/a @bk', { include: DS });
  const r = receiver(w, { 'tank/a': { inconsistent: true, token: '1-aa-bb-cc' } });
  const p = sendPlan(w, r, { tokens: new Map([[`${ROOT}/tank/a`, token({ toguid: guidOf(w, 'tank/a@bk') })]]) });
  assert.deepEqual(stepLines(p), ['resume tank/a@bk full']);
});

test('encrypted sources go raw; a lineage recorded unencrypted cannot continue raw', () => {
  const w = world('ds tank/a @bk', { include: DS });
  w.source.datasets.find((d) => d.name === 'tank/a')!.encrypted = true;
  assert.deepEqual(sendPlan(w, receiver(w)).steps[0]!.flags, { raw: true, largeBlocks: false, compressed: false, embedded: false });
  w.state.lineages = { 'tank/a': { raw: false, largeBlocks: true, compressed: true, embedded: true, receiving: `${ROOT}/tank/a`, fixedAt: 'x' } };
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w))), ['LINEAGE_FLAGS_MIXED']);
});

test('no -e into an encrypted receive root, no -L without large_blocks', () => {
  const w = world('ds tank/a @bk', { include: DS });
  const r = receiver(w, {}, { rootEncryption: 'aes-256-gcm', rootKeyStatus: 'available', features: new Map([['extensible_dataset', 'active'], ['lz4_compress', 'active'], ['embedded_data', 'active']]) });
  assert.deepEqual(sendPlan(w, r).steps[0]!.flags, { raw: false, largeBlocks: false, compressed: true, embedded: false });
});

test('receiver-wide preflight: missing receive root, no resumable receive, an unloaded key', () => {
  const w = world('ds tank/a @bk', { include: DS });
  const p = sendPlan(w, receiver(w, {}, { rootExists: false, features: new Map(), rootEncryption: 'aes-256-gcm', rootKeyStatus: 'unavailable' }));
  assert.deepEqual(errorCodes(p), ['RECEIVER_NOT_RESUMABLE', 'RECEIVE_ROOT_KEY_UNAVAILABLE', 'RECEIVE_ROOT_MISSING']);
  assert.match(p.findings.find((f) => f.code === 'RECEIVE_ROOT_MISSING')!.message, /zfs create -p -o mountpoint=none -o volmode=none bpool\/bk/);
});

test('honour-origins: the origin goes first, the clone is received as a clone of it', () => {
  const w = world('ds tank/x/o @o1\nds tank/b origin=tank/x/o@o1 @bk', { include: { d: 'datasets: tank/b' }, forgo: { f: 'datasets: tank/x' }, honourOrigins: true });
  const p = sendPlan(w, receiver(w));
  assert.deepEqual(stepLines(p), ['send tank/x/o@o1 full', 'send tank/b@bk clone tank/x/o@o1']);
  assert.equal(p.steps[1]!.receiverOrigin, `${ROOT}/tank/x/o@o1`);
});

test('a clone whose origin is not on the receiver and not planned cannot be received as one', () => {
  const w = world('ds tank/x/o @o1\nds tank/b origin=tank/x/o@o1 @bk', { include: { d: 'datasets: tank/b' }, forgo: { f: 'datasets: tank/x' }, honourOrigins: true });
  w.targets = w.targets.filter((t) => t.kind !== 'origin');
  assert.deepEqual(errorCodes(sendPlan(w, receiver(w))), ['ORIGIN_MISSING_ON_RECEIVER']);
});

test('progressive: an intermediate the user deleted after it was sent is continued from its bookmark', () => {
  const s1 = 777n;
  // The user deletes @s1 after it was sent; send bookmarked it; the plan is recomputed live.
  const w = world('ds tank/a @s2 @bk', { include: DS, progressive: true });
  const a = w.source.datasets.find((d) => d.name === 'tank/a')!;
  a.bookmarks.push({ name: 'tank/a#s1', guid: s1, createtxg: 1n });
  w.state.targets['tank/a@s1'] = { snapshot: 'tank/a@s1', status: 'sent', guid: s1.toString(), receivedGuid: s1.toString() };
  const p = sendPlan(w, receiver(w, { 'tank/a': { extra: [{ label: 's1', guid: s1 }] } }));
  assert.deepEqual(stepLines(p), ['send tank/a@s2 incremental tank/a#s1', 'send tank/a@bk incremental tank/a@s2']);
});

test('partial state no step uses is left alone, with a warning', () => {
  const w = world('ds tank/a @bk', { include: DS });
  markSent(w, 'tank/a@bk');
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['bk'], token: '1-aa-bb-cc' } }));
  assert.deepEqual(stepLines(p), ['skip tank/a@bk']);
  assert.deepEqual(p.findings.map((f) => `${f.code}/${f.severity}`), ['PARTIAL_STATE_LEFT/warning']);
});

test('a step a killed run completed before recording it counts as sent by this job', () => {
  const w = world('ds tank/a @s1 @bk', { include: DS, progressive: true });
  w.state.inProgress = { snapshot: 'tank/a@s1', receiving: `${ROOT}/tank/a`, startedAt: 'x', updatedAt: 'x', bytes: '0', resumed: false, pid: 1 };
  const p = sendPlan(w, receiver(w, { 'tank/a': { labels: ['s1'] } }));
  assert.deepEqual(stepLines(p), ['skip tank/a@s1', 'send tank/a@bk incremental tank/a@s1']);
  assert.equal(p.steps[0]!.reason, 'already sent');
  assert.deepEqual(errorCodes(p), []);
});
