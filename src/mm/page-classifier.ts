// The memory model's answer per cycle of pfns: present and dumpable bitmaps, poisoned and offline pages, class counts.

import { BadInputError, UsageError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeader } from '../elf/program-header.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';
import { CYCLE_PFNS, popcount } from './page-selection.js';
import { isUnavailable, parseMmInfo, X86_64_START_KERNEL_MAP, type MmInfo, type PhysRead } from './mm-info.js';
import { createPageTableWalker } from './x86-64-pagetable.js';
import { decodeSections } from './mem-sections.js';
import { StructPageWindow, WINDOW_ENTRIES, type WindowTally } from './struct-page-window.js';
import * as chain from './page-chain.js';
import { PfnRangeList, type PfnRange } from './pfn-ranges.js';

const U64 = (1n << 64n) - 1n;
const PAGE_OFFSET_4LEVEL = 0xffff880000000000n;
const PAGE_OFFSET_5LEVEL = 0xff10000000000000n;

export interface PageClassCounts {
  /** makedumpfile's counters: pfns of the blocks each class dropped, clamped at the cycle's end. */
  free: number;
  cache: number;
  cachePrivate: number;
  user: number;
  hwpoison: number;
  offline: number;
  /** Examined pfns whose struct page could not be read (refused by the PhysRead, or not in the dump): kept. */
  unclassified: number;
  /** Buddy pages whose order is past LENGTH(zone.free_area): kept, as makedumpfile does (it warns). */
  invalidFreeOrder: number;
  /** Set bits of the dumpable bitmap. */
  kept: number;
}

export interface CycleClassification {
  start: number;
  end: number;
  /** Bitmap 1 over [start, end), LSB first: inside some PT_LOAD, a partial last page counting as a hole. */
  present: Uint8Array;
  /** Bitmap 2: present, with file data, not excluded by the level, not poisoned or offline. Zero pages stay set. */
  dumpable: Uint8Array;
  poisoned: PfnRange[];
  offline: PfnRange[];
  /** pfns whose struct page could not be read: they stay dumpable and count as unclassified. */
  unreadable: PfnRange[];
  counts: PageClassCounts;
  /** False when nothing asked for the mem_map walk (no exclusion bit, no PG_hwpoison): only holes are left out. */
  walked: boolean;
}

export interface PageClassifier {
  info: MmInfo;
  pageSize: number;
  /** ceil(highest p_paddr + p_memsz / page size), as the PT_LOADs say. */
  segmentsMaxMapnr: number;
  /** Lowered, as makedumpfile does, to the end of the last present section that holds file data (the mem= case). */
  maxMapnr: number;
  /**
   * start: a multiple of CYCLE_PFNS; end ≤ start + CYCLE_PFNS and ≤ segmentsMaxMapnr. `dumpable` is the first bytes
   * of `into` when given (no 4 MiB buffer per cycle); `present` is made when first read.
   */
  classifyCycle(start: number, end: number, dumpLevel: number, into?: Uint8Array): CycleClassification;
}

export interface PageClassifierInput {
  phdrs: ProgramHeaderTable;
  vmcoreinfo: Map<string, string> | undefined;
  /** e_machine. */
  machine: number;
  read: PhysRead;
}

interface Run {
  start: number;
  end: number;
}

/** Throws BadInputError (one line) on hostile structure found while setting up: absurd section counts, no valid section table. */
export function createPageClassifier(input: PageClassifierInput): PageClassifier | { unavailable: string } {
  const parsed = parseMmInfo(input.vmcoreinfo, input.phdrs, input.machine);
  if (isUnavailable(parsed)) return parsed;
  const info: MmInfo = parsed;
  const ps = info.pageSize;
  const loads = input.phdrs.toArray().filter((ph) => ph.type === PT_LOAD);
  const psN = BigInt(ps);
  const pfnOf = (addr: bigint) => toPfn(addr / psN);
  const presentRuns: Run[] = loads.map((ph) => ({ start: pfnOf(ph.paddr), end: pfnOf(ph.paddr + ph.memsz) }));
  const nodataRuns: Run[] = loads
    .filter((ph) => ph.filesz < ph.memsz)
    .map((ph) => ({ start: pfnOf(ph.paddr + ph.filesz), end: pfnOf((ph.paddr + ph.memsz + psN - 1n) / psN * psN) }));
  // makedumpfile examines a pfn when its first byte lies in some PT_LOAD's file data (is_in_segs).
  const fileRuns = mergeRuns(
    loads.filter((ph) => ph.filesz > 0n).map((ph) => ({ start: pfnOf((ph.paddr + psN - 1n) / psN * psN), end: pfnOf((ph.paddr + ph.filesz + psN - 1n) / psN * psN) })),
  );
  const fileRanges = loads.filter((ph) => ph.filesz > 0n).map((ph) => [ph.paddr, ph.paddr + ph.filesz] as const);
  const inFileData = (paddr: bigint) => fileRanges.some(([a, b]) => paddr >= a && paddr < b);
  let maxPaddr = 0n;
  for (const ph of loads) if (ph.paddr + ph.memsz > maxPaddr) maxPaddr = ph.paddr + ph.memsz;
  const segmentsMaxMapnr = pfnOf((maxPaddr + psN - 1n) / psN * psN);

  const pps = info.pagesPerSection;
  const numSection = Math.ceil(segmentsMaxMapnr / pps);
  const sectionRuns = mergeRuns(fileRuns.map((r) => ({ start: Math.floor(r.start / pps), end: Math.min(Math.ceil(r.end / pps), numSection) })));
  const walker = createPageTableWalker(info.pgdPaddr, info.levels, info.smeMask, input.read);
  const sections = decodeSections(info, walker, input.read, pageOffsetOf(loads, info.levels), numSection, sectionRuns.map((r) => [r.start, r.end]));
  let lastSectionEnd = 0;
  for (const nr of sections.numbers) lastSectionEnd = Math.max(lastSectionEnd, Math.min((nr + 1) * pps, segmentsMaxMapnr));
  const maxMapnr = Math.min(segmentsMaxMapnr, lastSectionEnd);
  const window = new StructPageWindow(info.page.size, walker, input.read, inFileData);

  return {
    info,
    pageSize: ps,
    segmentsMaxMapnr,
    maxMapnr,
    classifyCycle(start, end, dumpLevel, into) {
      if (!Number.isSafeInteger(start) || start % CYCLE_PFNS !== 0 || !(end > start) || end > start + CYCLE_PFNS || end > segmentsMaxMapnr) {
        throw new RangeError(`classifyCycle: [${start}, ${end}) is not a cycle of this dump (max_mapnr ${segmentsMaxMapnr})`);
      }
      if (!Number.isInteger(dumpLevel) || dumpLevel < 0 || dumpLevel > 31) throw new UsageError(`dump level ${dumpLevel} is not in 0..31`);
      const bytes = Math.ceil((end - start) / 8);
      const presentBits = (bitmap: Uint8Array) => {
        for (const r of presentRuns) applyRun(bitmap, r, start, end, chain.setRange);
        return bitmap;
      };
      if (into && into.length < bytes) throw new RangeError(`classifyCycle: a bitmap of ${bytes} bytes does not fit in ${into.length}`);
      const dumpable = presentBits(into ? into.subarray(0, bytes).fill(0) : new Uint8Array(bytes));
      for (const r of nodataRuns) applyRun(dumpable, r, start, end, chain.clearRange);
      if (maxMapnr < end) applyRun(dumpable, { start: maxMapnr, end }, start, end, chain.clearRange);
      const out: chain.ChainOutput = {
        dumpable,
        start,
        end,
        counts: new Float64Array(chain.COUNT_SLOTS),
        poisoned: new PfnRangeList('poisoned'),
        offline: new PfnRangeList('offline'),
        unreadable: new PfnRangeList('unreadable'),
      };
      const walked =
        (dumpLevel & (chain.DL_EXCLUDE_CACHE | chain.DL_EXCLUDE_CACHE_PRI | chain.DL_EXCLUDE_USER_DATA)) !== 0 ||
        info.bits.hwpoison !== undefined ||
        ((dumpLevel & chain.DL_EXCLUDE_FREE) !== 0 && info.hasBuddyTest);
      if (walked) walkCycle(chain.chainParams(info, dumpLevel), out, Math.min(end, maxMapnr));
      const c = out.counts;
      let present: Uint8Array | undefined;
      return {
        start,
        end,
        get present() {
          return (present ??= presentBits(new Uint8Array(bytes)));
        },
        dumpable,
        poisoned: out.poisoned.ranges,
        offline: out.offline.ranges,
        unreadable: out.unreadable.ranges,
        walked,
        counts: {
          free: c[chain.C_FREE],
          cache: c[chain.C_CACHE],
          cachePrivate: c[chain.C_CACHE_PRIVATE],
          user: c[chain.C_USER],
          hwpoison: c[chain.C_HWPOISON],
          offline: c[chain.C_OFFLINE],
          unclassified: c[chain.C_UNCLASSIFIED],
          invalidFreeOrder: c[chain.C_INVALID_FREE_ORDER],
          kept: popcount(dumpable),
        },
      };
    },
  };

  function walkCycle(params: chain.ChainParams, out: chain.ChainOutput, walkEnd: number): void {
    const firstSection = Math.floor(out.start / pps);
    let firstRun = 0;
    for (let s = 0; s < sections.numbers.length; s++) {
      const nr = sections.numbers[s];
      const secStart = nr * pps;
      if (nr < firstSection || secStart >= walkEnd) continue;
      const secEnd = Math.min(secStart + pps, walkEnd);
      const mmdEnd = Math.min(secStart + pps, segmentsMaxMapnr);
      const tally: WindowTally = { readBytes: 0, refusedBytes: 0, missingBytes: 0 };
      let skipUntil = 0; // makedumpfile's skip-ahead lives inside one section's loop
      while (firstRun < fileRuns.length && fileRuns[firstRun].end <= secStart) firstRun++;
      for (let k = firstRun; k < fileRuns.length && fileRuns[k].start < secEnd; k++) {
        const r = fileRuns[k];
        const a = Math.max(r.start, secStart, out.start);
        const b = Math.min(r.end, secEnd);
        for (let p0 = a; p0 < b; ) {
          const p1 = Math.min(b, (Math.floor(p0 / WINDOW_ENTRIES) + 1) * WINDOW_ENTRIES);
          const hasExtra = p1 < mmdEnd && p1 % 512 !== 0;
          const count = p1 - p0;
          window.fill(sections.memMaps[s] + BigInt((p0 - secStart) * info.page.size), hasExtra ? count + 1 : count, tally);
          skipUntil = chain.classifyWindow(params, { u8: window.bytes, u32: window.u32, i32: window.i32, unreadable: window.unreadable, firstPfn: p0, count, hasExtra }, out, skipUntil);
          p0 = p1;
        }
      }
      if (tally.readBytes === 0 && tally.refusedBytes === 0 && tally.missingBytes > 0) {
        throw new BadInputError(
          `mem_map: section ${nr} (pfns ${hex(secStart)}-${hex(secStart + pps - 1)}) is present, but its struct pages at ${hex(sections.memMaps[s])} do not translate to any PT_LOAD's file data`,
        );
      }
    }
  }
}

function applyRun(bitmap: Uint8Array, r: Run, start: number, end: number, op: (b: Uint8Array, a: number, z: number) => void): void {
  const a = Math.max(r.start, start);
  const b = Math.min(r.end, end);
  if (a < b) op(bitmap, a - start, b - start);
}

function mergeRuns(runs: Run[]): Run[] {
  const sorted = runs.filter((r) => r.end > r.start).sort((x, y) => x.start - y.start);
  const out: Run[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** makedumpfile's rule: the last PT_LOAD below the kernel-text mapping gives the direct map's base. */
function pageOffsetOf(loads: readonly ProgramHeader[], levels: 4 | 5): bigint {
  let offset = 0n;
  for (const ph of loads) {
    if (ph.vaddr !== U64 && ph.vaddr < X86_64_START_KERNEL_MAP) offset = BigInt.asUintN(64, ph.vaddr - ph.paddr);
  }
  if (offset !== 0n) return offset;
  return levels === 5 ? PAGE_OFFSET_5LEVEL : PAGE_OFFSET_4LEVEL;
}

function toPfn(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadInputError(`program headers: page frame ${hex(value)} is too large`);
  return Number(value);
}

