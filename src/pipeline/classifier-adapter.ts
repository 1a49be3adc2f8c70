// The page classifier as the pipeline sees it: one call per cycle of pfns (src/mm/ does the decoding).

import type { DumpPrefix } from '../dump/prefix.js';
import { createPageClassifier, type PageClassCounts } from '../mm/page-classifier.js';
import type { PhysRead } from '../mm/mm-info.js';

export type { PhysRead };

export interface CycleVerdict {
  /** Dumpable at the level, before zero pages: poisoned and offline pages cleared. */
  dumpable: Uint8Array;
  /** Sorted, merged [start, end) pfn ranges. */
  poisoned: [number, number][];
  offline: [number, number][];
  counts: PageClassCounts;
}

export interface CycleClassifier {
  /** Cycles reach up to here: one past the highest pfn of any PT_LOAD. */
  segmentsMaxMapnr: number;
  /** makedumpfile's max_mapnr: lowered to the end of the last present section (the mem= case). */
  maxMapnr: number;
  /** `dumpable` in the first bytes of `into`, when given. */
  classifyCycle(start: number, end: number, dumpLevel: number, into?: Uint8Array): CycleVerdict;
}

/** Throws BadInputError when the dump's memory model is hostile or broken; says why when it cannot be decoded at all. */
export function openClassifier(prefix: DumpPrefix, read: PhysRead): CycleClassifier | { unavailable: string } {
  const classifier = createPageClassifier({ phdrs: prefix.phdrs, vmcoreinfo: prefix.vmcoreinfo, machine: prefix.header.machine, read });
  if ('unavailable' in classifier) return classifier;
  const tuples = (ranges: readonly { start: number; end: number }[]) => ranges.map((r) => [r.start, r.end] as [number, number]);
  return {
    segmentsMaxMapnr: classifier.segmentsMaxMapnr,
    maxMapnr: classifier.maxMapnr,
    classifyCycle(start, end, dumpLevel, into) {
      const c = classifier.classifyCycle(start, end, dumpLevel, into);
      return { dumpable: c.dumpable, poisoned: tuples(c.poisoned), offline: tuples(c.offline), counts: c.counts };
    },
  };
}
