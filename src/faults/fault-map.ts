// Fault ranges: page-aligned, sorted and merged, then mapped onto every data segment that holds them.

import type { DataSegment } from '../dump/layout.js';
import { hex } from '../elf/byte-order.js';

export interface FaultRange {
  paddr: bigint;
  length: bigint;
  /** OMITTED reason code (docs/note-format.md). */
  reason: number;
  origin: string;
}

/** A zero-filled range inside one segment, as listed in the OMITTED note (so it serves as an OMITTED entry as is). */
export interface SegmentFault {
  segmentIndex: number;
  paddr: bigint;
  length: bigint;
  reason: number;
  flags: number;
}

export interface FaultMap {
  /** Per program header index: sorted, disjoint [start, end) offsets within the segment's file bytes. */
  bySegment: Map<number, Float64Array>;
  /** Every zero-filled range, once per segment holding it, in segment file order. */
  entries: SegmentFault[];
  /** Faults that lie in no segment's file bytes. */
  outside: FaultRange[];
}

/** Rounds each range out to whole pages (in place), sorts by address, and merges overlapping or touching ranges of one reason. */
export function normalizeFaults(faults: FaultRange[], pageSize: number): FaultRange[] {
  const page = BigInt(pageSize);
  const aligned = faults;
  for (const f of aligned) {
    const start = f.paddr - (f.paddr % page);
    const rawEnd = f.paddr + (f.length > 0n ? f.length : 1n);
    f.length = ((rawEnd + page - 1n) / page) * page - start;
    f.paddr = start;
  }
  // Lower reason codes win where sources overlap: an MCE record says more than a plain address.
  aligned.sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : a.reason - b.reason));
  const merged: FaultRange[] = [];
  for (const f of aligned) {
    const last = merged[merged.length - 1];
    const lastEnd = last ? last.paddr + last.length : -1n;
    if (last && f.paddr <= lastEnd) {
      const end = f.paddr + f.length;
      if (end <= lastEnd) continue;
      if (f.reason === last.reason) {
        last.length = end - last.paddr;
        continue;
      }
      merged.push({ ...f, paddr: lastEnd, length: end - lastEnd });
      continue;
    }
    merged.push(f);
  }
  return merged;
}

function firstEndingAfter(faults: readonly FaultRange[], paddr: bigint): number {
  let lo = 0;
  let hi = faults.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (faults[mid].paddr + faults[mid].length <= paddr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Maps normalized faults onto the segments; aliases (two segments holding one physical page) each get the range. */
export function mapFaults(faults: readonly FaultRange[], segments: readonly DataSegment[]): FaultMap {
  const bySegment = new Map<number, Float64Array>();
  const entries: SegmentFault[] = [];
  const used = new Set<number>();
  for (const seg of segments) {
    const segEnd = seg.paddr + BigInt(seg.size);
    const offsets: number[] = [];
    for (let i = firstEndingAfter(faults, seg.paddr); i < faults.length && faults[i].paddr < segEnd; i++) {
      const f = faults[i];
      const start = f.paddr > seg.paddr ? f.paddr : seg.paddr;
      const fEnd = f.paddr + f.length;
      const end = fEnd < segEnd ? fEnd : segEnd;
      used.add(i);
      const relStart = Number(start - seg.paddr);
      const relEnd = Number(end - seg.paddr);
      const prev = entries[entries.length - 1];
      if (prev && prev.segmentIndex === seg.index && prev.reason === f.reason && prev.paddr + prev.length === start) {
        prev.length += end - start;
      } else {
        entries.push({ segmentIndex: seg.index, paddr: start, length: end - start, reason: f.reason, flags: 0 });
      }
      if (offsets.length > 0 && offsets[offsets.length - 1] === relStart) offsets[offsets.length - 1] = relEnd;
      else offsets.push(relStart, relEnd);
    }
    if (offsets.length > 0) bySegment.set(seg.index, Float64Array.from(offsets));
  }
  const outside = faults.filter((_, i) => !used.has(i));
  return { bySegment, entries, outside };
}

export function describeFault(f: FaultRange): string {
  return `${hex(f.paddr)}+${hex(f.length)} (${f.origin})`;
}
