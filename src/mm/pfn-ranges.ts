// Sorted, merged [start, end) pfn ranges, built in ascending order and capped so hostile input cannot grow them.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';

export interface PfnRange {
  start: number;
  end: number;
}

/** Separate ranges of one kind per cycle: far beyond any real machine's bad pages. */
export const MAX_RANGES_PER_CYCLE = 1 << 16;

export class PfnRangeList {
  readonly ranges: PfnRange[] = [];

  constructor(private readonly what: string) {}

  /** Ranges arrive with non-decreasing starts; touching or overlapping ones merge. */
  add(start: number, end: number): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && start <= last.end) {
      if (end > last.end) last.end = end;
      return;
    }
    if (this.ranges.length >= MAX_RANGES_PER_CYCLE) {
      throw new BadInputError(`struct pages: more than ${MAX_RANGES_PER_CYCLE} separate ${this.what} page ranges in one cycle (at pfn ${hex(start)}): the mem_map looks corrupt`);
    }
    this.ranges.push({ start, end });
  }
}

export function countPfns(ranges: readonly PfnRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}
