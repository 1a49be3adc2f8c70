// Where each page frame's bytes lie in the input file: whole in-file pages of the PT_LOADs, one place per pfn.

import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';
import { setRange } from '../mm/page-chain.js';

/** Pfns [startPfn, endPfn) lie at file offset `fileOffset` + (pfn - startPfn) * pageSize. */
export interface PfnExtent {
  startPfn: number;
  endPfn: number;
  fileOffset: number;
}

/**
 * Sorted, disjoint extents. Where PT_LOADs alias one page (the kernel-text mapping over RAM) any of them will do.
 * Pages only partly in a segment's file data are left out.
 */
export function pfnExtents(phdrs: ProgramHeaderTable, pageSize: number): PfnExtent[] {
  const page = BigInt(pageSize);
  const raw: PfnExtent[] = [];
  for (let i = 0; i < phdrs.length; i++) {
    if (phdrs.type(i) !== PT_LOAD || phdrs.filesz(i) === 0n) continue;
    const paddr = phdrs.paddr(i);
    const first = (paddr + page - 1n) / page;
    const end = (paddr + phdrs.filesz(i)) / page;
    if (end <= first) continue;
    const fileOffset = phdrs.offset(i) + (first * page - paddr);
    if (fileOffset + (end - first) * page > BigInt(Number.MAX_SAFE_INTEGER)) continue;
    raw.push({ startPfn: Number(first), endPfn: Number(end), fileOffset: Number(fileOffset) });
  }
  // Aliased pages hold the same bytes in every PT_LOAD: one place per pfn is enough, so sweep once in pfn order.
  raw.sort((a, b) => a.startPfn - b.startPfn);
  const placed: PfnExtent[] = [];
  let coveredTo = 0;
  for (const e of raw) {
    if (e.endPfn <= coveredTo) continue;
    const from = Math.max(e.startPfn, coveredTo);
    placed.push({ startPfn: from, endPfn: e.endPfn, fileOffset: e.fileOffset + (from - e.startPfn) * pageSize });
    coveredTo = e.endPfn;
  }
  return placed;
}

/** Index of the first extent that ends after `pfn`. */
export function extentAfter(extents: readonly PfnExtent[], pfn: number): number {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (extents[mid].endPfn <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Bitmap 1 of [start, end), as makedumpfile makes it: [floor(p_paddr), floor(p_paddr + p_memsz)) of every PT_LOAD.
 * In the first bytes of `into` when given.
 */
export function presentBitmap(phdrs: ProgramHeaderTable, pageSize: number, start: number, end: number, into?: Uint8Array): Uint8Array {
  const bytes = Math.ceil((end - start) / 8);
  if (into && into.length < bytes) throw new RangeError(`presentBitmap: ${bytes} bytes do not fit in ${into.length}`);
  const bitmap = into ? into.subarray(0, bytes).fill(0) : new Uint8Array(bytes);
  const page = BigInt(pageSize);
  for (let i = 0; i < phdrs.length; i++) {
    if (phdrs.type(i) !== PT_LOAD) continue;
    const paddr = phdrs.paddr(i);
    const from = Math.max(start, Number(paddr / page));
    const to = Math.min(end, Number((paddr + phdrs.memsz(i)) / page));
    if (from < to) setRange(bitmap, from - start, to - start);
  }
  return bitmap;
}
