// The real planning core, wired for the CLI (tests pass their own Core).
import { loadJob } from '../job/load.ts';
import { resolveDesignations } from '../plan/resolve.ts';
import { computeTargets } from '../plan/targets.ts';
import type { Core } from './context.ts';

/** loadJob → resolveDesignations → computeTargets, as shipped. */
export const realCore: Core = {
  loadJob: (text) => loadJob(text),
  resolveDesignations: (job, qubes, zfs) => resolveDesignations(job, qubes, zfs),
  computeTargets: (job, designations, qubes, zfs) => computeTargets(job, designations, qubes, zfs),
};
