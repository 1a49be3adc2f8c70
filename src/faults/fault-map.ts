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

/**
 * Rounds each range out to whole pages (in place), then gives every page the lowest reason code of the ranges that
 * cover it (an MCE record says more than a plain address), whichever range starts first; runs of one reason merge.
 */
export function normalizeFaults(faults: FaultRange[], pageSize: number): FaultRange[] {
  const page = BigInt(pageSize);
  for (const f of faults) {
    const start = f.paddr - (f.paddr % page);
    const rawEnd = f.paddr + (f.length > 0n ? f.length : 1n);
    f.length = ((rawEnd + page - 1n) / page) * page - start;
    f.paddr = start;
  }
  // A sweep over the range ends: at each boundary, the reasons still open decide what the next stretch is.
  const edges = faults.flatMap((f, i) => [
    { at: f.paddr, opens: true, i },
    { at: f.paddr + f.length, opens: false, i },
  ]);
  edges.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  // Per reason: how many of its ranges are open, and the origin of the last one opened (for messages).
  const open = new Map<number, { count: number; origin: string }>();
  const merged: FaultRange[] = [];
  let from = 0n;
  let k = 0;
  while (k < edges.length) {
    const at = edges[k].at;
    const winner = lowestOpen(open);
    if (winner !== undefined && at > from) {
      const last = merged[merged.length - 1];
      if (last && last.reason === winner.reason && last.paddr + last.length === from) last.length = at - last.paddr;
      else merged.push({ paddr: from, length: at - from, reason: winner.reason, origin: winner.origin });
    }
    for (; k < edges.length && edges[k].at === at; k++) {
      const { reason, origin } = faults[edges[k].i];
      const entry = open.get(reason) ?? { count: 0, origin };
      entry.count += edges[k].opens ? 1 : -1;
      if (edges[k].opens) entry.origin = origin;
      if (entry.count > 0) open.set(reason, entry);
      else open.delete(reason);
    }
    from = at;
  }
  return merged;
}

/** The lowest reason among those open (reason codes are few, so the map stays small). */
function lowestOpen(open: Map<number, { origin: string }>): { reason: number; origin: string } | undefined {
  let best: number | undefined;
  for (const reason of open.keys()) if (best === undefined || reason < best) best = reason;
  return best === undefined ? undefined : { reason: best, origin: open.get(best)!.origin };
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
