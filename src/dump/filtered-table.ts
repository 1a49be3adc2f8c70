// The program header table of a filtered ELF dump, laid out as makedumpfile -E does: 256 excluded pages end a PT_LOAD.

import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeader } from '../elf/program-header.js';
import { ProgramHeaderTableBuilder, type ProgramHeaderTable } from '../elf/program-header-table.js';
import { SegmentListBuilder, type SegmentList } from './segment-list.js';

/** makedumpfile's PFN_EXCLUDED: a shorter run of excluded pages between kept ones stays inside the PT_LOAD. */
export const PFN_EXCLUDED = 256;
/** Past this many PT_LOADs the threshold doubles until the table fits: it bounds the header block (56 B each). */
export const MAX_FILTERED_LOADS = 1 << 17;

/** Runs of pfns in [start, end), in order and covering it: [from, to, kept]. */
export type KeptRuns = (start: number, end: number) => AsyncIterable<readonly [number, number, boolean]>;

export interface FilteredTable {
  phdrs: ProgramHeaderTable;
  noteIndex: number;
  /** The PT_LOADs whose file bytes are copied (excluded pages inside them are written as zeros, never read). */
  copy: SegmentList;
  /** The excluded-run length that ended a PT_LOAD: PFN_EXCLUDED, or more when the table would not fit. */
  threshold: number;
}

const NO_VADDR = 0xffffffffffffffffn;

/** One source PT_LOAD cut into output PT_LOADs, fed page by page (in runs) in ascending order. */
class LoadCutter {
  private start: bigint;
  private filesz = 0n;
  private memsz = 0n;
  private excludedPages = 0;
  private excludedBytes = 0n;

  constructor(
    private readonly ph: ProgramHeader,
    private readonly threshold: number,
    private readonly emit: (ph: ProgramHeader, start: bigint, filesz: bigint, memsz: bigint) => boolean,
  ) {
    this.start = ph.paddr;
  }

  /** Kept pages of `bytes` bytes in all, starting at paddr `from`. */
  kept(from: bigint, bytes: bigint): boolean {
    if (this.excludedPages >= this.threshold) {
      if (!this.emit(this.ph, this.start, this.filesz, this.memsz)) return false;
      this.start = from;
      this.filesz = 0n;
      this.memsz = 0n;
    } else {
      this.filesz += this.excludedBytes;
    }
    this.excludedPages = 0;
    this.excludedBytes = 0n;
    this.filesz += bytes;
    this.memsz += bytes;
    return true;
  }

  excluded(pages: number, bytes: bigint): void {
    this.excludedPages += pages;
    this.excludedBytes += bytes;
    this.memsz += bytes;
  }

  finish(): boolean {
    return this.emit(this.ph, this.start, this.filesz, this.memsz);
  }
}

/**
 * Cuts every PT_LOAD of `phdrs` (in table order, aliases included, as makedumpfile does) by the 256 rule. A page counts
 * as kept only when `keptRuns` says so and its bytes lie whole inside the segment's file data; a partial last page is a
 * hole. Returns undefined when more than `maxLoads` PT_LOADs would be needed at `threshold`.
 */
async function cutAt(phdrs: ProgramHeaderTable, noteIndex: number, pageSize: number, keptRuns: KeptRuns, threshold: number, maxLoads: number) {
  const out = new ProgramHeaderTableBuilder(phdrs.length);
  const copy = new SegmentListBuilder();
  let loads = 0;
  let newNoteIndex = noteIndex;
  const emit = (ph: ProgramHeader, start: bigint, filesz: bigint, memsz: bigint): boolean => {
    if (memsz === 0n) return true;
    if (++loads > maxLoads) return false;
    const delta = start - ph.paddr;
    const index = out.length;
    out.push({ ...ph, paddr: start, vaddr: ph.vaddr === NO_VADDR ? ph.vaddr : ph.vaddr + delta, offset: filesz > 0n ? ph.offset + delta : 0n, filesz, memsz });
    if (filesz > 0n) copy.push(index, Number(ph.offset + delta), Number(filesz), start);
    return true;
  };
  const page = BigInt(pageSize);
  for (let index = 0; index < phdrs.length; index++) {
    const ph = phdrs.get(index);
    if (index === noteIndex) {
      newNoteIndex = out.length;
      out.push(ph);
      continue;
    }
    if (ph.type !== PT_LOAD) {
      out.push({ ...ph, filesz: 0n });
      continue;
    }
    const end = ph.paddr + ph.memsz;
    const fileEnd = ph.paddr + ph.filesz;
    const cutter = new LoadCutter(ph, threshold, emit);
    const firstPfn = ph.paddr / page;
    const endPfn = (end + page - 1n) / page;
    const bytesOf = (from: bigint, to: bigint) => {
      const lo = from * page > ph.paddr ? from * page : ph.paddr;
      const hi = to * page < end ? to * page : end;
      return hi - lo;
    };
    // Kept pages must lie whole in the file data: the last one that does not is excluded, like a hole.
    const lastWholePfn = fileEnd / page;
    for await (const [from, to, kept] of keptRuns(Number(firstPfn), Number(endPfn))) {
      const a = BigInt(from);
      const b = BigInt(to);
      const keptEnd = kept ? (b < lastWholePfn ? b : lastWholePfn) : a;
      if (keptEnd > a) {
        const startByte = a * page > ph.paddr ? a * page : ph.paddr;
        if (!cutter.kept(startByte, bytesOf(a, keptEnd))) return undefined;
      }
      const excludedFrom = keptEnd > a ? keptEnd : a;
      if (b > excludedFrom) cutter.excluded(Number(b - excludedFrom), bytesOf(excludedFrom, b));
    }
    if (!cutter.finish()) return undefined;
  }
  return { phdrs: out.build(), noteIndex: newNoteIndex, copy: copy.build().sortedByOffset() };
}

/** The filtered table at PFN_EXCLUDED, or at the smallest doubling of it whose table holds at most `maxLoads` PT_LOADs. */
export async function filteredProgramHeaders(
  phdrs: ProgramHeaderTable,
  noteIndex: number,
  pageSize: number,
  keptRuns: KeptRuns,
  maxLoads = MAX_FILTERED_LOADS,
): Promise<FilteredTable> {
  // With no threshold at all, every source PT_LOAD stays whole: that table always fits.
  let loads = 0;
  for (let i = 0; i < phdrs.length; i++) if (phdrs.type(i) === PT_LOAD) loads++;
  for (let threshold = PFN_EXCLUDED; ; threshold *= 2) {
    const unbounded = threshold > 2 ** 40;
    const table = await cutAt(phdrs, noteIndex, pageSize, keptRuns, unbounded ? Infinity : threshold, unbounded ? Math.max(loads, maxLoads) : maxLoads);
    if (table) return { ...table, threshold: unbounded ? Infinity : threshold };
  }
}
