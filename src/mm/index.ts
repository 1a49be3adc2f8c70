// The memory model's public face: what the pipeline and inspect call to learn which pages to dump.

export { createPageClassifier } from './page-classifier.js';
export type { CycleClassification, PageClassCounts, PageClassifier, PageClassifierInput } from './page-classifier.js';
export { parseMmInfo, isUnavailable } from './mm-info.js';
export type { MmInfo, MmInfoResult, PhysRead } from './mm-info.js';
export { memUsage, dumpableCount, cycleBounds } from './mem-usage.js';
export type { MemUsage } from './mem-usage.js';
export type { PfnRange } from './pfn-ranges.js';
export { DL_EXCLUDE_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_FREE } from './page-chain.js';
export * from './page-selection.js';
