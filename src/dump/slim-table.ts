// The program header table of a slim dump: every PT_LOAD kept, split around the few pages whose bytes it keeps.

import { PT_LOAD } from '../elf/constants.js';
import { OmitReason } from '../notes/slimcore-notes.js';
import { OmittedRanges } from '../notes/omitted-ranges.js';
import type { ProgramHeader } from '../elf/program-header.js';
import { ProgramHeaderTable, ProgramHeaderTableBuilder } from '../elf/program-header-table.js';

/** A physical range whose bytes a slim dump keeps (page-aligned, sorted, disjoint). */
export interface KeptRange {
  paddr: bigint;
  length: bigint;
}

export interface SlimTable {
  phdrs: ProgramHeaderTable;
  noteIndex: number;
  /** The PT_LOADs' file bytes the slim dump leaves out, as their OMITTED entries (one per PT_LOAD, maybe 128 Ki). */
  leftOut: OmittedRanges;
}

const NO_VADDR = 0xffffffffffffffffn;

/** Whether a segment's bytes in [start, end) (offsets within it) can be had: on a pipe, only what the look-ahead holds. */
export type KeepCheck = (inputIndex: number, start: bigint, end: bigint) => boolean;

function piece(ph: ProgramHeader, start: bigint, length: bigint, kept: boolean): ProgramHeader {
  return {
    ...ph,
    offset: kept ? ph.offset + start : 0n,
    vaddr: ph.vaddr === NO_VADDR ? ph.vaddr : ph.vaddr + start,
    paddr: ph.paddr + start,
    filesz: kept ? length : 0n,
    memsz: length,
  };
}

/** Kept ranges inside [0, filesz) of one PT_LOAD, as offsets within it. */
function keptInside(ph: ProgramHeader, kept: readonly KeptRange[]): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  const end = ph.paddr + ph.filesz;
  for (const k of kept) {
    const s = k.paddr > ph.paddr ? k.paddr : ph.paddr;
    const e = k.paddr + k.length < end ? k.paddr + k.length : end;
    if (s < e) out.push([s - ph.paddr, e - ph.paddr]);
  }
  return out;
}

/**
 * Splits each PT_LOAD so that kept ranges become pieces with p_filesz == p_memsz and the rest pieces with p_filesz 0.
 * Physical coverage stays exactly as in the input, aliases included, and a kept page is kept in every PT_LOAD that
 * holds it (crash reads the first PT_LOAD that covers an address and never looks further).
 */
export function slimProgramHeaders(
  phdrs: ProgramHeaderTable,
  noteIndex: number,
  kept: readonly KeptRange[],
  canKeep: KeepCheck,
  keptOnce: KeptRange[] = [],
): SlimTable {
  const table = new ProgramHeaderTableBuilder(phdrs.length);
  // Ranges kept once only: in the first PT_LOAD, in header order, that holds them (and can keep them).
  let once = keptOnce.map((r) => ({ ...r }));
  const leftOut = new OmittedRanges(phdrs.length);
  let newNoteIndex = noteIndex;
  for (let index = 0; index < phdrs.length; index++) {
    const ph = phdrs.get(index);
    if (index === noteIndex) {
      newNoteIndex = table.length;
      table.push(ph);
      continue;
    }
    if (ph.type !== PT_LOAD) {
      table.push({ ...ph, filesz: 0n });
      continue;
    }
    // This PT_LOAD's pieces: the last may still grow, so they go into the table once it is done.
    const out: ProgramHeader[] = [];
    let at = 0n;
    const here = keptInside(ph, once).filter(([s, e]) => canKeep(index, s, e));
    once = subtract(once, here.map(([s, e]) => ({ paddr: ph.paddr + s, length: e - s })));
    const ranges = unite([...keptInside(ph, kept).filter(([s, e]) => canKeep(index, s, e)), ...here]);
    const leave = (to: bigint) => {
      if (to <= at) return;
      out.push(piece(ph, at, to - at, false));
      leftOut.push(ph.paddr + at, to - at, OmitReason.SLIM, 0);
      at = to;
    };
    for (const [s, e] of ranges) {
      leave(s);
      out.push(piece(ph, s, e - s, true));
      at = e;
    }
    leave(ph.filesz);
    if (ph.memsz > ph.filesz) {
      const last = out[out.length - 1];
      // A tail that was never in the file stays a zero-fill part; join it to a left-out piece when one ends here.
      if (at > 0n && last.filesz === 0n && last.paddr + last.memsz === ph.paddr + ph.filesz) last.memsz += ph.memsz - ph.filesz;
      else out.push(piece(ph, ph.filesz, ph.memsz - ph.filesz, false));
    } else if (ph.memsz === 0n && ph.filesz === 0n) {
      out.push(ph);
    }
    for (const p of out) table.push(p);
  }
  return { phdrs: table.build(), noteIndex: newNoteIndex, leftOut };
}

/** Sorted, merged [start, end) pairs. */
function unite(pairs: [bigint, bigint][]): [bigint, bigint][] {
  const sorted = [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = e > last[1] ? e : last[1];
    else out.push([s, e]);
  }
  return out;
}

/** `ranges` less every range in `taken` (both page-aligned). */
function subtract(ranges: KeptRange[], taken: KeptRange[]): KeptRange[] {
  let out = ranges;
  for (const t of taken) {
    const tEnd = t.paddr + t.length;
    out = out.flatMap((r) => {
      const rEnd = r.paddr + r.length;
      if (tEnd <= r.paddr || rEnd <= t.paddr) return [r];
      const parts: KeptRange[] = [];
      if (r.paddr < t.paddr) parts.push({ paddr: r.paddr, length: t.paddr - r.paddr });
      if (tEnd < rEnd) parts.push({ paddr: tEnd, length: rEnd - tEnd });
      return parts;
    });
  }
  return out;
}

/** Page-aligned, merged ranges covering the given physical page addresses. */
export function keptRangesFromPages(pages: readonly bigint[], pageSize: number): KeptRange[] {
  const page = BigInt(pageSize);
  const starts = [...new Set(pages.map((p) => p - (p % page)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: KeptRange[] = [];
  for (const start of starts) {
    const last = out[out.length - 1];
    if (last && last.paddr + last.length === start) last.length += page;
    else out.push({ paddr: start, length: page });
  }
  return out;
}
