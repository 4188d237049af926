// The shipped qrexec files: the Qubes 4.2 policy file's name and format (an invalid file under
// /etc/qubes/policy.d breaks every qrexec call), the rpc-config forcing root, the service script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICE = 'qubes.ZfsBackupReceive';

// Tokens accepted in the source/destination columns (qrexec policy parser, R4.2).
const VM_TOKEN = /^(@anyvm|@adminvm|@default|@dispvm|@dispvm:[A-Za-z0-9_.-]+|@dispvm:@tag:[A-Za-z0-9_.-]+|@tag:[A-Za-z0-9_.-]+|@type:(AppVM|TemplateVM|StandaloneVM|DispVM|AdminVM)|[A-Za-z][A-Za-z0-9_.-]{0,30})$/;
const PARAMS = /^(target|user|default_target|notify|autostart)=\S+$/;

/** Problems with one policy file's content (empty list when valid). */
function policyProblems(text: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    if (line.startsWith('!')) {
      problems.push(`${where}: include directives are not expected here`);
      return;
    }
    const [service, argument, source, target, action, ...params] = line.split(/\s+/);
    if (!service || !/^([A-Za-z0-9_.+-]+|\*)$/.test(service)) problems.push(`${where}: bad service ${service}`);
    if (!argument || !/^(\*|\+[A-Za-z0-9_.-]*)$/.test(argument)) problems.push(`${where}: bad argument ${argument}`);
    if (!source || !VM_TOKEN.test(source) || source === '@default') problems.push(`${where}: bad source ${source}`);
    if (!target || !VM_TOKEN.test(target)) problems.push(`${where}: bad target ${target}`);
    if (!action || !['allow', 'deny', 'ask'].includes(action)) problems.push(`${where}: bad action ${action}`);
    for (const p of params) if (!PARAMS.test(p)) problems.push(`${where}: bad parameter ${p}`);
    if (action === 'deny' && params.some((p) => !p.startsWith('notify='))) problems.push(`${where}: deny takes only notify=`);
  });
  return problems;
}

test('policy files: valid names, valid lines, and the service is denied to every qube', () => {
  const files = readdirSync(path.join(root, 'policy'));
  assert.ok(files.length > 0);
  for (const file of files) {
    assert.match(file, /^[0-9a-z_.-]+\.policy$/, `${file}: only 0-9a-z_.- and a .policy suffix`);
    assert.ok(!file.startsWith('.'), `${file}: must not start with '.'`);
    const text = readFileSync(path.join(root, 'policy', file), 'utf8');
    assert.deepEqual(policyProblems(text), [], file);
    const rules = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/));
    assert.deepEqual(rules, [[SERVICE, '*', '@anyvm', '@anyvm', 'deny']]);
  }
});

test('the policy checker itself rejects malformed lines', () => {
  assert.notDeepEqual(policyProblems('qubes.ZfsBackupReceive * @anyvm deny'), []);
  assert.notDeepEqual(policyProblems('qubes.ZfsBackupReceive * @anyvm @anyvm maybe'), []);
  assert.notDeepEqual(policyProblems('qubes.ZfsBackupReceive x @anyvm @anyvm deny'), []);
  assert.notDeepEqual(policyProblems('qubes.ZfsBackupReceive * @anyvm @anyvm deny target=dom0'), []);
  assert.deepEqual(policyProblems('# comment\n\nqubes.Foo +arg work @default ask default_target=vault notify=yes'), []);
});

test('rpc-config forces root; the service script execs the agent bundle with the system node', () => {
  assert.equal(readFileSync(path.join(root, 'qubes-rpc/rpc-config', SERVICE), 'utf8'), "force-user='root'\n");
  const service = path.join(root, 'qubes-rpc', SERVICE);
  assert.ok((statSync(service).mode & 0o111) !== 0, 'the service file is executable');
  const lines = readFileSync(service, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#') || l.startsWith('#!'));
  assert.deepEqual(lines, ['#!/bin/sh', 'exec /usr/bin/node /usr/lib/qubes-zfs-backup/qubes-zfs-backup-receiver.mjs']);
});
