// The seed's example job file loads with no findings and gives exactly the expected Job; YAML 1.1
// booleans, anchors and merge keys behave as they did under the seed's PyYAML.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadJob } from '../../../dom0/job/load.ts';
import type { Job } from '../../../dom0/job/types.ts';
import { seed } from './helpers.ts';
import { SEED_EXAMPLE } from './seed-example.ts';

const qubes = (names: string[], firstLine: number) => names.map((value, i) => ({ value, pos: { line: firstLine + i, column: 7 } }));

const EXPECTED: Job = {
  name: 'mybackup1',
  scope: { targetSnapshot: '@backup-2025-04-14', since: 'beginning', progressive: false, honourOrigins: false },
  allowedBehaviours: { snapshotCreation: true, patching: false },
  receiver: { qube: 'backups-disp', dataset: 'backuppool/backups/mydesktop' },
  includeGroups: [
    { name: 'core-qubes', pos: { line: 14, column: 5 } },
    { name: 'dom0', pos: { line: 15, column: 5 } },
    { name: 'misc', pos: { line: 16, column: 5 } },
  ],
  forgoGroups: [{ name: 'system', pos: { line: 18, column: 5 } }],
  voidGroups: [],
  groups: [
    { name: 'core-qubes', type: 'qubes', pos: { line: 22, column: 1 }, members: qubes(['social', 'personal-email', 'financial-accts', 'vault', 'work', 'work-email'], 25) },
    { name: 'misc', type: 'qubes', pos: { line: 31, column: 1 }, members: qubes(['video-editing'], 34) },
    { name: 'dom0', type: 'datasets', pos: { line: 35, column: 1 }, members: qubes(['mainpool/dom0'], 38) },
    {
      name: 'system', type: 'qubes', pos: { line: 39, column: 1 },
      members: qubes(['fedora-41-xfce', 'fedora-41-minimal', 'debian-12-xfce', 'default-dvm', 'default-mgmt-dvm', 'sys-firewall', 'sys-net', 'sys-usb'], 42),
    },
  ],
  positions: {
    name: { line: 1, column: 7 },
    scope: { line: 3, column: 3 },
    'scope.target-snapshot': { line: 3, column: 20 },
    'scope.since': { line: 4, column: 10 },
    'scope.progressive': { line: 5, column: 16 },
    'scope.honour-origins': { line: 6, column: 19 },
    'allowed-behaviours': { line: 8, column: 3 },
    'allowed-behaviours.snapshot-creation': { line: 8, column: 22 },
    'allowed-behaviours.patching': { line: 9, column: 13 },
    receiver: { line: 11, column: 3 },
    'receiver.qube': { line: 11, column: 9 },
    'receiver.dataset': { line: 12, column: 12 },
    'include-groups': { line: 14, column: 3 },
    'forgo-groups': { line: 18, column: 3 },
    'void-groups': { line: 19, column: 14 },
  },
};

test('the seed example loads with no findings into the expected Job', () => {
  const r = loadJob(SEED_EXAMPLE);
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.job, EXPECTED);
});

test('YAML 1.1 booleans: yes/no, on/off, true/false are yes/no values, as with PyYAML', () => {
  const text = seed('  progressive: no\n  honour-origins: no', '  progressive: on\n  honour-origins: True')
    .replace('snapshot-creation: yes', 'snapshot-creation: off').replace('patching: no', 'patching: YES');
  const r = loadJob(text);
  assert.deepEqual(r.findings, []);
  assert.deepEqual([r.job!.scope.progressive, r.job!.scope.honourOrigins], [true, true]);
  assert.deepEqual(r.job!.allowedBehaviours, { snapshotCreation: false, patching: true });
});

test('CRLF line endings, a BOM, flow style and comments change nothing', () => {
  const crlf = loadJob('\uFEFF' + SEED_EXAMPLE.replace(/\n/g, '\r\n'));
  assert.deepEqual(crlf.findings, []);
  assert.equal(crlf.job!.groups.length, 4);
  const flow = loadJob(seed('include-groups:\n  - core-qubes\n  - dom0\n  - misc\n', 'include-groups: [core-qubes, dom0, misc] # all three\n'));
  assert.deepEqual(flow.findings, []);
  assert.deepEqual(flow.job!.includeGroups.map((g) => g.name), ['core-qubes', 'dom0', 'misc']);
});

test('anchors, aliases and merge keys work', () => {
  const text = seed('misc:\n  type: qubes\n  members:\n    - video-editing\n',
    'misc:\n  <<: &qube-group\n    type: qubes\n  members: &m\n    - video-editing\n') + 'more:\n  <<: *qube-group\n  members: [*m]\n';
  const r = loadJob(text.replace('forgo-groups:\n  - system', 'forgo-groups:\n  - system\n  - more'));
  // `members: [*m]` puts a list inside the list: reported, not expanded.
  assert.deepEqual(r.findings.map((f) => f.code), ['WRONG_TYPE']);
  const misc = r.job!.groups.find((g) => g.name === 'misc')!;
  assert.equal(misc.type, 'qubes');
  assert.deepEqual(misc.members.map((m) => m.value), ['video-editing']);
  assert.equal(r.job!.groups.find((g) => g.name === 'more')!.type, 'qubes');
});

test('a Job is still built when unrelated parts have errors; unusable fields are listed', () => {
  const r = loadJob(seed('  since: beginning', '  since: 5').replace('  qube: backups-disp', '  qube: dom0'));
  assert.deepEqual(r.findings.map((f) => f.code), ['WRONG_TYPE', 'RECEIVER_IS_DOM0']);
  assert.equal(r.job!.name, 'mybackup1');
  assert.equal(r.job!.groups.length, 4);
  assert.equal(r.job!.scope.since, '');
  assert.deepEqual(r.job!.invalid, ['receiver.qube', 'scope.since']);
});
