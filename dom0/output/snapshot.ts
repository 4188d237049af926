// `snapshot` as text (with --dry-run: exactly the zfs commands, then `#` comments) and as JSON.
import type { SnapshotResult } from '../commands/snapshot.ts';
import { formatBytes } from './bytes.ts';
import { renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { plural, type Style } from './style.ts';

// Why work is pending, one phrase per qube ("qube work is Running").
export function pendingReasons(r: SnapshotResult): string[] {
  const seen = new Map<string, string>();
  for (const p of r.pending) if (!seen.has(p.qube)) seen.set(p.qube, p.message);
  return [...seen.values()];
}

function summary(r: SnapshotResult): string {
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const created = r.dryRun ? `${r.wouldCreate.length} to create` : `${r.created.length} created`;
  const hashed = r.dryRun ? (r.wouldHash.length > 0 ? `, ${r.wouldHash.length} to hash` : '') : r.hashed.length > 0 ? `, ${r.hashed.length} hashed` : '';
  return `${created}, ${r.verified.length} verified, ${r.pending.length} pending${hashed}${errors > 0 ? `, ${plural(errors, 'error')}` : ''}`;
}

// The human-readable report.
export function renderSnapshot(result: SnapshotResult, style: Style): string {
  const r = printSafeDeep(result);
  const out: string[] = [];
  if (r.dryRun) {
    out.push(...r.commands);
    out.push(`# dry run of snapshot ${r.job}: ${summary(r)}`);
    for (const m of pendingReasons(r)) out.push(`# pending: ${m}`);
    if (r.settings.length > 0) out.push(`# settings would be captured for: ${r.settings.map((s) => s.qube).join(', ')}`);
    if (r.wouldHash.length > 0) out.push(`# content hash would be computed for: ${r.wouldHash.join(', ')}`);
    for (const f of r.findings.filter((f) => f.severity === 'error')) out.push(`# error ${f.code}: ${f.message}`);
    return out.join('\n') + '\n';
  }
  for (const c of r.created) out.push(`  ${style.green('created ')}  ${c.snapshot}${c.qube ? style.dim(` (qube ${c.qube})`) : ''}`);
  for (const v of r.verified) out.push(`  ${'verified'}  ${v.snapshot}`);
  for (const p of r.pending) out.push(`  ${style.yellow('pending ')}  ${p.snapshot}${style.dim(` (qube ${p.qube})`)}`);
  for (const h of r.hashed) out.push(`  hashed    ${h.snapshot} ${style.dim(`sha256 ${h.sha256} (${formatBytes(BigInt(h.bytes))} in ${h.seconds.toFixed(1)} s)`)}`);
  if (r.settings.length > 0) out.push(`  settings  captured for ${r.settings.map((s) => s.qube).join(', ')} ${style.dim(`(${r.label ?? ''}; see: qubes-zfs-backup settings ${r.job})`)}`);
  const shown = r.findings.filter((f) => f.severity !== 'info');
  if (shown.length > 0) out.push('', style.bold('Findings'), ...renderFindings(shown, null, style));
  out.push('');
  const line = `Snapshot ${r.job}: ${summary(r)}.`;
  out.push(r.exitCode === 0 ? style.green(line) : r.exitCode === 3 ? style.yellow(line) : style.red(line));
  for (const m of pendingReasons(r)) out.push(`  pending: ${m}`);
  if (r.exitCode === 3) out.push(`Run \`qubes-zfs-backup snapshot ${r.job}\` again once those qubes are shut down.`);
  return out.join('\n') + '\n';
}

// The --json document.
export function snapshotJson(r: SnapshotResult): unknown {
  return {
    job: r.job,
    label: r.label,
    dryRun: r.dryRun,
    ok: r.exitCode !== 1,
    created: r.created,
    verified: r.verified,
    pending: r.pending,
    wouldCreate: r.wouldCreate,
    commands: r.commands,
    settings: r.settings,
    hashed: r.hashed,
    wouldHash: r.wouldHash,
    findings: r.findings,
    summary: {
      created: r.created.length,
      hashed: r.hashed.length,
      verified: r.verified.length,
      pending: r.pending.length,
      errors: r.findings.filter((f) => f.severity === 'error').length,
    },
  };
}
