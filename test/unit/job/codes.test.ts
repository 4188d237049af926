// One test per finding code: the code, its severity and its exact line:column in a small edit of
// the seed's example job file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_CODES } from '../../../dom0/job/codes.ts';
import { loadJob } from '../../../dom0/job/load.ts';
import { expectOne, seed, withCode } from './helpers.ts';
import { SEED_EXAMPLE } from './seed-example.ts';

const ONLY_MISC_MEMBERS = '  members:\n    - video-editing\n';

test('FILE_TOO_LARGE: more than 1 MiB is refused without parsing', () => {
  const r = loadJob('#'.repeat(1024 * 1024) + '\n');
  assert.equal(r.job, null);
  assert.deepEqual(r.findings.map((f) => f.code), ['FILE_TOO_LARGE']);
  assert.equal(r.findings[0]!.line, undefined);
  // Exactly 1 MiB is accepted (multi-byte characters count as their UTF-8 bytes).
  assert.notEqual(loadJob('#'.repeat(1024 * 1024)).findings[0]?.code, 'FILE_TOO_LARGE');
  assert.equal(loadJob('#' + 'é'.repeat(512 * 1024)).findings[0]?.code, 'FILE_TOO_LARGE');
});

test('EMPTY_FILE: nothing but blanks and comments', () => {
  for (const text of ['', '\n\n', '# just a comment\n', '---\n', '~\n']) {
    const r = loadJob(text);
    assert.equal(r.job, null);
    assert.deepEqual(r.findings.map((f) => [f.code, f.line, f.column]), [['EMPTY_FILE', 1, 1]], JSON.stringify(text));
  }
});

test('YAML_SYNTAX: points at the fault and explains an unquoted @label', () => {
  const f = expectOne(seed('"@backup-2025-04-14"', '@backup-2025-04-14'), 'YAML_SYNTAX', 3, 20);
  assert.equal(f.severity, 'error');
  assert.match(f.message, /must be in quotes/);
  const tab = withCode(seed('  since: beginning', '\tsince: beginning'), 'YAML_SYNTAX');
  assert.deepEqual([tab[0]!.line, tab[0]!.column], [4, 1]);
  assert.match(tab[0]!.message, /tabs/);
  assert.equal(new Set(tab.map((f) => f.line)).size, tab.length, 'one syntax finding per line');
  assert.equal(loadJob('name: [a\n').job, null);
});

test('YAML_SYNTAX: an alias to an anchor that does not exist', () => {
  expectOne(seed('    - vault\n', '    - *vault\n'), 'YAML_SYNTAX', 28, 7);
});

test('YAML_UNSUPPORTED: custom tags', () => {
  expectOne(seed('name: mybackup1', 'name: !!python/object mybackup1'), 'YAML_UNSUPPORTED', 1, 7);
});

test('YAML_UNSUPPORTED: a %YAML 1.2 directive (which would make yes/no text)', () => {
  const r = loadJob('%YAML 1.2\n---\n' + SEED_EXAMPLE);
  assert.deepEqual(r.findings.filter((f) => f.code === 'YAML_UNSUPPORTED').map((f) => [f.line, f.column]), [[1, 1]]);
  assert.ok(r.findings.filter((f) => f.code === 'WRONG_TYPE').every((f) => !/quotes/.test(f.message)));
  assert.deepEqual(loadJob('%YAML 1.1\n---\n' + SEED_EXAMPLE).findings, []);
});

test('NESTING_TOO_DEEP: deep brackets and deep indentation are refused before parsing', () => {
  const r = loadJob('a: ' + '['.repeat(65));
  assert.deepEqual(r.findings.map((f) => [f.code, f.line, f.column]), [['NESTING_TOO_DEEP', 1, 68]]);
  assert.equal(r.job, null);
  const block = loadJob('x: 1\n' + '- '.repeat(200) + 'x\n');
  assert.deepEqual(block.findings.map((f) => [f.code, f.line]), [['NESTING_TOO_DEEP', 2]]);
  // 64 levels are still parsed (and then found to be the wrong shape).
  assert.notEqual(loadJob('a: ' + '['.repeat(64) + ']'.repeat(64)).findings[0]?.code, 'NESTING_TOO_DEEP');
});

test('MULTIPLE_DOCUMENTS: a second document is an error; the first is still checked', () => {
  const r = loadJob(SEED_EXAMPLE + '---\nname: other\n');
  assert.deepEqual(r.findings.map((f) => [f.code, f.line, f.column]), [['MULTIPLE_DOCUMENTS', 50, 1]]);
  assert.equal(r.job?.name, 'mybackup1');
});

test('DUPLICATE_KEY: the same key twice, at the top level or in a section', () => {
  expectOne(SEED_EXAMPLE + 'misc:\n  type: qubes\n  members: [x]\n', 'DUPLICATE_KEY', 50, 1);
  const f = expectOne(seed('  since: beginning\n', '  since: beginning\n  since: "@x"\n'), 'DUPLICATE_KEY', 5, 3);
  assert.equal(f.subject, 'scope.since');
});

test('MISSING_FIELD: in a section (at the section key) and at the top level (at 1:1)', () => {
  const f = expectOne(seed('  since: beginning\n', ''), 'MISSING_FIELD', 2, 1);
  assert.equal(f.subject, 'scope.since');
  assert.match(f.message, /beginning/);
  const top = expectOne(seed('void-groups: []\n', ''), 'MISSING_FIELD', 1, 1);
  assert.equal(top.subject, 'void-groups');
  assert.match(top.message, /void-groups: \[\]/);
  // An empty value is missing too.
  assert.equal(expectOne(seed('  qube: backups-disp', '  qube:'), 'MISSING_FIELD', 11, 3).subject, 'receiver.qube');
  // Every required field, each reported.
  const r = loadJob('other:\n  type: qubes\n  members: [a]\n');
  const missing = r.findings.filter((x) => x.code === 'MISSING_FIELD').map((x) => x.subject);
  assert.deepEqual(missing.sort(), ['allowed-behaviours', 'forgo-groups', 'include-groups', 'name', 'receiver', 'scope', 'void-groups']);
  const sections = loadJob(seed('scope:\n', 'scope:\n  x: 1\n').replace(/^ {2}(target-snapshot|since|progressive|honour-origins).*\n/gm, ''));
  assert.deepEqual(sections.findings.filter((x) => x.code === 'MISSING_FIELD').map((x) => x.subject),
    ['scope.target-snapshot', 'scope.since', 'scope.progressive', 'scope.honour-origins']);
  const group = expectOne(seed('  type: datasets\n', ''), 'MISSING_FIELD', 35, 1);
  assert.equal(group.subject, 'dom0.type');
});

test('UNKNOWN_FIELD: keys inside known sections and groups, with a suggestion', () => {
  const f = expectOne(seed('  patching: no\n', '  patching: no\n  compression: yes\n'), 'UNKNOWN_FIELD', 10, 3);
  assert.equal(f.subject, 'allowed-behaviours.compression');
  const us = loadJob(seed('  honour-origins: no', '  honor-origins: no')).findings.find((x) => x.code === 'UNKNOWN_FIELD');
  assert.match(us!.message, /Did you mean `honour-origins`/);
  assert.deepEqual([us!.line, us!.column], [6, 3]);
  const member = expectOne(seed('    - video-editing\n', '    - video-editing\n  member: [x]\n'), 'UNKNOWN_FIELD', 35, 3);
  assert.match(member.message, /`members`/);
});

test('WRONG_TYPE: quoted yes/no, text for a list, a list for a section, a scalar group', () => {
  const f = expectOne(seed('  progressive: no', '  progressive: "yes"'), 'WRONG_TYPE', 5, 16);
  assert.equal(f.subject, 'scope.progressive');
  assert.match(f.message, /Remove the quotes/);
  assert.match(expectOne(seed('  patching: no', '  patching: 0'), 'WRONG_TYPE', 9, 13).message, /yes or no/);
  assert.match(expectOne(seed('void-groups: []', 'void-groups: misc2'), 'WRONG_TYPE', 19, 14).message, /must be a list/);
  expectOne(seed('receiver:\n  qube: backups-disp\n  dataset: backuppool/backups/mydesktop\n', 'receiver: [backups-disp]\n'), 'WRONG_TYPE', 10, 11);
  assert.match(expectOne(SEED_EXAMPLE + 'extra: 5\n', 'WRONG_TYPE', 50, 8).message, /object group/);
  // A member YAML reads as a yes/no value (a qube named "no") must be quoted.
  assert.match(expectOne(seed('    - vault', '    - no'), 'WRONG_TYPE', 28, 7).message, /quotes/);
  assert.match(expectOne(seed('name: mybackup1', 'name: 2025-04-14'), 'WRONG_TYPE', 1, 7).message, /date/);
  // A top-level list is unusable.
  const list = loadJob('- a\n- b\n');
  assert.equal(list.job, null);
  assert.deepEqual(list.findings.map((x) => [x.code, x.line, x.column]), [['WRONG_TYPE', 1, 1]]);
});

test('MISPLACED_FIELD: fields that lost their indentation (the seed example copied flat)', () => {
  const f = expectOne(seed('  honour-origins: no', 'honour-origins: no'), 'MISPLACED_FIELD', 6, 1);
  assert.match(f.message, /indent it under `scope:`/);
  const flat = loadJob(SEED_EXAMPLE.replace(/^ +/gm, ''));
  const codes = new Set(flat.findings.map((x) => x.code));
  assert.deepEqual([...codes].sort(), ['MISPLACED_FIELD', 'MISSING_FIELD', 'WRONG_TYPE']);
  assert.equal(flat.findings.filter((x) => x.code === 'MISPLACED_FIELD').length, 10);
  // The empty groups still count as defined: no UNDEFINED_GROUP or NO_INCLUDE cascade.
  assert.match(flat.findings.find((x) => x.code === 'WRONG_TYPE')!.message, /indented under `core-qubes:`/);
  // A real group may be called like a field.
  assert.deepEqual(withCode(SEED_EXAMPLE.replace('  - misc', '  - misc\n  - since') + 'since:\n  type: qubes\n  members: [a]\n', 'MISPLACED_FIELD'), []);
});

test('RESERVED_KEY_TYPO: close to a reserved key and not a group, with the fix', () => {
  const cases: Array<[string, string, number, string]> = [
    ['receiver:', 'reciever:', 10, 'receiver'],
    ['include-groups:', 'include-group:', 13, 'include-groups'],
    ['scope:', 'scopes:', 2, 'scope'],
    ['allowed-behaviours:', 'allowed-behaviors:', 7, 'allowed-behaviours'],
    ['void-groups:', 'Void_Groups:', 19, 'void-groups'],
  ];
  for (const [from, to, line, meant] of cases) {
    const text = seed(from, to);
    const f = expectOne(text, 'RESERVED_KEY_TYPO', line, 1);
    assert.match(f.message, new RegExp(`Did you mean \`${meant}\``));
    const missing = withCode(text, 'MISSING_FIELD').find((m) => m.subject === meant);
    assert.match(missing!.message, new RegExp(`line ${line}`));
  }
  assert.match(expectOne(SEED_EXAMPLE + 'exclude-groups: [misc]\n', 'RESERVED_KEY_TYPO', 50, 1).message, /forgo-groups/);
  // A real group whose name is close to a reserved key is a group, not a typo.
  assert.deepEqual(withCode(SEED_EXAMPLE + 'scopes:\n  type: qubes\n  members: [a]\n', 'RESERVED_KEY_TYPO'), []);
});

test('INVALID_NAME: the job name must be a safe argument and directory name', () => {
  const f = expectOne(seed('name: mybackup1', 'name: my backup'), 'INVALID_NAME', 1, 7);
  assert.match(f.message, /" "/);
  expectOne(seed('name: mybackup1', 'name: ".."'), 'INVALID_NAME', 1, 7);
  expectOne(seed('name: mybackup1', 'name: "-rf"'), 'INVALID_NAME', 1, 7);
  expectOne(seed('name: mybackup1', `name: ${'a'.repeat(65)}`), 'INVALID_NAME', 1, 7);
  assert.deepEqual(withCode(seed('name: mybackup1', 'name: backup-2025-04-14.usb_1'), 'INVALID_NAME'), []);
});

test('INVALID_SNAPSHOT_LABEL: a label needs its @ and valid ZFS characters', () => {
  const f = expectOne(seed('  since: beginning', '  since: backup-2025-01-01'), 'INVALID_SNAPSHOT_LABEL', 4, 10);
  assert.match(f.message, /"@backup-2025-01-01"/);
  assert.match(expectOne(seed('  since: beginning', '  since: begining'), 'INVALID_SNAPSHOT_LABEL', 4, 10).message, /beginning/);
  expectOne(seed('"@backup-2025-04-14"', '"@backup/2025"'), 'INVALID_SNAPSHOT_LABEL', 3, 20);
  assert.match(expectOne(seed('"@backup-2025-04-14"', '"mainpool/x@b"'), 'INVALID_SNAPSHOT_LABEL', 3, 20).message, /"@b"/);
  expectOne(seed('"@backup-2025-04-14"', '"@"'), 'INVALID_SNAPSHOT_LABEL', 3, 20);
});

test('TARGET_EQUALS_SINCE', () => {
  expectOne(seed('  since: beginning', '  since: "@backup-2025-04-14"'), 'TARGET_EQUALS_SINCE', 4, 10);
});

test('INVALID_DATASET_NAME: datasets group members and receiver.dataset', () => {
  expectOne(seed('- mainpool/dom0', '- mainpool//dom0'), 'INVALID_DATASET_NAME', 38, 7);
  assert.match(expectOne(seed('- mainpool/dom0', '- /var/lib/qubes'), 'INVALID_DATASET_NAME', 38, 7).message, /path/);
  assert.match(expectOne(seed('- mainpool/dom0', '- mainpool/dom0@snap'), 'INVALID_DATASET_NAME', 38, 7).message, /snapshot/);
  expectOne(seed('backuppool/backups/mydesktop', 'backuppool/backups/my*desktop'), 'INVALID_DATASET_NAME', 12, 12);
});

test('INVALID_QUBE_NAME: qubes group members and receiver.qube', () => {
  expectOne(seed('    - vault', '    - my vault'), 'INVALID_QUBE_NAME', 28, 7);
  expectOne(seed('    - vault', `    - ${'v'.repeat(32)}`), 'INVALID_QUBE_NAME', 28, 7);
  assert.match(expectOne(seed('    - vault', '    - mainpool/vault'), 'INVALID_QUBE_NAME', 28, 7).message, /datasets/);
  expectOne(seed('  qube: backups-disp', '  qube: 9backups'), 'INVALID_QUBE_NAME', 11, 9);
  expectOne(seed('  qube: backups-disp', '  qube: default'), 'INVALID_QUBE_NAME', 11, 9);
});

test('INVALID_GROUP_TYPE: with a suggestion', () => {
  const f = expectOne(seed('misc:\n  type: qubes', 'misc:\n  type: qube'), 'INVALID_GROUP_TYPE', 32, 9);
  assert.match(f.message, /type: qubes/);
  // The group is left out of the Job but still counts as defined (no UNDEFINED_GROUP cascade).
  const r = loadJob(seed('misc:\n  type: qubes', 'misc:\n  type: qube'));
  assert.equal(r.job!.groups.some((g) => g.name === 'misc'), false);
  assert.deepEqual(r.findings.map((x) => x.code), ['INVALID_GROUP_TYPE']);
});

test('DOM0_IN_QUBES_GROUP: says where dom0 goes instead', () => {
  const f = expectOne(seed('    - vault', '    - dom0'), 'DOM0_IN_QUBES_GROUP', 28, 7);
  assert.match(f.message, /type: datasets/);
  assert.match(f.message, /mainpool\/dom0/);
});

test('RECEIVER_IS_DOM0', () => {
  expectOne(seed('  qube: backups-disp', '  qube: dom0'), 'RECEIVER_IS_DOM0', 11, 9);
});

test('UNDEFINED_GROUP: with the closest defined name', () => {
  const f = expectOne(seed('  - misc\n', '  - misk\n'), 'UNDEFINED_GROUP', 16, 5);
  assert.match(f.message, /Did you mean `misc`/);
  assert.match(expectOne(seed('void-groups: []', 'void-groups: [scope]'), 'UNDEFINED_GROUP', 19, 15).message, /field/);
});

test('DUPLICATE_GROUP_REF', () => {
  const f = expectOne(seed('  - misc\n', '  - misc\n  - misc\n'), 'DUPLICATE_GROUP_REF', 17, 5);
  assert.equal(f.severity, 'warning');
});

test('GROUP_IN_SEVERAL_LISTS', () => {
  const f = expectOne(seed('void-groups: []', 'void-groups: [misc]'), 'GROUP_IN_SEVERAL_LISTS', 19, 15);
  assert.match(f.message, /include-groups/);
});

test('GROUP_UNUSED', () => {
  const f = expectOne(seed('  - misc\n', ''), 'GROUP_UNUSED', 30, 1);
  assert.equal(f.severity, 'warning');
  assert.equal(f.subject, 'misc');
});

test('EMPTY_GROUP', () => {
  const f = expectOne(seed(ONLY_MISC_MEMBERS, '  members: []\n'), 'EMPTY_GROUP', 33, 12);
  assert.equal(f.severity, 'warning');
});

test('DUPLICATE_MEMBER: within a group and across groups with the same designation', () => {
  expectOne(seed('    - vault\n', '    - vault\n    - vault\n'), 'DUPLICATE_MEMBER', 29, 7);
  const f = expectOne(seed('    - video-editing\n', '    - video-editing\n    - work\n'), 'DUPLICATE_MEMBER', 35, 7);
  assert.equal(f.severity, 'warning');
  assert.deepEqual(f.details, { groups: ['core-qubes', 'misc'] });
  // The Job keeps one copy within a group.
  const job = loadJob(seed('    - vault\n', '    - vault\n    - vault\n')).job!;
  assert.equal(job.groups[0]!.members.filter((m) => m.value === 'vault').length, 1);
});

test('CONFLICTING_DESIGNATION: the same object included and forgone', () => {
  const f = expectOne(seed('    - sys-usb\n', '    - sys-usb\n    - work\n'), 'CONFLICTING_DESIGNATION', 50, 7);
  assert.equal(f.subject, 'work');
  assert.match(f.message, /include/);
  assert.match(f.message, /forgo/);
  // A qube and a dataset of the same name are different objects.
  assert.deepEqual(withCode(seed('- mainpool/dom0', '- work'), 'CONFLICTING_DESIGNATION'), []);
});

test('NO_INCLUDE: an empty include list, or only empty include groups', () => {
  const list = seed('include-groups:\n  - core-qubes\n  - dom0\n  - misc\n', 'include-groups: []\n');
  expectOne(list, 'NO_INCLUDE', 13, 17);
  const empties = SEED_EXAMPLE.replace(/members:\n( {4}- .*\n)+/g, 'members: []\n');
  expectOne(empties, 'NO_INCLUDE', 14, 3);
  // An undefined include group is reported as such, not as NO_INCLUDE as well.
  assert.deepEqual(withCode(seed('include-groups:\n  - core-qubes\n  - dom0\n  - misc\n', 'include-groups: [nope]\n'), 'NO_INCLUDE'), []);
});

test('TOO_MANY_FINDINGS: a file of garbage keys is cut short', () => {
  const text = Array.from({ length: 700 }, (_, i) => `g${i}: ${i}`).join('\n');
  const r = loadJob(text);
  assert.equal(r.findings.at(-1)!.code, 'TOO_MANY_FINDINGS');
  assert.ok(r.findings.length <= 501);
});

test('every code has a severity that matches the table, and all are exercised above', () => {
  for (const [code, info] of Object.entries(JOB_CODES)) assert.ok(['error', 'warning', 'info'].includes(info.severity), code);
  assert.equal(JOB_CODES.GROUP_UNUSED.severity, 'warning');
  assert.equal(JOB_CODES.CONFLICTING_DESIGNATION.severity, 'error');
});
