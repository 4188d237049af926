// `restore` and `restore --list` as text and JSON.
import type { RestoreProgress, RestoreResult } from '../commands/restore.ts';
import { formatBytes } from './bytes.ts';
import { renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, plural, type Style } from './style.ts';

const SETTINGS_WORDS: Record<string, string> = {
  ok: 'settings as recorded', unrecorded: 'settings (no record to compare)', altered: 'settings ALTERED', missing: 'no settings', invalid: 'settings unusable',
};

// The list of backups, or the plan/outcome of a restore, then the findings.
export function renderRestore(result: RestoreResult, style: Style): string {
  const r = printSafeDeep(result);
  const out: string[] = [];
  if (r.list) {
    out.push(style.bold(`On ${r.receiver}:${r.dataset}`));
    out.push(...columns(r.backups.map((b) => [
      b.qube, b.label, b.class ?? '?',
      b.volumes.map((v) => `${v.name}${v.size !== null ? ` ${formatBytes(BigInt(v.size))}` : ''}`).join(', '),
      b.settings === 'ok' ? style.green(SETTINGS_WORDS[b.settings]!) : b.settings === 'unrecorded' ? style.yellow(SETTINGS_WORDS[b.settings]!) : style.red(SETTINGS_WORDS[b.settings] ?? b.settings),
    ])));
    if (r.backups.length === 0) out.push('  (no qube backups)');
  } else {
    for (const q of r.qubes) {
      out.push(style.bold(`${q.name}${q.name !== q.source ? ` (from ${q.source})` : ''} ${q.label}: ${q.class}${q.template ? ` from ${q.template}` : ''}, ${q.action}, ${SETTINGS_WORDS[q.settings] ?? q.settings}${q.settingsSha256 ? ` (SHA-256 ${q.settingsSha256.slice(0, 16)}…)` : ''}`));
      if (q.document) {
        const d = q.document;
        const props = Object.entries(d.properties).filter(([, p]) => !p.default).map(([k, p]) => `${k}=${p.value === '' ? '(none)' : p.value}`);
        out.push(`  label ${d.label}; properties: ${props.join(', ') || '(defaults)'}`);
        const feats = Object.entries(d.features).map(([k, v]) => `${k}=${v}`);
        if (feats.length > 0) out.push(`  features: ${feats.join(', ')}`);
        if (d.tags.length > 0) out.push(`  tags: ${d.tags.join(', ')}`);
        if (d.firewall.length > 0) out.push(`  firewall: ${d.firewall.join(' | ')}`);
        if (d.devices.length > 0) out.push(`  devices: ${d.devices.map((x) => `${x.class} ${x.backend}:${x.port}`).join(', ')}`);
      }
      const DEV_WORDS = { planned: 'to assign', assigned: 'assigned', present: 'already assigned', failed: 'NOT assigned (see the findings)' } as const;
      for (const d of q.devices) out.push(`  ${d.what}: ${d.result === 'failed' ? style.yellow(DEV_WORDS[d.result]) : DEV_WORDS[d.result]}`);
      for (const v of q.volumes) {
        const received = v.via === 'zfs-receive';
        const state = v.verified === true ? style.green('content verified') : v.verified === false ? style.red('CONTENT MISMATCH') : v.bytes !== null ? `${received ? 'received' : 'imported'} (no content hash recorded)` : '';
        const moved = v.bytes === null ? '' : received
          ? `, ${formatBytes(BigInt(v.bytes))} of stream${v.resumed ? ' (resumed)' : ''}`
          : `, ${formatBytes(BigInt(v.bytes) - BigInt(v.holeBytes ?? '0'))} of data`;
        out.push(`  ${v.name}: ${formatBytes(BigInt(v.size))} from ${v.snapshot}${received ? ' by zfs receive in dom0' : ''}${moved} ${state}`.trimEnd());
      }
      out.push(`  ${q.result === 'restored' ? style.green('restored') : q.result === 'failed' ? style.red('failed') : q.result === 'refused' ? style.red('refused') : style.yellow('planned')}`);
    }
  }
  if (r.findings.length > 0) out.push('', style.bold('Findings'), ...renderFindings(r.findings, null, style));
  out.push('');
  if (r.list) out.push(`${plural(r.backups.length, 'qube backup')} on the receiver.`);
  else if (r.dryRun) out.push(r.ok ? style.green(`Dry run: ${plural(r.qubes.length, 'qube')} would be restored; nothing was changed.`) : style.red('Dry run: the restore would be refused (see the findings); nothing was changed.'));
  else {
    const done = r.qubes.filter((q) => q.result === 'restored').length;
    out.push(r.ok ? style.green(`Restored ${plural(done, 'qube')}.`) : style.red(`Restore: ${done} of ${plural(r.qubes.length, 'qube')} restored; see the findings.`));
  }
  return out.join('\n') + '\n';
}

// One progress line (stderr): the volume, bytes, rate and ETA.
export function progressLine(p: RestoreProgress): string {
  const secs = p.elapsedMs / 1000;
  const rate = secs > 0.5 ? Number(p.bytes) / secs : 0;
  const eta = rate > 0 ? Math.max(0, Math.round((Number(p.total - p.bytes)) / rate)) : null;
  return `restore: ${p.qube}:${p.volume} ${formatBytes(p.bytes)} of ${formatBytes(p.total)}${rate > 0 ? `, ${formatBytes(BigInt(Math.round(rate)))}/s` : ''}${eta !== null && p.bytes < p.total ? `, ETA ${eta} s` : ''}`;
}

// The --json document (see COMMANDS.md).
export function restoreJson(r: RestoreResult): unknown {
  return r;
}
