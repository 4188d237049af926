// The settings findings of `check` (their table is dom0/FINDINGS.md, kept in step by test/unit/commands/findings-doc.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS_CODES } from '../../../dom0/settings/codes.ts';
import { settingsFindings } from '../../../dom0/settings/findings.ts';
import type { PropertyEntry } from '../../../dom0/settings/schema.ts';
import type { QubesInventory } from '../../../dom0/inventory/types.ts';
import type { ResolvedDesignation, Target } from '../../../dom0/plan/types.ts';

const p = (value: string, type: PropertyEntry['type'] = 'str', isDefault = false): PropertyEntry => ({ type, default: isDefault, value });
const qube = (name: string, klass: string) => ({ name, klass, state: 'Halted', volumes: [] });
const inventory: QubesInventory = {
  qubes: [qube('fedora-41', 'TemplateVM'), qube('work', 'AppVM'), qube('sys-firewall', 'AppVM'), qube('vault', 'AppVM'), qube('games', 'AppVM'), qube('backups', 'AppVM'), qube('disp1', 'DispVM')],
  pools: [],
};
const props = new Map<string, Record<string, PropertyEntry>>([
  ['fedora-41', { include_in_backups: p('True', 'bool', true), netvm: p('', 'vm', true) }],
  ['work', { include_in_backups: p('True', 'bool', true), template: p('fedora-41', 'vm'), netvm: p('sys-firewall', 'vm', true) }],
  ['sys-firewall', { include_in_backups: p('False', 'bool'), template: p('fedora-41', 'vm'), netvm: p('', 'vm') }],
  ['vault', { include_in_backups: p('True', 'bool', true), template: p('fedora-41', 'vm'), netvm: p('', 'vm') }],
  ['games', { include_in_backups: p('True', 'bool', true), template: p('fedora-41', 'vm'), netvm: p('sys-firewall', 'vm') }],
  ['backups', { include_in_backups: p('True', 'bool', true), template: p('fedora-41', 'vm'), netvm: p('', 'vm') }],
  ['disp1', { include_in_backups: p('False', 'bool', true), template: p('fedora-41', 'vm'), netvm: p('sys-firewall', 'vm') }],
]);
const des = (object: string, designation: ResolvedDesignation['designation'], group: string): ResolvedDesignation => ({ dataset: `mainpool/qubes/${object}`, designation, object, objectType: 'qube', group });
const target = (q: string): Target => ({ dataset: `mainpool/qubes/${q}/private`, snapshot: `mainpool/qubes/${q}/private@b`, kind: 'target', send: { type: 'full' }, exists: false, qube: q });

test('include_in_backups without an include designation warns; missing template and netvm are info', () => {
  const f = settingsFindings({
    qubes: inventory,
    designations: [des('work', 'include', 'core'), des('vault', 'include', 'core'), des('games', 'forgo', 'later')],
    targets: [target('work'), target('vault')],
    properties: props,
    receiverQube: 'backups',
  });
  assert.deepEqual(f.map((x) => [x.code, x.severity, x.subject]), [
    ['BACKUP_INTENT_NOT_INCLUDED', 'warning', 'fedora-41'],
    ['BACKUP_INTENT_NOT_INCLUDED', 'warning', 'games'],
    ['TEMPLATE_NOT_INCLUDED', 'info', 'vault'],
    ['TEMPLATE_NOT_INCLUDED', 'info', 'work'],
    ['NETVM_NOT_INCLUDED', 'info', 'work'],
  ]);
  assert.match(f[1]!.message, /forgo group later/);
  assert.match(f[0]!.message, /no group of the job mentions it/);
  assert.match(f[3]!.message, /needs fedora-41/);
  assert.match(f[4]!.message, /netvm sys-firewall/);
  // With the template and the netvm included, only the intent warning for games stays.
  const all = settingsFindings({
    qubes: inventory,
    designations: [des('work', 'include', 'core'), des('fedora-41', 'include', 'core'), des('sys-firewall', 'include', 'core'), des('vault', 'include', 'core')],
    targets: [target('work'), target('fedora-41'), target('sys-firewall'), target('vault')],
    properties: props,
    receiverQube: 'backups',
  });
  assert.deepEqual(all.map((x) => [x.code, x.subject]), [['BACKUP_INTENT_NOT_INCLUDED', 'games']]);
});

test('every settings code is emitted somewhere in dom0/', () => {
  const files = ['findings.ts', 'snapshot-step.ts'].map((f) => readFileSync(fileURLToPath(new URL(`../../../dom0/settings/${f}`, import.meta.url)), 'utf8'));
  files.push(readFileSync(fileURLToPath(new URL('../../../dom0/commands/check.ts', import.meta.url)), 'utf8'));
  for (const code of Object.keys(SETTINGS_CODES)) assert.ok(files.some((t) => t.includes(`'${code}'`)), code);
});
