// What `send` reports while it runs (rendered live on a terminal, as log lines, or as NDJSON with
// --json) and the summary it ends with. 64-bit byte counts and GUIDs are bigint here and decimal
// strings in JSON.
import type { Finding } from '../job/findings.ts';
import type { StepAction } from './types.ts';

/** A step as the preflight event lists it. */
export interface PlannedStepInfo {
  snapshot: string;
  receiving: string;
  action: StepAction;
  stream: 'full' | 'incremental' | 'clone';
  from: string | null;
  estimate: bigint | null;
  reason: string | null;
}

/** One step's outcome in the summary. */
export interface StepOutcome {
  snapshot: string;
  action: 'sent' | 'skipped' | 'pending' | 'failed';
  resumed: boolean;
  bytes: bigint;
  reason: string | null;
}

/** Every event `send` emits, in order: preflight, then per step start/progress/done|failed, summary. */
export type SendEvent =
  | { event: 'preflight'; job: string; dryRun: boolean; steps: PlannedStepInfo[]; findings: Finding[] }
  | { event: 'step-start'; snapshot: string; receiving: string; stream: string; from: string | null; resumed: boolean; estimate: bigint | null; index: number; count: number }
  | { event: 'progress'; snapshot: string; bytes: bigint; estimate: bigint | null; totalBytes: bigint; totalEstimate: bigint | null; seconds: number }
  | { event: 'step-done'; snapshot: string; bytes: bigint; guid: bigint; resumed: boolean; seconds: number }
  | { event: 'step-failed'; snapshot: string; code: string; message: string; resumable: boolean }
  | { event: 'notice'; message: string }
  | { event: 'summary'; exit: number; bytes: bigint; steps: StepOutcome[]; findings: Finding[]; interrupted: boolean; verified: number };
