// Which pfns a filtered dump keeps, cycle by cycle: the classifier's verdict less known faults and zero pages.

import { clearBit, CYCLE_PFNS } from '../mm/page-selection.js';
import { CompactBitmap } from '../mm/compact-bitmap.js';
import { ZeroPageScan, type ScanReadError, type ZeroScanInput } from './zero-page-scan.js';

export type { ScanReadError } from './zero-page-scan.js';

/**
 * Compact cycles kept for the later passes, the first ones derived first; a cycle past this is derived again when
 * asked for (the same bits each time). Long runs cost little: 1 TiB of mostly free memory takes kilobytes.
 */
export const CACHE_BUDGET_BYTES = 8 << 20;

export interface KeepMapOptions {
  maxMapnr: number;
  pageSize: number;
  /**
   * The classifier's dumpable bitmap of [start, end): the dump level's verdict, poisoned and offline pages cleared;
   * in `into` (at least a cycle's bitmap) when the classifier can, so that no cycle allocates one.
   */
  classify: (start: number, end: number, into: Uint8Array) => Uint8Array;
  /** Pfn ranges never to keep (known faults: MCE records, the log, the user), sorted and disjoint. */
  excluded: readonly (readonly [number, number])[];
  /** Read every kept page and drop the all-zero ones (dump level bit 1). */
  dropZeroPages?: ZeroScanInput;
}

export class KeepMap {
  private readonly cache = new Map<number, CompactBitmap>();
  private cachedBytes = 0;
  /** The last cycle derived past the budget: the copy asks for it window after window. */
  private recent?: { c: number; kept: CompactBitmap };
  /**
   * Buffers for cycles past the budget, taken in turn, so that a pass over fragmented memory allocates nothing per
   * cycle: one is never taken while runs() still reads the cycle in it.
   */
  private readonly spare: { buffer: Uint8Array; kept?: CompactBitmap }[] = [];
  private readonly reading = new Map<CompactBitmap, number>();
  private readonly pending = new Map<number, Promise<CompactBitmap>>();
  /** Derivations run one at a time: they share the bitmap and the scan buffer. */
  private lastDerived: Promise<unknown> = Promise.resolve();
  private bitmapBuffer?: Uint8Array;
  private readonly zeroScan?: ZeroPageScan;
  /** Pages that failed to read while looking for zero pages: never read again, listed as read errors. */
  readonly readErrors: readonly ScanReadError[];
  private readonly unreadable: ReadonlySet<number>;
  zeroPages = 0;
  private readonly scanned = new Set<number>();

  constructor(private readonly options: KeepMapOptions) {
    if (options.dropZeroPages) this.zeroScan = new ZeroPageScan(options.dropZeroPages, options.pageSize);
    this.readErrors = this.zeroScan?.readErrors ?? [];
    this.unreadable = this.zeroScan?.unreadable ?? new Set();
  }

  /**
   * The kept pfns of cycle `c` (pfns c·CYCLE_PFNS up to maxMapnr): bit i for pfn c·CYCLE_PFNS + i. A cycle past the
   * budget lives in a buffer that later cycles take again: read it before asking for another cycle.
   */
  cycle(c: number): Promise<CompactBitmap> {
    const hit = this.cache.get(c) ?? (this.recent?.c === c ? this.recent.kept : undefined);
    if (hit) return Promise.resolve(hit);
    let derived = this.pending.get(c);
    if (!derived) {
      derived = this.lastDerived.then(() => this.derive(c)).finally(() => this.pending.delete(c));
      this.lastDerived = derived.catch(() => undefined);
      this.pending.set(c, derived);
    }
    return derived;
  }

  /** The kept bitmap of cycle `c`: in `into` (its first bytes) when given, else in a new buffer. */
  async bitmap(c: number, into?: Uint8Array): Promise<Uint8Array> {
    return (await this.cycle(c)).toBitmap(into);
  }

  private async derive(c: number): Promise<CompactBitmap> {
    const again = this.cache.get(c) ?? (this.recent?.c === c ? this.recent.kept : undefined);
    if (again) return again;
    const start = c * CYCLE_PFNS;
    const end = Math.min(start + CYCLE_PFNS, this.options.maxMapnr);
    this.bitmapBuffer ??= new Uint8Array(CYCLE_PFNS / 8);
    const bitmap = this.options.classify(start, end, this.bitmapBuffer);
    for (const [s, e] of this.options.excluded) {
      for (let p = Math.max(s, start); p < Math.min(e, end); p++) clearBit(bitmap, p - start);
    }
    for (const p of this.unreadable) if (p >= start && p < end) clearBit(bitmap, p - start);
    if (this.zeroScan) {
      const zeros = await this.zeroScan.clearZeroPages(bitmap, start, end);
      // A cycle derived again finds the same zero pages: count them once.
      if (!this.scanned.has(c)) {
        this.scanned.add(c);
        this.zeroPages += zeros;
      }
    }
    const size = CompactBitmap.byteLengthOf(bitmap, end - start);
    if (this.cachedBytes + size <= CACHE_BUDGET_BYTES) {
      const kept = CompactBitmap.from(bitmap, end - start);
      this.cache.set(c, kept);
      this.cachedBytes += kept.byteLength;
      return kept;
    }
    const bytes = Math.ceil((end - start) / 8);
    const spare = this.freeSpare();
    spare.buffer.set(bitmap.subarray(0, bytes));
    spare.kept = CompactBitmap.over(spare.buffer.subarray(0, bytes), end - start);
    this.recent = { c, kept: spare.kept };
    return spare.kept;
  }

  /** A spare buffer neither holding the last cycle nor being read; a third one only while both are. */
  private freeSpare(): { buffer: Uint8Array; kept?: CompactBitmap } {
    const free = this.spare.find((s) => !s.kept || (s.kept !== this.recent?.kept && !this.reading.has(s.kept)));
    if (free) return free;
    const made = { buffer: new Uint8Array(CYCLE_PFNS / 8) };
    if (this.spare.length < 2) this.spare.push(made);
    return made;
  }

  /** [from, to, kept] runs covering [start, end), in order. */
  async *runs(start: number, end: number): AsyncGenerator<readonly [number, number, boolean]> {
    let runStart = start;
    let runKept: boolean | undefined;
    const { maxMapnr } = this.options;
    for (let pfn = start; pfn < end; ) {
      // Past maxMapnr nothing is kept: one piece to the end.
      const base = Math.floor(pfn / CYCLE_PFNS) * CYCLE_PFNS;
      const stop = pfn >= maxMapnr ? end : Math.min(end, base + CYCLE_PFNS, maxMapnr);
      const cycle = pfn >= maxMapnr ? undefined : await this.cycle(base / CYCLE_PFNS);
      const pieces = cycle ? cycle.pieces(pfn - base, stop - base) : [[pfn - base, end - base, false] as const];
      if (cycle) this.reading.set(cycle, (this.reading.get(cycle) ?? 0) + 1);
      try {
        for (const [from, , kept] of pieces) {
          if (runKept === undefined) runKept = kept;
          else if (kept !== runKept) {
            yield [runStart, base + from, runKept];
            runStart = base + from;
            runKept = kept;
          }
        }
      } finally {
        if (cycle) {
          const n = this.reading.get(cycle)! - 1;
          if (n === 0) this.reading.delete(cycle);
          else this.reading.set(cycle, n);
        }
      }
      pfn = stop;
    }
    if (runKept !== undefined) yield [runStart, end, runKept];
  }
}
