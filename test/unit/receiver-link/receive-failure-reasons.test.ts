// classifyReceiveFailure against stderr recorded from real `zfs receive` (OpenZFS 2.3.2 in the test
// VM, LC_ALL=C), split into lines the way the agent sends them (safeStderr). real-zfs.vm.ts checks
// the same cases live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyReceiveFailure, type ReceiveFailureReason } from '../../../dom0/receiver-link/errors.ts';

const TOKEN = '1-9c2daf0fc-b8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a7968064e6c1e5d990e4932a4b528b81f48e9c4558f597e4a79766a63030d8705f775b5679fd8906923c27583e2f31379581a1b828593f2933ddc1900101007fc016ee';

const RECORDED: Array<[string, string[], string | null, ReceiveFailureReason]> = [
  ['incremental into a dataset modified since its newest snapshot (filesystem and volume)',
    ['cannot receive incremental stream: destination backup/qzb/f has been modified', 'since most recent snapshot'], null, 'destination-modified'],
  ['incremental whose base the receiver lacks',
    ['cannot receive incremental stream: most recent snapshot of backup/qzb/g does not', 'match incremental source'], null, 'base-mismatch'],
  ['full stream into an existing dataset (also a placeholder, without -F)',
    ["cannot receive new filesystem stream: destination 'backup/qzb/g' exists", 'must specify -F to overwrite it'], null, 'destination-exists'],
  ['new full stream into a dataset holding partial full-receive state (the token tells)',
    ["cannot receive new filesystem stream: destination 'backup/qzb/k' exists", 'must specify -F to overwrite it'], TOKEN, 'partial-state-exists'],
  ['resume into an existing destination without -F (OpenZFS >= 2.2): not partial-state, it needs -F',
    ["cannot receive resume stream: Resuming recv on existing destination 'backup/qzb/src/a'", 'must specify -F to overwrite it'], TOKEN, 'destination-exists'],
  ['new incremental while partial incremental state exists',
    ['cannot receive incremental stream: destination backup/qzb/h contains partially-complete state from "zfs receive -s".'], TOKEN, 'partial-state-exists'],
  ['receiver pool full (full stream; partial state is kept)', ['cannot receive new filesystem stream: out of space'], TOKEN, 'out-of-space'],
  ['receiver pool still full on resume', ['cannot receive resume stream: out of space'], TOKEN, 'out-of-space'],
  ['truncated stream',
    ['cannot receive new filesystem stream: checksum mismatch or incomplete stream.', 'Partially received snapshot is saved.',
      'A resuming stream can be generated on the sending system by running:', `zfs send -t ${TOKEN}`], TOKEN, 'incomplete-stream'],
  ['-F over an encrypted placeholder, or a raw stream over an unencrypted one',
    ['cannot receive new filesystem stream: zfs receive -F cannot be used to destroy an encrypted filesystem or overwrite an unencrypted one with an encrypted one'], null, 'unsupported'],
];

for (const [what, stderr, token, reason] of RECORDED) {
  test(`classifies: ${what}`, () => assert.equal(classifyReceiveFailure(stderr, token), reason));
}
