// The finding codes of qube settings: captured at `snapshot`, and the `check` feedback only settings
// make possible. Documented in dom0/FINDINGS.md; test/unit/commands/findings-doc.test.ts keeps the
// table and this catalogue in step.
import type { CodeInfo } from '../job/findings.ts';

/** Settings finding codes with their severity and meaning. */
export const SETTINGS_CODES = {
  SETTINGS_CAPTURE_FAILED: { severity: 'error', meaning: "a qube's settings could not be read from the Admin API at `snapshot` (its snapshots are kept; run snapshot again)" },
  BACKUP_INTENT_NOT_INCLUDED: { severity: 'warning', meaning: 'a qube with `include_in_backups=True` (Qubes\' own backup intent) that no include designation covers' },
  TEMPLATE_NOT_INCLUDED: { severity: 'info', meaning: 'an included qube whose template is not included: a restore needs that template to exist' },
  NETVM_NOT_INCLUDED: { severity: 'info', meaning: 'an included qube whose netvm is a qube that is not included: a restore needs it (or another netvm)' },
  SETTINGS_UNREAD: { severity: 'info', meaning: 'the qube properties could not be read, so the settings checks were skipped' },
} as const satisfies Record<string, CodeInfo>;

/** A settings finding code. */
export type SettingsCode = keyof typeof SETTINGS_CODES;
