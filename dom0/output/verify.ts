// `verify` as text and JSON.
import type { VerifyResult } from '../commands/verify.ts';
import { renderFindings } from './findings.ts';
import { printSafeDeep } from './safe-text.ts';
import { columns, plural, type Style } from './style.ts';

// The human-readable verdict: problems first, then a count of what is fine.
export function renderVerify(result: VerifyResult, style: Style): string {
  const r = printSafeDeep(result);
  const out: string[] = [];
  const bad = r.targets.filter((t) => t.result !== 'ok');
  if (bad.length > 0 && bad.length <= 200) {
    out.push(...columns(bad.map((t) => [t.result === 'pending' ? style.yellow(t.result) : style.red(t.result), t.snapshot, t.receiverGuid !== null ? `receiver GUID ${t.receiverGuid}, source ${t.guid ?? '?'}` : ''])));
  }
  const errors = r.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) out.push('', style.bold('Findings'), ...renderFindings(errors, null, style));
  out.push('');
  const ok = r.targets.length - bad.length;
  out.push(r.ok
    ? style.green(`Verified ${r.job}: all ${plural(ok, 'target')} on the receiver with the source's GUID.`)
    : style.red(`Verify ${r.job}: ${ok} of ${plural(r.targets.length, 'target')} on the receiver with the source's GUID; ${bad.length} not.`));
  return out.join('\n') + '\n';
}

// The --json document: {job, ok, targets: [{snapshot, receiving, result, guid, receiverGuid}], findings}.
export function verifyJson(r: VerifyResult): unknown {
  return r;
}
