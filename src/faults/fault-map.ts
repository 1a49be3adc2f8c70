// Fault ranges: page-aligned, sorted and merged (typed columns of page numbers), then mapped onto every data segment that holds them.

import type { SegmentList } from '../dump/segment-list.js';
import { hex } from '../elf/byte-order.js';
import { FaultList, MAX_REASON, type FaultRange } from './fault-list.js';
import { OmittedRanges, type PlacedEntry } from '../notes/omitted-ranges.js';

export { FaultList, type FaultRange } from './fault-list.js';

/** Page sizes below this would make page numbers of 64-bit addresses inexact as doubles. */
const SMALLEST_PAGE = 4096;

/**
 * Sorted, disjoint fault ranges in page frame numbers [start, end), exact as doubles (pages of 4 KiB or more put
 * them below 2^52); `from` names the fault of the list whose origin each range gives in messages.
 */
export interface NormalizedFaults {
  count: number;
  start: Float64Array;
  end: Float64Array;
  reason: Uint8Array;
  from: Uint32Array;
  list: FaultList;
  pageSize: number;
}

/** A zero-filled range inside one segment, as listed in the OMITTED note (so it serves as an OMITTED entry as is). */
export type SegmentFault = PlacedEntry;

export interface FaultMap {
  /** Per program header index: sorted, disjoint [start, end) offsets within the segment's file bytes. */
  bySegment: Map<number, Float64Array>;
  /** Every zero-filled range, once per segment holding it, in segment file order: the OMITTED entries, in columns. */
  entries: OmittedRanges;
  /** Faults that lie in no segment's file bytes. */
  outside: FaultRange[];
}

/** Column writer for the merged ranges: a run of one reason that continues the last range extends it. */
class MergedColumns {
  count = 0;
  readonly start: Float64Array;
  readonly end: Float64Array;
  readonly reason: Uint8Array;
  readonly from: Uint32Array;

  /** `start`/`end`: arrays to fill in place (their entry i is read before anything past i is written). */
  constructor(capacity: number, start: Float64Array = new Float64Array(capacity), end: Float64Array = new Float64Array(capacity)) {
    this.start = start;
    this.end = end;
    this.reason = new Uint8Array(capacity);
    this.from = new Uint32Array(capacity);
  }

  push(start: number, end: number, reason: number, from: number): void {
    const last = this.count - 1;
    if (last >= 0 && this.reason[last] === reason && this.end[last] === start) {
      this.end[last] = end;
      return;
    }
    this.start[this.count] = start;
    this.end[this.count] = end;
    this.reason[this.count] = reason;
    this.from[this.count++] = from;
  }
}

/**
 * Rounds each range out to whole pages, then gives every page the lowest reason code of the ranges that cover it (an
 * MCE record says more than a plain address), whichever range starts first; runs of one reason merge.
 */
export function normalizeFaults(list: FaultList, pageSize: number): NormalizedFaults {
  if (pageSize < SMALLEST_PAGE) throw new RangeError(`page size ${pageSize} is below ${SMALLEST_PAGE}`);
  const page = BigInt(pageSize);
  const n = list.count;
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  let sorted = true;
  let overlapping = false;
  for (let i = 0; i < n; i++) {
    const onePage = list.page[i];
    if (onePage >= 0) {
      // One page, the common case: in plain numbers, no bigint read or arithmetic.
      starts[i] = Math.floor(onePage / pageSize);
      ends[i] = starts[i] + 1;
    } else {
      const paddr = list.paddrOf(i);
      const length = list.lengthOf(i);
      starts[i] = Number(paddr / page);
      ends[i] = Number((paddr + (length > 0n ? length : 1n) + page - 1n) / page);
    }
    if (i > 0 && starts[i] < starts[i - 1]) sorted = false;
    if (i > 0 && starts[i] < ends[i - 1]) overlapping = true;
  }
  const merged = sorted && !overlapping ? mergeDisjoint(list, starts, ends) : sweep(list, starts, ends);
  return { count: merged.count, start: merged.start, end: merged.end, reason: merged.reason, from: merged.from, list, pageSize };
}

/** The common case, a sorted list of pages or ranges that do not overlap: one pass, merged in place (fresh memory is dear). */
function mergeDisjoint(list: FaultList, starts: Float64Array, ends: Float64Array): MergedColumns {
  const out = new MergedColumns(list.count, starts, ends);
  for (let i = 0; i < list.count; i++) out.push(starts[i], ends[i], list.reason[i], i);
  return out;
}

/**
 * A sweep over the range ends: at each boundary, the reasons still open decide what the next stretch is. Edges at one
 * position go in the list's order (opening before closing), so the origin named is the last range opened.
 */
function sweep(list: FaultList, starts: Float64Array, ends: Float64Array): MergedColumns {
  const n = list.count;
  const edgeAt = (edge: number) => ((edge & 1) === 0 ? starts[edge >>> 1] : ends[edge >>> 1]);
  const edges = new Uint32Array(2 * n);
  for (let k = 0; k < edges.length; k++) edges[k] = k;
  edges.sort((a, b) => edgeAt(a) - edgeAt(b) || a - b);
  const openCount = new Int32Array(MAX_REASON + 1);
  const lastOpened = new Uint32Array(MAX_REASON + 1);
  let openMask = 0;
  const out = new MergedColumns(2 * n);
  let from = 0;
  let k = 0;
  while (k < edges.length) {
    const at = edgeAt(edges[k]);
    if (openMask !== 0 && at > from) {
      const winner = 31 - Math.clz32(openMask & -openMask);
      out.push(from, at, winner, lastOpened[winner]);
    }
    for (; k < edges.length && edgeAt(edges[k]) === at; k++) {
      const i = edges[k] >>> 1;
      const reason = list.reason[i];
      if ((edges[k] & 1) === 0) {
        openCount[reason]++;
        lastOpened[reason] = i;
      } else openCount[reason]--;
      openMask = openCount[reason] > 0 ? openMask | (1 << reason) : openMask & ~(1 << reason);
    }
    from = at;
  }
  return out;
}

/** The first merged range that ends after page frame `pfn`. */
export function firstEndingAfter(faults: NormalizedFaults, pfn: number): number {
  let lo = 0;
  let hi = faults.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (faults.end[mid] <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Maps normalized faults onto the segments; aliases (two segments holding one physical page) each get the range. */
export function mapFaults(faults: NormalizedFaults, segments: SegmentList): FaultMap {
  const bySegment = new Map<number, Float64Array>();
  const entries = new OmittedRanges(faults.count);
  // No faults (the usual dump): nothing to look up for each of maybe 128 Ki segments.
  if (faults.count === 0) return { bySegment, entries, outside: [] };
  const used = new Uint8Array(faults.count);
  const page = BigInt(faults.pageSize);
  for (let s = 0; s < segments.length; s++) {
    const paddr = segments.paddr(s);
    const size = segments.size(s);
    // Offsets from the segment's start: page-number differences are exact, and only small ones matter here.
    const basePfn = Number(paddr / page);
    const delta = Number(paddr % page);
    const baseLow = Number(paddr & 0xffffffffn);
    const baseHigh = Number(paddr >> 32n);
    const first = firstEndingAfter(faults, basePfn);
    let last = first;
    while (last < faults.count && (faults.start[last] - basePfn) * faults.pageSize - delta < size) last++;
    if (last === first) continue;
    used.fill(1, first, last);
    const offsets = new Float64Array(2 * (last - first));
    const n = placeInSegment(faults.start, faults.end, faults.reason, first, last, basePfn, faults.pageSize, delta, size, offsets, entries, baseLow, baseHigh, segments.index(s));
    bySegment.set(segments.index(s), n === offsets.length ? offsets : offsets.slice(0, n));
  }
  const outside: FaultRange[] = [];
  for (let i = 0; i < faults.count; i++) if (used[i] === 0) outside.push(mergedRange(faults, i));
  return { bySegment, entries, outside };
}

/**
 * Merged ranges [first, last) as offsets in one segment: its OMITTED entries, and its skip ranges (touching ones
 * united) in `offsets`, whose used length is returned. Apart, on plain arrays and numbers, so that V8 optimizes it
 * within a few thousand faults: inside mapFaults, 100,000 faults ran mostly unoptimized.
 */
function placeInSegment(
  start: Float64Array,
  end: Float64Array,
  reason: Uint8Array,
  first: number,
  last: number,
  basePfn: number,
  pageSize: number,
  delta: number,
  size: number,
  offsets: Float64Array,
  entries: OmittedRanges,
  baseLow: number,
  baseHigh: number,
  segmentIndex: number,
): number {
  let n = 0;
  for (let i = first; i < last; i++) {
    const relStart = Math.max((start[i] - basePfn) * pageSize - delta, 0);
    const relEnd = Math.min((end[i] - basePfn) * pageSize - delta, size);
    entries.pushInSegment(baseLow, baseHigh, relStart, relEnd - relStart, reason[i], segmentIndex);
    if (n > 0 && offsets[n - 1] === relStart) offsets[n - 1] = relEnd;
    else {
      offsets[n++] = relStart;
      offsets[n++] = relEnd;
    }
  }
  return n;
}

/** Merged range `i` as an object, its origin that of the fault it came from. */
export function mergedRange(faults: NormalizedFaults, i: number): FaultRange {
  const page = BigInt(faults.pageSize);
  const start = BigInt(faults.start[i]);
  return { paddr: start * page, length: (BigInt(faults.end[i]) - start) * page, reason: faults.reason[i], origin: faults.list.origin(faults.from[i]) };
}

export function mergedRanges(faults: NormalizedFaults): FaultRange[] {
  return Array.from({ length: faults.count }, (_, i) => mergedRange(faults, i));
}

export function describeFault(f: FaultRange): string {
  return `${hex(f.paddr)}+${hex(f.length)} (${f.origin})`;
}
