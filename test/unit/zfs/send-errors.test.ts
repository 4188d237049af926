// zfs send / zfs bookmark failure classification vs real stderr (OpenZFS 2.3.2, fixtures/send/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySendFailure } from '../../../dom0/zfs/send-errors.ts';
import { bookmarkArgs, classifyBookmarkError } from '../../../dom0/zfs/bookmark.ts';
import { sendCase, sendFixture } from './send-fixtures.ts';

const classify = (name: string) => {
  const c = sendCase(name);
  return classifySendFailure({ exitCode: c.exitCode, signal: null, stderr: c.stderr });
};

test('recorded send failures', () => {
  assert.deepEqual(classify('send-snapshot-missing'), { kind: 'missing', name: 'src/fs@nope', message: "cannot open 'src/fs@nope': dataset does not exist" });
  assert.equal(classify('send-dataset-missing')?.kind, 'missing');
  assert.deepEqual(classify('send-from-snapshot-missing'), { kind: 'missing', name: 'src/fs@nope', message: "cannot open 'src/fs@nope': dataset does not exist" });
  assert.deepEqual(classify('send-from-bookmark-missing'), {
    kind: 'from-missing', name: 'src/fs#nope', message: "warning: cannot send 'src/fs@b': incremental source (src/fs#nope) does not exist",
  });
  assert.equal(classify('send-from-not-earlier')?.kind, 'from-not-earlier');
  assert.equal(classify('send-from-other-dataset')?.kind, 'from-not-earlier');
  assert.equal(classify('est-snapshot-missing')?.kind, 'missing');
  assert.deepEqual(classify('resume-to-destroyed'), {
    kind: 'resume-to-missing', name: 'src/gone@b', message: "cannot resume send: 'src/gone@b' used in the initial send no longer exists",
  });
  assert.equal(classify('resume-to-destroyed-real')?.kind, 'resume-to-missing');
  assert.equal(classify('resume-to-replaced')?.kind, 'resume-to-replaced');
  const from = classify('resume-from-destroyed');
  assert.equal(from?.kind === 'resume-from-missing' && from.guid, 17369556833557531150n);
  for (const [name, detail] of [['token-corrupt-payload', 'incorrect checksum'], ['token-truncated', 'incorrect checksum'], ['token-garbage', 'incorrect checksum'],
    ['token-bad-version', 'invalid version 2'], ['token-empty', 'invalid format']] as const) {
    const f = classify(name);
    assert.equal(f?.kind === 'token-corrupt' && f.detail, detail, name);
  }
  assert.equal(classify('t-with-i')?.kind, 'usage');
  assert.equal(classify('dump-full'), null);
  assert.equal(classifySendFailure({ exitCode: 1, signal: null, stderr: 'something new\n' })?.kind, 'unknown');
});

test('the reader closing the pipe', () => {
  // Recorded in a shell: status 141 (SIGPIPE), nothing on stderr.
  assert.equal(sendFixture('send-broken-pipe.exit').trim(), '141');
  assert.equal(sendFixture('send-broken-pipe.err'), '');
  assert.equal(classifySendFailure({ exitCode: 141, signal: null, stderr: '' })?.kind, 'broken-pipe');
  // As node reports it.
  assert.equal(classifySendFailure({ exitCode: null, signal: 'SIGPIPE', stderr: [] })?.kind, 'broken-pipe');
  // With SIGPIPE ignored: exit 1 and "signal received".
  assert.equal(sendFixture('send-epipe.exit').trim(), '1');
  assert.equal(classifySendFailure({ exitCode: 1, signal: null, stderr: sendFixture('send-epipe.err') })?.kind, 'broken-pipe');
  assert.deepEqual(classifySendFailure({ exitCode: null, signal: 'SIGTERM', stderr: [] }), { kind: 'killed', signal: 'SIGTERM', message: 'killed by SIGTERM' });
});

test('bookmark argv and stderr', () => {
  assert.deepEqual(bookmarkArgs('tank/a b@s', 'tank/a b#s'), ['bookmark', 'tank/a b@s', 'tank/a b#s']);
  assert.throws(() => bookmarkArgs('tank/a@s', 'tank/b#s'), /same dataset/);
  assert.throws(() => bookmarkArgs('tank/a#s', 'tank/a#t'));
  assert.throws(() => bookmarkArgs('-tank/a@s', '-tank/a#s'));
  assert.equal(sendCase('bookmark-exists').exitCode, 1);
  assert.equal(classifyBookmarkError(sendCase('bookmark-exists').stderr), 'exists');
  // Another snapshot under a taken name: the very same message (compare GUIDs by listing).
  assert.equal(sendCase('bookmark-exists-other').stderr, "cannot create bookmark 'src/fs#a': bookmark exists\n");
  assert.equal(sendCase('bookmark-exists').stderr, sendCase('bookmark-exists-other').stderr);
  assert.equal(classifyBookmarkError(sendCase('bookmark-exists-other').stderr), 'exists');
  assert.equal(sendCase('bookmark-missing-snapshot').exitCode, 2);
  assert.equal(classifyBookmarkError(sendCase('bookmark-missing-snapshot').stderr), 'source-missing');
  assert.equal(classifyBookmarkError(sendCase('bookmark-bad-name').stderr), 'unknown');
  assert.equal(sendCase('bookmark-zvol').exitCode, 0);
});
