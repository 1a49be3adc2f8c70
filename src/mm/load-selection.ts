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
  loads: readonly PhysicalRange[];
  /** Ranges whose bytes may be dumped (file data: [p_paddr, p_paddr + p_filesz), or a slim dump's kept pages). */
  data: readonly PhysicalRange[];
  /** Pages never read nor dumped: machine checks, the user's faults, the kernel log's. */
  bad: readonly PhysicalRange[];
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

export function loadSelection(input: LoadSelectionInput): PageSelection {
  const page = BigInt(input.pageSize);
  const pfnFloor = (a: bigint) => Number(a / page);
  const pfnCeil = (a: bigint) => Number((a + page - 1n) / page);
  const maxMapnr = input.loads.reduce((max, r) => Math.max(max, pfnCeil(r.end)), 0);
  // A page is dumpable when its first byte has file data (makedumpfile's is_in_segs), and no bad byte.
  const present = input.loads.map((r) => [pfnFloor(r.start), pfnFloor(r.end)] as const);
  const data = input.data.map((r) => [pfnCeil(r.start), pfnCeil(r.end)] as const);
  const bad = input.bad.map((r) => [pfnFloor(r.start), pfnCeil(r.end)] as const);

  function cycleAt(start: number): PfnCycle {
    const end = Math.min(start + CYCLE_PFNS, maxMapnr);
    const bytes = Math.ceil((end - start) / 8);
    const presentBits = new Uint8Array(bytes);
    const dumpable = new Uint8Array(bytes);
    const dataBits = new Uint8Array(bytes);
    for (const [from, to] of present) setBits(presentBits, start, from, Math.min(to, end), true);
    for (const [from, to] of data) setBits(dataBits, start, from, Math.min(to, end), true);
    for (let i = 0; i < bytes; i++) dumpable[i] = presentBits[i] & dataBits[i];
    for (const [from, to] of bad) setBits(dumpable, start, from, Math.min(to, end), false);
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
