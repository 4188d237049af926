// The argv decisions of the receiver: when -F is passed (only after the live placeholder re-check,
// only for a full filesystem stream that asked for it) and what the re-check refuses. The zfs
// outputs here are recorded from OpenZFS 2.3.2 in the test VM (real-zfs.vm.ts checks them live).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveArgs, refuseReceive } from '../../../receiver/handlers/receive.ts';
import {
  intoPlaceholderRequestProblem, parseObjectCount, parsePropSources, placeholderProblem, type PlaceholderFacts,
} from '../../../receiver/placeholder-check.ts';
import type { ReceiveRequest } from '../../../shared/protocol/schemas/requests.ts';

const FULL: ReceiveRequest = {
  kind: 'receive', dataset: 'backup/qzb/src/a', snapshot: 's1', type: 'filesystem', stream: 'full', origin: null, raw: false, resume: false, intoPlaceholder: true, unframed: false,
};

// `zfs get -H -p -o property,value,source type,origin,encryption,inconsistent,receive_resume_token,org.qubes-zfs-backup:placeholder`
// of a fresh placeholder, recorded on 2.3.2.
const FRESH = 'type\tfilesystem\t-\norigin\t-\t-\nencryption\toff\tdefault\ninconsistent\t0\t-\nreceive_resume_token\t-\t-\norg.qubes-zfs-backup:placeholder\ton\tlocal\n';
const TOKEN = '1-96b3ee710-b8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a796806478e0f26c48f2499525a9c540ba43880fabfe92fcf4d2cc140686b2638293d7ecffa1ab8124cf0996cf4bcc4d6560282e4ad64f74283664400200ea501512';

const facts = (props: string = FRESH, more: Partial<PlaceholderFacts> = {}): PlaceholderFacts => ({
  props: parsePropSources(props)!, snapshots: 0, objects: 1n, ...more,
});
const withProp = (name: string, value: string, source = 'local'): string =>
  FRESH.split('\n').map((l) => (l.startsWith(`${name}\t`) ? `${name}\t${value}\t${source}` : l)).join('\n');

test('-F only for a checked full filesystem stream into a placeholder; never otherwise', () => {
  assert.deepEqual(receiveArgs(FULL, true), ['receive', '-s', '-u', '-F', '-o', 'volmode=none', '-o', 'canmount=noauto', '-o', 'org.qubes-zfs-backup:placeholder=off', 'backup/qzb/src/a@s1']);
  assert.ok(!receiveArgs(FULL, false).includes('-F'), 'asked for, but not (yet) re-checked');
  assert.ok(!receiveArgs({ ...FULL, intoPlaceholder: false }, true).includes('-F'), 'checked flag alone is not enough');
  assert.ok(receiveArgs({ ...FULL, resume: true }, true).includes('-F'), 'a resume into a placeholder needs -F on OpenZFS >= 2.2');
  for (const r of [
    { ...FULL, stream: 'incremental' as const },
    { ...FULL, stream: 'clone' as const, origin: 'backup/qzb/o@s' },
    { ...FULL, type: 'volume' as const },
    { ...FULL, raw: true },
  ]) assert.ok(!receiveArgs(r, true).includes('-F'), JSON.stringify(r));
  // Every receive marks its dataset as no placeholder (locally), so the marker never inherits into it.
  const vol = receiveArgs({ ...FULL, type: 'volume', intoPlaceholder: false });
  assert.deepEqual(vol, ['receive', '-s', '-u', '-o', 'volmode=none', '-o', 'org.qubes-zfs-backup:placeholder=off', 'backup/qzb/src/a@s1']);
});

test('requests that can never go into a placeholder are refused before any zfs call', () => {
  assert.equal(intoPlaceholderRequestProblem({ ...FULL, intoPlaceholder: false, type: 'volume' }), null);
  assert.equal(intoPlaceholderRequestProblem(FULL), null);
  assert.match(intoPlaceholderRequestProblem({ ...FULL, type: 'volume' })!, /volume stream cannot be received into the placeholder/);
  assert.match(intoPlaceholderRequestProblem({ ...FULL, stream: 'incremental' })!, /only to a full stream/);
  assert.match(intoPlaceholderRequestProblem({ ...FULL, raw: true })!, /raw \(encrypted\) stream/);
  assert.match(refuseReceive({ ...FULL, type: 'volume' }, 'backup/qzb')!, /volume stream/);
  assert.equal(refuseReceive(FULL, 'backup/qzb'), null);
});

test('the live re-check accepts only a local marker, no snapshots, no clone, no encryption, no data', () => {
  assert.equal(placeholderProblem(FULL, facts()), null);
  assert.match(placeholderProblem(FULL, facts(withProp('org.qubes-zfs-backup:placeholder', 'on', 'inherited from backup/qzb/src')))!, /not the agent's own placeholder.*inherited from backup\/qzb\/src/);
  assert.match(placeholderProblem(FULL, facts(withProp('org.qubes-zfs-backup:placeholder', 'off')))!, /not the agent's own placeholder/);
  assert.match(placeholderProblem(FULL, facts(withProp('org.qubes-zfs-backup:placeholder', '-', '-')))!, /not the agent's own placeholder/);
  assert.match(placeholderProblem(FULL, facts(withProp('type', 'volume', '-')))!, /not a filesystem/);
  assert.match(placeholderProblem(FULL, facts(withProp('origin', 'backup/qzb/x@s', '-')))!, /is a clone of backup\/qzb\/x@s/);
  assert.match(placeholderProblem(FULL, facts(withProp('encryption', 'aes-256-gcm', '-')))!, /encrypted/);
  assert.match(placeholderProblem(FULL, facts(withProp('inconsistent', '1', '-')))!, /inconsistent/);
  assert.match(placeholderProblem(FULL, facts(FRESH, { snapshots: 2 }))!, /has 2 snapshot/);
  assert.match(placeholderProblem(FULL, facts(FRESH, { objects: 2n }))!, /holds 2 files and directories .*data was written/);
  assert.match(placeholderProblem(FULL, facts(FRESH, { objects: null }))!, /cannot count the files/);
  assert.match(placeholderProblem(FULL, facts(''))!, /not a filesystem/, 'no properties at all');
});

test('a resume into a placeholder needs its partial state; a fresh receive needs none', () => {
  const partial = withProp('receive_resume_token', TOKEN, '-');
  assert.equal(placeholderProblem({ ...FULL, resume: true }, facts(partial)), null);
  assert.match(placeholderProblem({ ...FULL, resume: true }, facts())!, /no partial receive state to resume/);
  assert.match(placeholderProblem(FULL, facts(partial))!, /has partial receive state: resume it or abort it first/);
});

test('zfs userspace objused sums over users; "-" (no accounting) or garbage is unknown', () => {
  assert.equal(parseObjectCount('1\n'), 1n);
  assert.equal(parseObjectCount('1\n1\n'), 2n); // root + a directory owned by uid 1000 (recorded)
  assert.equal(parseObjectCount(''), 0n);
  assert.equal(parseObjectCount('-\n'), null);
  assert.equal(parseObjectCount('1 2\n'), null);
  assert.equal(parsePropSources('type\tfilesystem\n'), null);
});
