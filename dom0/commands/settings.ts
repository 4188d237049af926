// `settings <name> [qube…] [--diff]`: the qube settings captured for the job's target snapshot
// label (read from the metadata directory, each checked against its recorded SHA-256), and with
// --diff what changed on the live system since (read through the Admin API).
import { QzbError } from '../../shared/errors.ts';
import { requireMetadataDir } from '../metadata/dir.ts';
import { MetadataStore } from '../metadata/store.ts';
import { AdminApiError } from '../qubes/client.ts';
import { parseVmList } from '../qubes/parse.ts';
import { captureDeviceClasses, captureGlobal, captureQube, detectFlavour, type CaptureShared } from '../settings/capture.ts';
import { diffSettings, type SettingsChange } from '../settings/diff.ts';
import type { SettingsDocument } from '../settings/schema.ts';
import { readSettings } from '../settings/store.ts';
import type { Context } from './context.ts';

// Options of `settings`.
export interface SettingsOptions {
  name: string;
  /** Only these qubes (default: every qube with a document). */
  qubes: string[];
  diff: boolean;
}

// One qube's captured settings in the result.
export interface QubeSettingsOut {
  qube: string;
  sha256: string;
  /** The document file, relative to the job's metadata directory. */
  file: string;
  document: SettingsDocument;
  /** With --diff: the differences from the live system ([] when none); 'removed' when the qube is gone. */
  changes?: SettingsChange[] | 'removed';
}

// What `settings` returns (also its --json document, see COMMANDS.md).
export interface SettingsResult {
  job: string;
  label: string;
  qubes: QubeSettingsOut[];
  diff: boolean;
}

// Reads the stored documents and, with --diff, compares each with the live system.
export async function settings(options: SettingsOptions, ctx: Context): Promise<SettingsResult> {
  await requireMetadataDir(ctx.metadataDir);
  const store = new MetadataStore(ctx.metadataDir);
  const stored = await store.read(options.name);
  const { job } = ctx.core.loadJob(stored.text);
  if (!job) throw new QzbError('METADATA_CORRUPT', `the imported job ${options.name} no longer loads; re-import it`);
  const label = job.scope.targetSnapshot;
  const recorded = Object.keys(stored.state.settings?.[label] ?? {}).sort();
  const unknown = options.qubes.filter((q) => !recorded.includes(q));
  if (unknown.length > 0) {
    throw new QzbError('SETTINGS_NOT_FOUND', `no settings were captured for ${unknown.join(', ')} in job ${options.name} (${label})`, {
      hint: recorded.length > 0 ? `Captured: ${recorded.join(', ')}.` : `Nothing captured yet: run \`qubes-zfs-backup snapshot ${options.name}\` first.`,
    });
  }
  const names = options.qubes.length > 0 ? [...new Set(options.qubes)] : recorded;
  const qubes: QubeSettingsOut[] = [];
  for (const q of names) {
    const s = await readSettings(stored.dir, stored.state, label, q);
    if (s) qubes.push({ qube: q, sha256: s.sha256, file: stored.state.settings![label]![q]!.file, document: s.doc });
  }
  if (options.diff && qubes.length > 0) await addDiff(qubes, label, ctx);
  return { job: options.name, label, qubes, diff: options.diff };
}

// Reads the live settings of each qube and records the differences.
async function addDiff(qubes: QubeSettingsOut[], label: string, ctx: Context): Promise<void> {
  const api = ctx.system.adminApi;
  if (!api) throw new QzbError('INTERNAL', 'settings --diff needs the Admin API');
  const live = new Set(parseVmList(await api('admin.vm.List', 'dom0')).map((v) => v.name));
  const present = qubes.filter((q) => live.has(q.qube));
  for (const q of qubes) if (!live.has(q.qube)) q.changes = 'removed';
  if (present.length === 0) return;
  const [global, classes] = await Promise.all([captureGlobal(api), captureDeviceClasses(api)]);
  const flavour = await detectFlavour(api, present[0]!.qube, classes);
  const shared: CaptureShared = { global, classes, flavour, snapshotLabel: label, now: ctx.now() };
  for (const q of present) {
    try {
      q.changes = diffSettings(q.document, await captureQube(api, q.qube, shared));
    } catch (e) {
      // Removed between the listing and the read.
      if (e instanceof AdminApiError && e.excType === 'QubesVMNotFoundError') q.changes = 'removed';
      else throw e;
    }
  }
}
