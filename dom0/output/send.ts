// `send` as it runs: on a terminal a live line per step (bytes, rate, ETA, and the run's overall
// figure) redrawn in place; otherwise a plain line at least every 10 s; with --json one NDJSON event
// per line (64-bit values as decimal strings). The summary is always last.
import type { Finding } from '../job/findings.ts';
import type { SendEvent, StepOutcome } from '../send/events.ts';
import { formatBytes } from './bytes.ts';
import { renderFindings } from './findings.ts';
import { boundForJson, escapeJsonInvisibles, printSafeDeep } from './safe-text.ts';
import { plural, type Style } from './style.ts';

/** How `send` output is shown. */
export type SendOutputMode = 'json' | 'tty' | 'plain';

/** Where the renderer writes (stdout for the report; the live line is on the same stream). */
export interface SendSink {
  write(text: string): void;
}

/** Least time between two plain progress lines. */
const PLAIN_EVERY_MS = 10_000;

// One NDJSON line for an event (bigint as decimal strings, strings bounded, invisibles escaped).
export function eventJson(e: SendEvent): string {
  return escapeJsonInvisibles(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : typeof v === 'string' ? boundForJson(v) : v))) + '\n';
}

// "12.3 MiB/s".
function rate(bytes: bigint, seconds: number): string {
  if (seconds <= 0) return '-';
  return `${formatBytes(BigInt(Math.round(Number(bytes) / seconds)))}/s`;
}

// "1:02:03" or "2:05"; "-" when unknown.
function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** Turns send events into output for one mode. */
export class SendRenderer {
  private live = false;
  private lastPlain = 0;
  private total: bigint | null = null;
  private done = 0n;
  private runStarted = Date.now();

  constructor(
    private readonly mode: SendOutputMode,
    private readonly out: SendSink,
    private readonly style: Style,
    private readonly now: () => number = Date.now,
  ) {}

  // Renders one event.
  handle(event: SendEvent): void {
    if (this.mode === 'json') {
      this.out.write(eventJson(event));
      return;
    }
    // Names and messages may carry the receiver's or a job file's text: escaped and bounded.
    const e = printSafeDeep(event);
    switch (e.event) {
      case 'preflight':
        this.preflight(e);
        break;
      case 'step-start':
        this.clearLive();
        this.out.write(`${this.style.bold(`[${e.index}/${e.count}]`)} ${e.resumed ? 'resuming' : 'sending'} ${e.snapshot} (${e.stream}${e.from ? ` from ${e.from}` : ''}${e.estimate !== null ? `, about ${formatBytes(e.estimate)}` : ''})\n`);
        this.lastPlain = this.now();
        break;
      case 'progress':
        this.progress(e);
        break;
      case 'step-done':
        this.clearLive();
        this.done += e.bytes;
        this.out.write(`  ${this.style.green('sent')} ${e.snapshot}: ${formatBytes(e.bytes)} in ${duration(e.seconds)} (${rate(e.bytes, e.seconds)})${e.resumed ? ', resumed' : ''}\n`);
        break;
      case 'step-failed':
        this.clearLive();
        if (e.code !== 'INTERRUPTED') this.out.write(`  ${this.style.red('failed')} ${e.snapshot}: ${e.message}\n`);
        break;
      case 'notice':
        this.clearLive();
        this.out.write(`  ${e.message}\n`);
        break;
      case 'summary':
        this.clearLive();
        this.summary(e);
        break;
    }
  }

  private preflight(e: Extract<SendEvent, { event: 'preflight' }>): void {
    const lines: string[] = [];
    const estimates = e.steps.map((s) => s.estimate).filter((x): x is bigint => x !== null);
    this.total = estimates.length > 0 ? estimates.reduce((a, b) => a + b, 0n) : null;
    const n = (a: string): number => e.steps.filter((s) => s.action === a).length;
    lines.push(`${e.dryRun ? 'Dry run of send' : 'Send'} ${this.style.bold(e.job)}: ${n('send') + n('resume')} to send${n('resume') > 0 ? ` (${n('resume')} resuming)` : ''}, ${n('skip')} already on the receiver, ${n('pending')} waiting${this.total !== null ? `; about ${formatBytes(this.total)}` : ''}`);
    if (e.dryRun || e.steps.length <= 40) {
      for (const s of e.steps) {
        if (s.action === 'skip' && !e.dryRun) continue;
        const what = s.action === 'send' || s.action === 'resume'
          ? `${s.stream}${s.from ? ` from ${s.from}` : ''}${s.estimate !== null ? `, about ${formatBytes(s.estimate)}` : ''}`
          : s.reason ?? '';
        const tag = s.action === 'pending' ? this.style.yellow('pending') : s.action === 'skip' ? this.style.dim('skip   ') : s.action === 'resume' ? 'resume ' : 'send   ';
        lines.push(`  ${tag}  ${s.snapshot}  ${this.style.dim(what)}`);
      }
    }
    const shown = e.findings.filter((f) => f.severity !== 'info' || f.code === 'STALE_RESUME_TOKEN');
    if (shown.length > 0) lines.push('', this.style.bold('Findings'), ...renderFindings(shown, null, this.style));
    this.out.write(lines.join('\n') + '\n');
    this.runStarted = this.now();
  }

  private progress(e: Extract<SendEvent, { event: 'progress' }>): void {
    const pct = e.estimate !== null && e.estimate > 0n ? ` ${Math.min(100, Number((e.bytes * 100n) / e.estimate))}%` : '';
    const stepRate = e.seconds > 0 ? Number(e.bytes) / e.seconds : 0;
    const eta = e.estimate !== null && stepRate > 0 && e.estimate > e.bytes ? duration(Number(e.estimate - e.bytes) / stepRate) : '-';
    const all = this.done + e.bytes;
    const elapsed = (this.now() - this.runStarted) / 1000;
    const overallRate = elapsed > 0 ? Number(all) / elapsed : 0;
    const overall = this.total !== null
      ? ` | all ${formatBytes(all)} of ${formatBytes(this.total)}, ETA ${overallRate > 0 && this.total > all ? duration(Number(this.total - all) / overallRate) : '-'}`
      : ` | all ${formatBytes(all)}`;
    const line = `  ${e.snapshot}: ${formatBytes(e.bytes)}${e.estimate !== null ? ` of ${formatBytes(e.estimate)}` : ''}${pct}, ${rate(e.bytes, e.seconds)}, ETA ${eta}${overall}`;
    if (this.mode === 'tty') {
      this.out.write(`\r\u001b[2K${line}`);
      this.live = true;
    } else if (this.now() - this.lastPlain >= PLAIN_EVERY_MS) {
      this.lastPlain = this.now();
      this.out.write(`${line}\n`);
    }
  }

  private summary(e: Extract<SendEvent, { event: 'summary' }>): void {
    const n = (a: StepOutcome['action']): number => e.steps.filter((s) => s.action === a).length;
    const errors = e.findings.filter((f: Finding) => f.severity === 'error');
    const lines: string[] = [''];
    const counts = `${n('sent')} sent (${formatBytes(e.bytes)}), ${n('skipped')} already there, ${n('pending')} waiting${n('failed') > 0 ? `, ${n('failed')} failed` : ''}`;
    if (e.interrupted) {
      lines.push(this.style.yellow(`Interrupted: ${counts}. Nothing is lost: run \`send\` again to continue where it stopped.`));
    } else if (e.exit === 0) {
      lines.push(this.style.green(n('sent') === 0 && n('skipped') > 0 ? `Nothing to do: every target is already on the receiver (${plural(e.verified, 'target')} confirmed by GUID).` : `Done: ${counts}; ${plural(e.verified, 'target')} confirmed on the receiver by GUID.`));
    } else if (e.exit === 3) {
      lines.push(this.style.yellow(`Partly done: ${counts}.`));
      const why = [...new Set(e.steps.filter((s) => s.action === 'pending' && s.reason).map((s) => s.reason!))];
      for (const w of why.slice(0, 10)) lines.push(`  waiting: ${w}`);
      lines.push('Run `snapshot` for the waiting qubes once they are shut down, then `send` again.');
    } else {
      lines.push(this.style.red(`Not done: ${counts}; ${plural(errors.length, 'error')}.`));
      if (e.steps.every((s) => s.action !== 'sent' && s.action !== 'failed') && errors.length > 0) {
        lines.push(...renderFindings(errors, null, this.style));
        lines.push('Nothing was sent.');
      }
    }
    this.out.write(lines.join('\n') + '\n');
  }

  private clearLive(): void {
    if (this.live) {
      this.out.write('\r\u001b[2K');
      this.live = false;
    }
  }
}
