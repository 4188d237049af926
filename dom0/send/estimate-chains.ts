// Which send steps can share one `zfs send -nvP -I FIRST LAST` estimate: consecutive incremental
// steps of one dataset, each from the snapshot the one before it sends, with the same flags. Such a
// dry run prints one `incremental` line per snapshot pair between FIRST and LAST, so a progressive
// job of N steps costs one zfs process instead of N (each is mostly process start-up). Pairs it
// does not print exactly (an unplanned snapshot in between, e.g. the Qubes driver's own) are left
// to single estimates: a sum of segments would overstate a step whose blocks were rewritten. Pure.
import type { SendStep } from './types.ts';

/** Steps that one range estimate covers: from `from` (a snapshot) to `last`, in order. */
export interface EstimateChain {
  from: string;
  last: string;
  steps: SendStep[];
}

const sameFlags = (a: SendStep, b: SendStep): boolean =>
  a.flags.raw === b.flags.raw && a.flags.compressed === b.flags.compressed && a.flags.embedded === b.flags.embedded && a.flags.largeBlocks === b.flags.largeBlocks;

/** Splits the steps to estimate into chains of two or more (range estimates) and the rest (single ones). */
export function estimateChains(steps: readonly SendStep[]): { chains: EstimateChain[]; singles: SendStep[] } {
  const chains: EstimateChain[] = [];
  const singles: SendStep[] = [];
  const open = new Map<string, SendStep[]>();
  const close = (run: SendStep[]): void => {
    if (run.length >= 2) chains.push({ from: run[0]!.from!, last: run[run.length - 1]!.snapshot, steps: run });
    else singles.push(...run);
  };
  for (const s of steps) {
    const chainable = s.action === 'send' && s.stream === 'incremental' && s.from !== null && s.from.startsWith(`${s.dataset}@`);
    const run = open.get(s.dataset);
    if (!chainable) {
      if (run) close(run);
      open.delete(s.dataset);
      singles.push(s);
      continue;
    }
    const prev = run?.[run.length - 1];
    if (run && prev && prev.snapshot === s.from && sameFlags(prev, s)) {
      run.push(s);
    } else {
      if (run) close(run);
      open.set(s.dataset, [s]);
    }
  }
  for (const run of open.values()) close(run);
  return { chains, singles };
}
