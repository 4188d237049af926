// The printed command lines (--verbose, --dry-run) run as printed: every word quoted by
// shared/shell.ts reaches a real bash as exactly the original bytes, on one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { quoteArgv, shellQuote } from '../../../shared/shell.ts';
import { qubesdQueryLine } from '../../../dom0/qubes/client.ts';

const HOSTILE = [
  'tank/qubes/work/private@backup-1', 'pool/with space@my snap', "it's", '"double"', '$HOME', '$(touch /tmp/qzb-pwned)',
  '`id`', 'a;b', 'a|b&c', '!!', '*', '~root', '', 'line1\nline2', 'tab\there', '\u001b[31mred', "mix'$\n\\", 'back\\slash', '-o', '#hash',
];

// What bash makes of a line: each argument NUL-terminated.
function bashArgs(line: string): string[] {
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

test('every hostile word survives a real bash unchanged', () => {
  for (const w of HOSTILE) assert.deepEqual(bashArgs(shellQuote(w)), [w], `word ${JSON.stringify(w)} → ${shellQuote(w)}`);
  assert.deepEqual(bashArgs(quoteArgv(HOSTILE)), HOSTILE);
});

test('a quoted line is one line with no raw control characters', () => {
  // eslint-disable-next-line no-control-regex
  for (const w of HOSTILE) assert.doesNotMatch(shellQuote(w), /[\u0000-\u001f\u007f]/);
  assert.equal(quoteArgv(['zfs', 'list', '-H', 'tank/a b']), "zfs list -H 'tank/a b'");
});

test('qubesd-query lines: -e always, -c only for a socket that is not the default', () => {
  assert.equal(qubesdQueryLine('admin.vm.List', 'dom0', '', '/var/run/qubesd.sock'), 'qubesd-query -e dom0 admin.vm.List dom0');
  assert.equal(qubesdQueryLine('admin.vm.volume.Info', 'work', 'private', '/var/run/qubesd.sock'), 'qubesd-query -e dom0 admin.vm.volume.Info work private');
  assert.equal(qubesdQueryLine('admin.pool.Info', 'dom0', 'pool-1', '/tmp/my sock'), "qubesd-query -c '/tmp/my sock' -e dom0 admin.pool.Info dom0 pool-1");
});
