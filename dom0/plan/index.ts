// The pure planning core's public API: job + inventories → designations → backup targets.
export { resolveDesignations, resolveWith } from './resolve.ts';
export type { DesignationResolution } from './resolve.ts';
export { computeTargets, computeTargetsWith } from './targets.ts';
export type { TargetComputation } from './targets.ts';
export { indexDatasets } from './dataset-index.ts';
export type { DatasetIndex } from './dataset-index.ts';
export { layoutOf } from './qubes-layout.ts';
export type { QubesLayout } from './qubes-layout.ts';
export type { ExcludedDataset, ExclusionReason, ResolvedDesignation, SendType, Target, TargetKind } from './types.ts';
export { PLAN_CODES } from './codes.ts';
export type { PlanCode } from './codes.ts';
