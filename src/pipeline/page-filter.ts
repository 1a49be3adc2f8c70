// The page filter's first pass: classify the crashed kernel's pages, find poisoned ones, and lay out a filtered dump.

import { filteredProgramHeaders, type FilteredTable } from '../dump/filtered-table.js';
import { pfnExtents, presentBitmap } from '../dump/pfn-map.js';
import type { DataSegment } from '../dump/segment-list.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { FaultList } from '../faults/fault-list.js';
import { firstEndingAfter, type NormalizedFaults } from '../faults/fault-map.js';
import { BadInputError } from '../errors.js';
import { uniteRanges } from '../faults/number-ranges.js';
import { memoryFromSegments, fdReadAt } from '../klog/physical-memory.js';
import { CYCLE_PFNS, type PageSelection } from '../mm/page-selection.js';
import { FilterFlag, PageClassCode, type FilterSummary } from '../notes/filter-note.js';
import { OmitReason } from '../notes/slimcore-notes.js';
import type { ByteSource } from '../sources/byte-source.js';
import { openClassifier, type CycleVerdict } from './classifier-adapter.js';
import { KeepMap } from './keep-map.js';

export interface FilterRequest {
  prefix: DumpPrefix;
  source: ByteSource;
  dumpLevel: number;
  /** Page-aligned physical ranges known to be bad (MCE records, the log, the user): never read, never kept. */
  knownBad: () => NormalizedFaults;
  /** The ELF layout needs the whole table before the first byte; the kdump format needs the page selection. */
  format: 'elf' | 'kdump';
  maxReadErrors: number;
}

export interface FilterOutcome {
  dumpLevel: number;
  /** Poisoned and offline pages (reason 5), and pages that failed to read while looking for zero pages (reason 3). */
  faults: FaultList;
  summary: FilterSummary;
  /** For an ELF dump at a level other than 0: makedumpfile -E's table, and the pages to write as zeros inside it. */
  elf?: { table: FilteredTable; excludedIn: (seg: DataSegment, from: number, to: number) => Promise<[number, number][]> };
  /** For the kdump format: bitmaps 1 and 2, cycle by cycle. */
  selection?: PageSelection;
}

/** Why the filter cannot run on this dump (a notice), or undefined when it can. */
export type FilterUnavailable = { unavailable: string };

function pfnPairs(faults: NormalizedFaults): [number, number][] {
  return Array.from({ length: faults.count }, (_, i): [number, number] => [faults.start[i], faults.end[i]]);
}

/** Whether pfns [first, last] touch one of the sorted, disjoint ranges: a binary search, however many faults. */
function touchesBad(bad: NormalizedFaults, first: number, last: number): boolean {
  const i = firstEndingAfter(bad, first);
  return i < bad.count && bad.start[i] <= last;
}

export async function runPageFilter(request: FilterRequest): Promise<FilterOutcome | FilterUnavailable> {
  const { prefix, source, dumpLevel } = request;
  const pageSize = prefix.pageSize;
  // Made only once the classifier is sure to run: 100,000 faults are worth sorting only then.
  let bad: NormalizedFaults | undefined;
  const memory = memoryFromSegments(prefix.phdrs, fdReadAt(source.fd, source.name));
  const page = BigInt(pageSize);
  // Struct pages and page tables in a known-bad page are never read: those pfns stay kept, unclassified.
  const guardedRead = (paddr: bigint, length: number, into?: Uint8Array) => {
    const first = Number(paddr / page);
    const last = Number((paddr + BigInt(Math.max(length, 1)) - 1n) / page);
    bad ??= request.knownBad();
    if (touchesBad(bad, first, last)) return undefined;
    return memory.read(paddr, length, into);
  };
  const classifier = openClassifier(prefix, guardedRead);
  if ('unavailable' in classifier) return classifier;

  const maxMapnr = classifier.segmentsMaxMapnr;
  // What each cycle's first classification found; a cycle derived again finds the same.
  const verdicts = new Map<number, Pick<CycleVerdict, 'counts' | 'poisoned' | 'offline'>>();
  const classifyOnce = (start: number, end: number, into: Uint8Array): Uint8Array => {
    const { dumpable, counts, poisoned, offline } = classifier.classifyCycle(start, end, dumpLevel, into);
    if (!verdicts.has(start)) verdicts.set(start, { counts, poisoned, offline });
    return dumpable;
  };
  const extents = pfnExtents(prefix.phdrs, pageSize);
  const dropZeros = request.format === 'elf' && (dumpLevel & 1) !== 0;
  const keep = new KeepMap({
    maxMapnr,
    pageSize,
    classify: classifyOnce,
    excluded: pfnPairs((bad ??= request.knownBad())),
    dropZeroPages: dropZeros ? { fd: source.fd, name: source.name, extents, maxReadErrors: request.maxReadErrors } : undefined,
  });

  let elf: FilterOutcome['elf'];
  if (request.format === 'elf' && dumpLevel !== 0) {
    const table = await filteredProgramHeaders(prefix.phdrs, prefix.noteIndex, pageSize, (s, e) => keep.runs(s, e));
    const excludedIn = async (seg: DataSegment, from: number, to: number) => {
      const out: [number, number][] = [];
      const base = seg.paddr;
      const startPfn = Number((base + BigInt(from)) / page);
      const endPfn = Number((base + BigInt(to) + page - 1n) / page);
      for await (const [s, e, kept] of keep.runs(startPfn, endPfn)) {
        if (kept) continue;
        const a = Math.max(from, Number(BigInt(s) * page - base));
        const b = Math.min(to, Number(BigInt(e) * page - base));
        if (a < b) out.push([a, b]);
      }
      return out;
    };
    elf = { table, excludedIn };
  }
  let keptPages = 0;
  if (!elf) {
    // Every cycle once: the poisoned and offline pages must be known before the header, at any level.
    for (let start = 0; start < maxMapnr; start += CYCLE_PFNS) keptPages += (await keep.cycle(start / CYCLE_PFNS)).count;
  }

  const counts = new Map<number, number>();
  const add = (code: number, n: number) => n > 0 && counts.set(code, (counts.get(code) ?? 0) + n);
  const poisoned: [number, number][] = [];
  const offline: [number, number][] = [];
  for (const v of verdicts.values()) {
    add(PageClassCode.CACHE, v.counts.cache);
    add(PageClassCode.CACHE_PRIVATE, v.counts.cachePrivate);
    add(PageClassCode.USER, v.counts.user);
    add(PageClassCode.FREE, v.counts.free);
    add(PageClassCode.HWPOISON, v.counts.hwpoison);
    add(PageClassCode.OFFLINE, v.counts.offline);
    add(PageClassCode.UNCLASSIFIED, v.counts.unclassified);
    poisoned.push(...v.poisoned);
    offline.push(...v.offline);
  }
  add(PageClassCode.ZERO, keep.zeroPages);
  // The kdump writer finds zero pages as it writes them; the entry is there for the capture to fill in afterwards.
  if (request.format === 'kdump' && (dumpLevel & 1) !== 0 && !counts.has(PageClassCode.ZERO)) counts.set(PageClassCode.ZERO, 0);
  const faults = new FaultList((max) => new BadInputError(`the page flags name more than ${max.toLocaleString('en')} runs of poisoned or offline pages`));
  for (const [s, e] of uniteRanges([...poisoned, ...offline])) faults.add(BigInt(s) * page, BigInt(e - s) * page, OmitReason.PAGE_FLAG, 'page flags');
  for (const r of keep.readErrors) faults.add(BigInt(r.pfn) * page, page, OmitReason.READ_ERROR, `read error (${r.error}) while looking for zero pages`);
  const summary: FilterSummary = { dumpLevel, flags: FilterFlag.PAGE_FLAGS_CHECKED, pages: counts };

  const selection: PageSelection | undefined =
    request.format === 'kdump'
      ? {
          pageSize,
          maxMapnr: classifier.maxMapnr,
          dumpableCount: keptPages,
          async *cycles() {
            // Into buffers that every cycle of the pass shares: a pass allocates no bitmap per cycle.
            const presentBuffer = new Uint8Array(CYCLE_PFNS / 8);
            const dumpableBuffer = new Uint8Array(CYCLE_PFNS / 8);
            for (let start = 0; start < classifier.maxMapnr; start += CYCLE_PFNS) {
              const end = Math.min(start + CYCLE_PFNS, classifier.maxMapnr);
              // Made when read (the writer's first pass reads only `present`), and valid, as the selection says, until
              // the next cycle is asked for: a cycle past the keep map's budget shares its buffer with later ones.
              const kept = await keep.cycle(start / CYCLE_PFNS);
              let present: Uint8Array | undefined;
              let dumpable: Uint8Array | undefined;
              yield {
                start,
                end,
                get present() {
                  return (present ??= presentBitmap(prefix.phdrs, pageSize, start, end, presentBuffer));
                },
                get dumpable() {
                  return (dumpable ??= kept.toBitmap(dumpableBuffer));
                },
              };
            }
          },
        }
      : undefined;
  return { dumpLevel, faults, summary, elf, selection };
}
