// Which page frames a dump holds, one cycle of pfns at a time: the memory model's answer, which every output format reads.

/** Page frames per cycle: a 4 MiB bitmap, 128 GiB of 4 KiB pages. Cycles start at multiples of it. */
export const CYCLE_PFNS = 1 << 25;

/** Bitmaps are LSB first: bit (i & 7) of byte (i >> 3) stands for pfn `start + i`. */
export interface PfnCycle {
  /** First pfn: a multiple of CYCLE_PFNS. */
  start: number;
  /** One past the last pfn: at most start + CYCLE_PFNS, and at most maxMapnr. */
  end: number;
  /** Bitmap 1: the page lies inside some PT_LOAD (not a hole), as makedumpfile's first bitmap. */
  present: Uint8Array;
  /** Bitmap 2: present, not filtered out by the dump level, and not known bad. Zero pages stay set (kdump keeps them). */
  dumpable: Uint8Array;
}

export interface PageSelection {
  pageSize: number;
  /** One past the highest pfn of any PT_LOAD (p_paddr + p_memsz). */
  maxMapnr: number;
  /** Set bits in all the dumpable bitmaps together. */
  dumpableCount: number;
  /**
   * The cycles in ascending order. Each call derives them again, and a second pass sees exactly the same bits. A
   * cycle's bitmaps may share their buffers with the next cycle's: use them before asking for it.
   */
  cycles(): AsyncIterable<PfnCycle>;
}

export function bitIsSet(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >>> 3] & (1 << (i & 7))) !== 0;
}

export function setBit(bitmap: Uint8Array, i: number): void {
  bitmap[i >>> 3] |= 1 << (i & 7);
}

export function clearBit(bitmap: Uint8Array, i: number): void {
  bitmap[i >>> 3] &= ~(1 << (i & 7));
}

export const POPCOUNT_BYTE = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v; v >>= 1) n += v & 1;
  return n;
});

export function popcount(bitmap: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bitmap.length; i++) n += POPCOUNT_BYTE[bitmap[i]];
  return n;
}
