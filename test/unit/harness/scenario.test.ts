import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenarioText, parseSize, ScenarioError } from '../../harness/scenario.ts';

const SEED_LIKE = `
system:
  pools:
    - name: mainpool
  datasets:
    - name: mainpool/dom0
      type: filesystem
      data: 2M
      snapshots: ["@old-1", "@old-2"]
      encrypted: false
  qubes-pools:
    - {name: zfs-main, driver: zfs, container: mainpool/qubes}
    - {name: varlibqubes, driver: file}
  qubes:
    - {name: fedora-41, class: TemplateVM, pool: zfs-main, data: {root: 4M, private: 1M}}
    - {name: work, class: AppVM, template: fedora-41, state: Running, data: {private: 2M}}
    - {name: work-copy, class: AppVM, template: fedora-41, clone-of: work}
    - {name: legacy, class: AppVM, template: fedora-41, pool: varlibqubes}
    - {name: disp123, class: DispVM, template: fedora-41}
  receiver:
    qube: backups-disp
    pool: backuppool
    dataset: backuppool/backups/mydesktop
    encrypted: false
files:
  backup1.yaml: |
    name: mybackup1
steps:
  - run: check backup1.yaml --json
    expect: {exit: 0}
  - run: import backup1.yaml
  - run: snapshot mybackup1
  - qube: stop work
  - write: {qube: work, volume: private, bytes: 1M}
  - zfs: [snapshot, mainpool/dom0@manual]
  - receiver-zfs: [list, -t, all]
  - run: send mybackup1
    interrupt: {after-bytes: 3M}
  - run: send mybackup1
    fault: {kill-agent-after-bytes: 1M}
`;

function problems(text: string): string[] {
  try {
    parseScenarioText('t.yaml', text);
  } catch (e) {
    assert.ok(e instanceof ScenarioError, String(e));
    return e.problems;
  }
  return [];
}

test('sizes: K/M/G are powers of 1024; plain numbers are bytes', () => {
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('4K'), 4096);
  assert.equal(parseSize('2M'), 2 * 1024 * 1024);
  assert.equal(parseSize('1G'), 1024 ** 3);
  assert.equal(parseSize(1000), 1000);
  assert.throws(() => parseSize('2 MB extra'), /not a size/);
  assert.throws(() => parseSize(1.5), /whole number/);
});

test("the SCENARIOS.md example parses and normalises", () => {
  const s = parseScenarioText('seed.yaml', SEED_LIKE);
  assert.equal(s.pools[0]!.name, 'mainpool');
  assert.equal(s.datasets[0]!.data, 2 * 1024 * 1024);
  assert.deepEqual(s.datasets[0]!.snapshots, ['@old-1', '@old-2']);
  const work = s.qubes.find((q) => q.name === 'work')!;
  assert.equal(work.state, 'Running');
  assert.deepEqual(work.volumePools, { root: 'zfs-main', private: 'zfs-main', volatile: 'zfs-main' });
  assert.equal(s.qubes.find((q) => q.name === 'legacy')!.volumePools['private'], 'varlibqubes');
  assert.equal(s.qubes.find((q) => q.name === 'work-copy')!.cloneOf, 'work');
  // the receiver qube is in the inventory, running, with no volumes
  const recv = s.qubes.find((q) => q.name === 'backups-disp')!;
  assert.equal(recv.state, 'Running');
  assert.equal(recv.synthetic, true);
  assert.deepEqual(s.steps[0], { kind: 'run', argv: ['check', 'backup1.yaml', '--json'], env: {}, expect: { exit: 0 } });
  assert.deepEqual(s.steps[3], { kind: 'qube', action: 'stop', qube: 'work' });
  assert.deepEqual(s.steps[4], { kind: 'write', qube: 'work', volume: 'private', bytes: 1024 * 1024, offset: 0 });
  assert.deepEqual(s.steps[6], { kind: 'receiver-zfs', argv: ['list', '-t', 'all'] });
  assert.deepEqual((s.steps[7] as { interrupt?: unknown }).interrupt, { afterBytes: 3 * 1024 * 1024, signal: 'SIGINT' });
  assert.deepEqual((s.steps[8] as { fault?: unknown }).fault, { killAgentAfterBytes: 1024 * 1024 });
  assert.equal(s.files['backup1.yaml'], 'name: mybackup1\n');
});

test('unknown keys are rejected with their path', () => {
  const p = problems('system:\n  pools: [{name: p, sise: 1M}]\n');
  assert.ok(p.some((x) => x.includes('system.pools.0') && x.includes('"sise"')), p.join('\n'));
  const q = problems('steps:\n  - run: check\n    expct: {exit: 0}\n');
  assert.ok(q.some((x) => x.startsWith('steps.0') && x.includes('expct')), q.join('\n'));
  const r = problems('steps:\n  - run: send x\n    fault: {unplug-disk: true}\n');
  assert.ok(r.some((x) => x.startsWith('steps.0') && x.includes('unplug-disk')), r.join('\n'));
  assert.ok(problems('bogus: 1\n').some((x) => x.includes('"bogus"')));
});

test('references are checked: templates, clone sources, pools, receiver pool', () => {
  const base = (qubes: string, extra = ''): string => `system:\n  pools: [{name: mainpool}]\n  qubes-pools: [{name: z, driver: zfs, container: mainpool/q}]\n  qubes:\n${qubes}${extra}`;
  assert.ok(problems(base('    - {name: a, class: AppVM, template: t}\n')).some((x) => x.includes('template t must be listed before it')));
  assert.ok(problems(base('    - {name: a, class: AppVM}\n')).some((x) => x.includes('needs template')));
  assert.ok(problems(base('    - {name: t, class: TemplateVM, pool: nope}\n')).some((x) => x.includes('pool nope is not in system.qubes-pools')));
  assert.ok(problems(base('    - {name: t, class: TemplateVM}\n    - {name: a, class: AppVM, template: t, data: {root: 1M}}\n')).some((x) => x.includes('not persistent')));
  assert.ok(problems(base('    - {name: t, class: TemplateVM}\n', '  receiver: {qube: r, pool: mainpool, dataset: mainpool/b}\n')).some((x) => x.includes('also a dom0 pool')));
  assert.ok(problems(base('    - {name: t, class: TemplateVM}\n') + 'steps:\n  - qube: start nobody\n').some((x) => x.includes('qube nobody is not in system.qubes')));
});

test('qube steps: start, stop, remove, revert NAME:VOLUME', () => {
  const s = parseScenarioText('q.yaml', `system:
  pools: [{name: mainpool}]
  qubes-pools: [{name: z, driver: zfs, container: mainpool/q}]
  qubes: [{name: t, class: TemplateVM}, {name: d, class: DispVM, template: t, auto-cleanup: true}]
steps:
  - qube: remove d
  - qube: revert t:root
`);
  assert.deepEqual(s.steps, [
    { kind: 'qube', action: 'remove', qube: 'd' },
    { kind: 'qube', action: 'revert', qube: 't', volume: 'root' },
  ]);
  assert.equal(s.qubes[1]!.autoCleanup, true);
  assert.ok(problems('steps:\n  - qube: revert t\n').some((x) => x.includes('revert NAME:VOLUME')));
});

test('YAML syntax errors carry a position', () => {
  const p = problems('system: [\n');
  assert.ok(p.length > 0 && p[0]!.startsWith('YAML:'), p.join('\n'));
});

test('every scenario file in test/scenarios is valid', () => {
  const dir = fileURLToPath(new URL('../../scenarios', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  for (const f of files) parseScenarioText(f, readFileSync(join(dir, f), 'utf8'));
  parseScenarioText('demo-scenario.yaml', readFileSync(join(dir, '../harness/demo-scenario.yaml'), 'utf8'));
});

const WITH_RECEIVER = `system:
  pools: [{name: mainpool}]
  receiver: {qube: backups-disp, pool: backuppool, dataset: backuppool/backups/mydesktop}
steps:
`;

test('assertion steps and zfs-pipe normalise; receiver-root defaults to system.receiver.dataset', () => {
  const s = parseScenarioText('a.yaml', `${WITH_RECEIVER}  - assert-replicated: {snapshots: ["mainpool/dom0@b1", "mainpool/dom0/sub@b1"], exact: true}
  - assert-replicated: {receiver-root: backuppool/other, snapshots: ["mainpool/x@l"], source-bookmarks: true}
  - assert-no-partial-state: {}
  - assert-no-partial-state:
  - assert-nothing-destroyed: {side: source}
  - assert-nothing-destroyed:
  - zfs-pipe: {send: "send -L -c mainpool/x@l", receive: [receive, -s, -u, backuppool/raw/x]}
    expect: {exit: 0}
`);
  assert.deepEqual(s.steps, [
    { kind: 'assert-replicated', receiverRoot: 'backuppool/backups/mydesktop', snapshots: ['mainpool/dom0@b1', 'mainpool/dom0/sub@b1'], exact: true, sourceBookmarks: false },
    { kind: 'assert-replicated', receiverRoot: 'backuppool/other', snapshots: ['mainpool/x@l'], exact: false, sourceBookmarks: true },
    { kind: 'assert-no-partial-state', receiverRoot: 'backuppool/backups/mydesktop' },
    { kind: 'assert-no-partial-state', receiverRoot: 'backuppool/backups/mydesktop' },
    { kind: 'assert-nothing-destroyed', side: 'source' },
    { kind: 'assert-nothing-destroyed', side: 'both' },
    { kind: 'zfs-pipe', send: ['send', '-L', '-c', 'mainpool/x@l'], receive: ['receive', '-s', '-u', 'backuppool/raw/x'], expect: { exit: 0 } },
  ]);
  assert.equal(s.watchDestroyed, true);
  assert.equal(parseScenarioText('b.yaml', `${WITH_RECEIVER}  - assert-no-partial-state: {}\n`).watchDestroyed, undefined);
});

test('assertion steps: bad shapes are errors with their path', () => {
  const bad = (step: string): string[] => problems(`${WITH_RECEIVER}${step}`);
  assert.ok(bad('  - assert-replicated: {snapshots: []}\n').some((x) => x.startsWith('steps.0') && x.includes('at least one')), bad('  - assert-replicated: {snapshots: []}\n').join('\n'));
  assert.ok(bad('  - assert-replicated: {snapshots: [mainpool/dom0]}\n').some((x) => x.includes('pool/dataset@name')));
  assert.ok(bad('  - assert-replicated: {receiver-root: mainpool/x, snapshots: ["mainpool/a@b"]}\n').some((x) => x.includes("not in the receiver's pool")));
  assert.ok(bad('  - assert-nothing-destroyed: {side: dom0}\n').some((x) => x.startsWith('steps.0')));
  assert.ok(bad('  - assert-no-partial-state: {root: x}\n').some((x) => x.startsWith('steps.0') && x.includes('root')));
  assert.ok(bad('  - zfs-pipe: {send: [list], receive: [receive, x]}\n').some((x) => x.includes('zfs-pipe.send')));
  assert.ok(problems('system:\n  pools: [{name: mainpool}]\nsteps:\n  - assert-no-partial-state: {}\n').some((x) => x.includes('need system.receiver')));
});

test('expect: ndjson-last, ndjson-contains, stdout-matches are part of the format', () => {
  const s = parseScenarioText('e.yaml', `steps:
  - run: send j --json
    expect:
      ndjson-last: {event: summary, exit: 0}
      ndjson-contains: [{event: step-start, resumed: true}]
      stdout-matches: '^[1-9][0-9]*$'
`);
  assert.deepEqual((s.steps[0] as { expect?: unknown }).expect, {
    'ndjson-last': { event: 'summary', exit: 0 },
    'ndjson-contains': [{ event: 'step-start', resumed: true }],
    'stdout-matches': ['^[1-9][0-9]*$'],
  });
  assert.ok(problems('steps:\n  - run: x\n    expect: {stdout-matches: "("}\n').some((x) => x.includes('not a regular expression')));
});

test('assert-content-hash and read-volume normalise; bad shapes are errors with their path', () => {
  const s = parseScenarioText('h.yaml', `steps:
  - assert-content-hash: {job: hashed, snapshots: ["mainpool/qubes/vault/private@b1"]}
  - read-volume: {dataset: mainpool/bench-read}
`);
  assert.deepEqual(s.steps, [
    { kind: 'assert-content-hash', job: 'hashed', snapshots: ['mainpool/qubes/vault/private@b1'] },
    { kind: 'read-volume', dataset: 'mainpool/bench-read' },
  ]);
  const bad = (step: string): string[] => problems(`steps:\n${step}`);
  assert.ok(bad('  - assert-content-hash: {job: hashed, snapshots: []}\n').some((x) => x.startsWith('steps.0') && x.includes('at least one')));
  assert.ok(bad('  - assert-content-hash: {job: "../x", snapshots: ["a/b@c"]}\n').some((x) => x.startsWith('steps.0')));
  assert.ok(bad('  - read-volume: {dataset: mainpool/x, extra: 1}\n').some((x) => x.startsWith('steps.0')));
});
