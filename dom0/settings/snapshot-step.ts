// The settings part of `snapshot`: after the snapshots are created or verified, capture the settings
// of each qube concerned that has no document for this label yet, store each document, and record
// its hash in the job state (the caller saves the state). A failure is a finding: the snapshots
// stay, and the next `snapshot` run captures what is missing.
import { QzbError } from '../../shared/errors.ts';
import { finding, type Finding } from '../job/findings.ts';
import type { JobState } from '../metadata/types.ts';
import { captureSettingsEach, type AdminApi } from './capture.ts';
import { settingsRecord, writeSettings } from './store.ts';

/** One captured document, as `snapshot` reports it (with --dry-run sha256 and file are null). */
export interface SettingsCaptured {
  qube: string;
  label: string;
  sha256: string | null;
  file: string | null;
}

/** What the step needs. */
export interface SettingsStepInput {
  jobDir: string;
  state: JobState;
  label: string;
  qubes: readonly string[];
  api: AdminApi | undefined;
  now: Date;
}

// Captures and stores the missing documents; returns what was captured and any findings.
export async function captureSettingsStep(input: SettingsStepInput): Promise<{ captured: SettingsCaptured[]; findings: Finding[] }> {
  const todo = [...new Set(input.qubes)].sort().filter((q) => !settingsRecord(input.state, input.label, q));
  if (todo.length === 0 || !input.api) return { captured: [], findings: [] };
  const results = await captureSettingsEach(input.api, todo, input.label, input.now);
  const captured: SettingsCaptured[] = [];
  const findings: Finding[] = [];
  for (const [qube, r] of results) {
    if (r instanceof QzbError) {
      findings.push(finding('SETTINGS_CAPTURE_FAILED', 'error', `Could not capture the settings of qube ${qube} for ${input.label}: ${r.message}. Its snapshots are kept; run snapshot again to capture them.`, { subject: qube }));
      continue;
    }
    const rec = await writeSettings(input.jobDir, input.state, r);
    captured.push({ qube, label: r.snapshotLabel, sha256: rec.sha256, file: rec.file });
  }
  return { captured, findings };
}
