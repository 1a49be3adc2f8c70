// The page classifier as the pipeline sees it: one call per cycle of pfns (src/mm/ does the decoding).

import type { DumpPrefix } from '../dump/prefix.js';

export interface CycleCounts {
  free: number;
  cache: number;
  cachePrivate: number;
  user: number;
  hwpoison: number;
  offline: number;
  unclassified: number;
}

export interface CycleVerdict {
  /** Dumpable at the level, before zero pages: poisoned and offline pages cleared. */
  dumpable: Uint8Array;
  /** Sorted, merged [start, end) pfn ranges. */
  poisoned: [number, number][];
  offline: [number, number][];
  counts: CycleCounts;
}

export interface CycleClassifier {
  classifyCycle(start: number, end: number, dumpLevel: number): CycleVerdict;
}

export type PhysRead = (paddr: bigint, length: number) => Buffer | undefined;

export function openClassifier(_prefix: DumpPrefix, _read: PhysRead): CycleClassifier | { unavailable: string } {
  return { unavailable: 'this build (the memory-model decoder is not wired in yet)' };
}
