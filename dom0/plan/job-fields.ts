// Small facts about the Job the planner must respect: fields the loader marked invalid (their values
// are placeholders, so findings about them would be noise) and names the loader already rejects.
import type { Job } from '../job/types.ts';

// True when the loader marked `path` (or a section containing it) as missing or invalid.
export function fieldInvalid(job: Job, path: string): boolean {
  if (!job.invalid || job.invalid.length === 0) return false;
  return job.invalid.some((p) => p === path || path.startsWith(p + '.'));
}

// The Qubes qube-name rule (qubes/vm/__init__.py validate_name); other names are the loader's
// INVALID_QUBE_NAME / DOM0_IN_QUBES_GROUP, so the planner does not report them again.
export function isPlausibleQubeName(name: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(name) && name !== 'none' && name !== 'default' && name !== 'dom0' && name !== 'Domain-0';
}
