// Parsers vs real `zfs list -H -p` output recorded from OpenZFS 2.3.2 (fixtures/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  assembleInventory, datasetListArgs, namedSnapshotListArgs, parseDatasetList, parseSnapshotList, snapshotListArgs, ZfsParseError,
} from '../../../dom0/zfs/list.ts';
import { snapshotArgs } from '../../../dom0/zfs/snapshot.ts';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');

test('listing argv is exactly the two commands', () => {
  assert.deepEqual(datasetListArgs(), ['list', '-H', '-p', '-t', 'filesystem,volume', '-o', 'name,type,guid,createtxg,origin,encryption,receive_resume_token,org.qubes:dirty']);
  assert.deepEqual(snapshotListArgs(), ['list', '-H', '-p', '-t', 'snapshot,bookmark', '-o', 'name,guid,createtxg,creation']);
  assert.deepEqual(namedSnapshotListArgs(['a@b', 'c d@e']), ['list', '-H', '-p', '-t', 'snapshot', '-o', 'name,guid,createtxg,creation', 'a@b', 'c d@e']);
});

test('datasets: bigint GUIDs beyond 2^53, spaces, origins, encryption, dirty', () => {
  const ds = parseDatasetList(fixture('datasets.txt'));
  assert.equal(ds.length, 11);
  const work = ds.find((d) => d.name === 'tank/qubes/work/private')!;
  assert.equal(work.guid, 17370044154829320232n);
  assert.equal(work.type, 'volume');
  assert.equal(work.qubesDirty, 'on');
  const root = ds.find((d) => d.name === 'tank/qubes/work/root')!;
  assert.equal(root.origin, 'tank/qubes/fedora-41/root@qubes-clean-abcdefgh');
  assert.equal(root.qubesDirty, null);
  assert.equal(ds.find((d) => d.name === 'tank/qubes/fedora-41/root')!.qubesDirty, 'off');
  assert.equal(ds.find((d) => d.name === 'tank/dom0/with space')!.type, 'filesystem');
  assert.equal(ds.find((d) => d.name === 'tank/secret')!.encrypted, true);
  assert.equal(ds.find((d) => d.name === 'tank/dom0')!.encrypted, false);
  assert.equal(ds.find((d) => d.name === 'tank/dom0')!.receiveResumeToken, null);
});

test('snapshots and bookmarks are attached to their datasets and sorted by createtxg', () => {
  const inv = assembleInventory(parseDatasetList(fixture('datasets.txt')), parseSnapshotList(fixture('snapshots.txt')));
  const dom0 = inv.datasets.find((d) => d.name === 'tank/dom0')!;
  assert.deepEqual(dom0.snapshots.map((s) => s.name), ['tank/dom0@old-1', 'tank/dom0@old-2']);
  assert.deepEqual(dom0.bookmarks.map((b) => [b.name, b.guid]), [['tank/dom0#old-1', 9733959757178270440n]]);
  assert.equal(dom0.snapshots[0]!.creation, 1795708528n);
  const spaced = inv.datasets.find((d) => d.name === 'tank/dom0/with space')!;
  assert.deepEqual(spaced.snapshots.map((s) => s.name), ['tank/dom0/with space@a b']);
  assert.deepEqual(inv.datasets.map((d) => d.name), [...inv.datasets.map((d) => d.name)].sort());
});

test('sorting is by createtxg, not by name or listing order', () => {
  const ds = parseDatasetList('p\tfilesystem\t1\t1\t-\toff\t-\t-\n');
  const inv = assembleInventory(ds, parseSnapshotList('p@b\t5\t9\t100\np@a\t6\t3\t200\np@c\t7\t5\t50\n'));
  assert.deepEqual(inv.datasets[0]!.snapshots.map((s) => s.name), ['p@a', 'p@c', 'p@b']);
});

test('named snapshot listing parses', () => {
  const l = parseSnapshotList(fixture('named.txt'));
  assert.deepEqual(l.snapshots.map((s) => s.name), ['tank/dom0@old-2', 'tank/dom0/with space@a b']);
});

test('a wrong field count or a non-number is an error, not a guess', () => {
  assert.throws(() => parseDatasetList('p\tfilesystem\t1\t1\t-\toff\t-\n'), ZfsParseError);
  assert.throws(() => parseDatasetList('p\tfilesystem\tx\t1\t-\toff\t-\t-\n'), ZfsParseError);
  assert.throws(() => parseDatasetList('p\tsnapshot\t1\t1\t-\toff\t-\t-\n'), ZfsParseError);
  assert.throws(() => parseSnapshotList('p@a\t1\t2\n'), ZfsParseError);
  assert.throws(() => parseSnapshotList('p\t1\t2\t3\n'), ZfsParseError);
  // A user property value holding a tab stays in the last column.
  assert.equal(parseDatasetList('p\tfilesystem\t1\t1\t-\toff\t-\ta\tb\n')[0]!.qubesDirty, null);
  assert.deepEqual(parseDatasetList(''), []);
});

test('snapshot argv: one pool per atomic command', () => {
  assert.deepEqual(snapshotArgs(['tank/a@l', 'tank/b c@l']), ['snapshot', 'tank/a@l', 'tank/b c@l']);
  assert.throws(() => snapshotArgs(['tank/a@l', 'aux/b@l']), /cannot span pools/);
  assert.throws(() => snapshotArgs([]));
  assert.throws(() => snapshotArgs(['tank/a']));
});
