// What makedumpfile --mem-usage reports for a vmcore, without zero pages: pages per class, and exact dumpable counts.

import { CYCLE_PFNS, popcount } from './page-selection.js';
import type { PageClassCounts, PageClassifier } from './page-classifier.js';
import { countPfns } from './pfn-ranges.js';

export interface MemUsage {
  pageSize: number;
  maxMapnr: number;
  /** Bitmap 1: pfns inside some PT_LOAD. */
  presentPages: number;
  /** At dump level 31, first match wins (free, cache, cache private, user, hwpoison, offline), as makedumpfile counts. */
  counts: PageClassCounts;
  /** Pages with PG_hwpoison, or in a poisoned compound head's block, and logically offline pages: whatever their class. */
  poisonedPages: number;
  offlinePages: number;
}

/** The cycles of a dump: [start, end) with start a multiple of CYCLE_PFNS. */
export function* cycleBounds(maxMapnr: number): Generator<[number, number]> {
  for (let start = 0; start < maxMapnr; start += CYCLE_PFNS) yield [start, Math.min(start + CYCLE_PFNS, maxMapnr)];
}

export function memUsage(classifier: PageClassifier): MemUsage {
  const counts: PageClassCounts = { free: 0, cache: 0, cachePrivate: 0, user: 0, hwpoison: 0, offline: 0, unclassified: 0, invalidFreeOrder: 0, kept: 0 };
  let presentPages = 0;
  let poisonedPages = 0;
  let offlinePages = 0;
  for (const [start, end] of cycleBounds(classifier.maxMapnr)) {
    const c = classifier.classifyCycle(start, end, 31);
    for (const key of Object.keys(counts) as (keyof PageClassCounts)[]) counts[key] += c.counts[key];
    presentPages += popcount(c.present);
    poisonedPages += countPfns(c.poisoned);
    offlinePages += countPfns(c.offline);
  }
  return { pageSize: classifier.pageSize, maxMapnr: classifier.maxMapnr, presentPages, counts, poisonedPages, offlinePages };
}

/** Set bits of bitmap 2 over the whole dump at this level: zero pages included, as kdump keeps them. */
export function dumpableCount(classifier: PageClassifier, dumpLevel: number): number {
  let n = 0;
  for (const [start, end] of cycleBounds(classifier.maxMapnr)) n += classifier.classifyCycle(start, end, dumpLevel).counts.kept;
  return n;
}
