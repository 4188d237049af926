// `status` as text and JSON.
import type { StatusResult } from '../commands/status.ts';
import { formatBytes } from './bytes.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, type Style } from './style.ts';

// The human-readable status.
export function renderStatus(result: StatusResult, style: Style): string {
  const r = printSafeDeep(result);
  if (r.jobs.length === 0) return `No jobs imported in ${r.metadataDir}. Import one with: qubes-zfs-backup import FILE\n`;
  const out: string[] = [];
  for (const j of r.jobs) {
    const c = j.counts;
    out.push(`${style.bold(j.name)}  imported ${j.importedAt}  ${c.snapshotted} snapshotted, ${c.sent} sent, ${c.verified} verified (of the targets recorded so far); ${formatBytes(BigInt(j.bytesSent))} sent`);
    if (j.step) {
      const of = j.step.estimate ? ` of about ${formatBytes(BigInt(j.step.estimate))}` : '';
      out.push(`  ${j.step.running ? 'sending' : style.yellow('stopped while sending')} ${j.step.snapshot}: ${formatBytes(BigInt(j.step.bytes))}${of} forwarded${j.step.resumed ? ' (resumed)' : ''}, as of ${j.step.updatedAt}${j.step.running ? ` (pid ${j.step.pid})` : '; run send to resume it'}`);
    }
    if (j.targets) {
      if (j.targets.length === 0) out.push('  no target recorded yet: run snapshot');
      else out.push(...columns(j.targets.map((t) => [t.snapshot, t.status, t.guid ? `guid ${t.guid}` : '', t.bytes ? formatBytes(BigInt(t.bytes)) : '', t.contentHash ? `sha256 ${t.contentHash.sha256.slice(0, 16)}…` : '', t.verifiedAt ? `verified ${t.verifiedAt}` : t.sentAt ? `sent ${t.sentAt}` : t.snapshottedAt ? `snapshotted ${t.snapshottedAt}` : ''])));
    }
  }
  return out.join('\n') + '\n';
}

// The --json document: {metadataDir, jobs: [{name, importedAt, sha256, counts, bytesSent, step, targets?}]}.
export function statusJson(r: StatusResult): unknown {
  return r;
}
