// A PageSelection from the PT_LOADs alone (dump level 0 without the mem_map walk): present = not a hole, dumpable = present with file data, minus known-bad pages.

import { CYCLE_PFNS, popcount, type PageSelection, type PfnCycle } from './page-selection.js';

/** A physical range [start, end), in bytes. */
export interface PhysicalRange {
  start: bigint;
  end: bigint;
}

export interface LoadSelectionInput {
  pageSize: number;
  /** Every PT_LOAD's [p_paddr, p_paddr + p_memsz): bitmap 1, as makedumpfile's (a partial last page is a hole). */
  loads: Iterable<PhysicalRange>;
  /** Ranges whose bytes may be dumped (file data: [p_paddr, p_paddr + p_filesz), or a slim dump's kept pages). */
  data: Iterable<PhysicalRange>;
  /** Pages never read nor dumped: machine checks, the user's faults, the kernel log's. */
  bad: Iterable<PhysicalRange>;
}

/** Sets bits [from, to) of a bitmap whose bit 0 is pfn `base`, clipped to the bitmap. */
export function setBits(bitmap: Uint8Array, base: number, from: number, to: number, value: boolean): void {
  let i = Math.max(from, base) - base;
  const end = Math.min(to - base, bitmap.length * 8);
  for (; i < end && (i & 7) !== 0; i++) setOne(bitmap, i, value);
  const wholeEnd = end & ~7;
  if (i < wholeEnd) {
    bitmap.fill(value ? 0xff : 0, i >>> 3, wholeEnd >>> 3);
    i = wholeEnd;
  }
  for (; i < end; i++) setOne(bitmap, i, value);
}

function setOne(bitmap: Uint8Array, i: number, value: boolean): void {
  if (value) bitmap[i >>> 3] |= 1 << (i & 7);
  else bitmap[i >>> 3] &= ~(1 << (i & 7));
}

/** [from, to) page frame pairs, flat: 128 Ki PT_LOADs as pairs of arrays would cost 10 MiB. */
function pfnPairs(ranges: Iterable<PhysicalRange>, first: (a: bigint) => number, end: (a: bigint) => number): Float64Array {
  // Grown by doubling, not through a number[]: no second 2 MiB copy of the pairs while they are gathered.
  let flat = new Float64Array(64);
  let n = 0;
  for (const r of ranges) {
    if (n === flat.length) {
      const grown = new Float64Array(flat.length * 2);
      grown.set(flat);
      flat = grown;
    }
    flat[n++] = first(r.start);
    flat[n++] = end(r.end);
  }
  return flat.slice(0, n);
}

function* pairs(flat: Float64Array): Generator<[number, number]> {
  for (let i = 0; i < flat.length; i += 2) yield [flat[i], flat[i + 1]];
}

export function loadSelection(input: LoadSelectionInput): PageSelection {
  const page = BigInt(input.pageSize);
  const pfnFloor = (a: bigint) => Number(a / page);
  const pfnCeil = (a: bigint) => Number((a + page - 1n) / page);
  // A page is dumpable when its first byte has file data (makedumpfile's is_in_segs), and no bad byte.
  const present = pfnPairs(input.loads, pfnFloor, pfnFloor);
  // maxMapnr counts a partial last page: the ceiling of each end, not the floor kept in `present`.
  let maxMapnr = 0;
  for (const r of input.loads) maxMapnr = Math.max(maxMapnr, pfnCeil(r.end));
  const data = pfnPairs(input.data, pfnCeil, pfnCeil);
  const bad = pfnPairs(input.bad, pfnFloor, pfnCeil);

  function cycleAt(start: number): PfnCycle {
    const end = Math.min(start + CYCLE_PFNS, maxMapnr);
    const bytes = Math.ceil((end - start) / 8);
    const presentBits = new Uint8Array(bytes);
    const dumpable = new Uint8Array(bytes);
    const dataBits = new Uint8Array(bytes);
    for (const [from, to] of pairs(present)) setBits(presentBits, start, from, Math.min(to, end), true);
    for (const [from, to] of pairs(data)) setBits(dataBits, start, from, Math.min(to, end), true);
    for (let i = 0; i < bytes; i++) dumpable[i] = presentBits[i] & dataBits[i];
    for (const [from, to] of pairs(bad)) setBits(dumpable, start, from, Math.min(to, end), false);
    return { start, end, present: presentBits, dumpable };
  }

  let dumpableCount = 0;
  for (let start = 0; start < maxMapnr; start += CYCLE_PFNS) dumpableCount += popcount(cycleAt(start).dumpable);
  return {
    pageSize: input.pageSize,
    maxMapnr,
    dumpableCount,
    async *cycles() {
      for (let start = 0; start < maxMapnr; start += CYCLE_PFNS) yield cycleAt(start);
    },
  };
}
