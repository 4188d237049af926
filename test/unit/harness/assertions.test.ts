// The replication assertions of the scenario format, over recorded `zfs list` listings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destroyedBetween, parseListing, partialStateProblems, replicationProblems } from '../../harness/guest/assertions.ts';
import { parseProcStat } from '../../harness/guest/cpu.ts';

const L = (rows: string[][]): ReturnType<typeof parseListing> => parseListing(rows.map((r) => r.join('\t')).join('\n') + '\n');
const R = 'backuppool/backups/mydesktop';
const source = L([
  ['mainpool', 'filesystem', '100', '-'],
  ['mainpool/dom0', 'filesystem', '101', '-'],
  ['mainpool/dom0@b1', 'snapshot', '111', '-'],
  ['mainpool/dom0#b1', 'bookmark', '111', '-'],
  ['mainpool/dom0#b0', 'bookmark', '110', '-'],
  ['mainpool/dom0@b2', 'snapshot', '112', '-'],
]);
const receiver = L([
  ['backuppool', 'filesystem', '200', '-'],
  [R, 'filesystem', '201', '-'],
  [`${R}/mainpool`, 'filesystem', '202', '-'],
  [`${R}/mainpool/dom0`, 'filesystem', '203', '-'],
  [`${R}/mainpool/dom0@b0`, 'snapshot', '110', '-'],
  [`${R}/mainpool/dom0@b1`, 'snapshot', '111', '-'],
  [`${R}/mainpool/dom0@b2`, 'snapshot', '999', '-'],
]);
const rep = (snapshots: string[], o: { exact?: boolean; sourceBookmarks?: boolean } = {}): string[] =>
  replicationProblems({ receiverRoot: R, snapshots, exact: o.exact ?? false, sourceBookmarks: o.sourceBookmarks ?? false }, source, receiver);

test('assert-replicated: same GUID passes; another GUID, a missing one or a missing root fail', () => {
  assert.deepEqual(rep(['mainpool/dom0@b1']), []);
  assert.deepEqual(rep(['mainpool/dom0@b2']), [`mainpool/dom0@b2: on the receiver with GUID 999, the source's is 112`]);
  assert.deepEqual(rep(['mainpool/dom0@b9']), ['mainpool/dom0@b9: neither the snapshot nor a bookmark mainpool/dom0#b9 is on the source']);
  assert.deepEqual(replicationProblems({ receiverRoot: 'backuppool/x', snapshots: ['mainpool/dom0@b1'], exact: false, sourceBookmarks: false }, source, receiver), [
    'receiver-root backuppool/x does not exist on the receiver',
    'mainpool/dom0@b1: not on the receiver (no backuppool/x/mainpool/dom0@b1)',
  ]);
});

test('assert-replicated: a snapshot deleted on the source is checked against its bookmark; source-bookmarks; exact', () => {
  assert.deepEqual(rep(['mainpool/dom0@b0']), []);
  assert.deepEqual(rep(['mainpool/dom0@b1', 'mainpool/dom0@b2'], { sourceBookmarks: true }).filter((x) => x.includes('bookmark')), ['mainpool/dom0@b2: the source has no bookmark mainpool/dom0#b2']);
  assert.deepEqual(rep(['mainpool/dom0@b0', 'mainpool/dom0@b1'], { exact: true }), [`unexpected snapshot on the receiver: ${R}/mainpool/dom0@b2`]);
});

test('assert-no-partial-state: resume tokens and %recv datasets under the root', () => {
  assert.deepEqual(partialStateProblems(R, receiver), []);
  const partial = L([[R, 'filesystem', '1', '-'], [`${R}/mainpool/v`, 'volume', '2', '1-abc-def']]);
  assert.match(partialStateProblems(R, partial)[0]!, /mainpool\/v has a receive_resume_token/);
  assert.deepEqual(partialStateProblems('backuppool/nope', partial), ['receiver-root backuppool/nope does not exist on the receiver']);
  // a token outside the root is not this assertion's business
  assert.deepEqual(partialStateProblems(`${R}/a`, L([[`${R}/a`, 'filesystem', '1', '-'], [`${R}/b`, 'volume', '2', '1-x']])), []);
});

test('destroyedBetween: datasets by name, snapshots and bookmarks by name and GUID; aborted partial receives excepted', () => {
  assert.deepEqual(destroyedBetween('source', source, source), []);
  const after = source.filter((x) => x.name !== 'mainpool/dom0@b1').map((x) => (x.name === 'mainpool/dom0#b0' ? { ...x, guid: '7' } : x));
  assert.deepEqual(destroyedBetween('source', source, after), [
    { side: 'source', name: 'mainpool/dom0@b1', type: 'snapshot', guid: '111' },
    { side: 'source', name: 'mainpool/dom0#b0', type: 'bookmark', guid: '110' },
  ]);
  // a placeholder received in full keeps its name (its GUID may change): not destroyed
  assert.deepEqual(destroyedBetween('receiver', receiver, receiver.map((x) => (x.name === `${R}/mainpool` ? { ...x, guid: '5' } : x))), []);
  const withPartial = [...receiver, { name: `${R}/mainpool/v`, type: 'volume', guid: '9', token: '1-abc' }];
  assert.deepEqual(destroyedBetween('receiver', withPartial, receiver), []);
  assert.deepEqual(destroyedBetween('source', withPartial, receiver), [{ side: 'source', name: `${R}/mainpool/v`, type: 'volume', guid: '9' }]);
});

test('parseProcStat: utime, stime, cutime, cstime in ms (comm may hold spaces and parentheses)', () => {
  const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 11 0 1000 0 0';
  assert.deepEqual(parseProcStat(line), { 'user-ms': 2500, 'sys-ms': 300, 'children-user-ms': 70, 'children-sys-ms': 30 });
  assert.equal(parseProcStat('garbage'), undefined);
});
