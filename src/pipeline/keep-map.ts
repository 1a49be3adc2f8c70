// Which pfns a filtered dump keeps, cycle by cycle: the classifier's verdict less known faults and zero pages.

import { promisify } from 'node:util';
import fs from 'node:fs';
import { extentAfter, type PfnExtent } from '../dump/pfn-map.js';
import { bitIsSet, clearBit, CYCLE_PFNS } from '../mm/page-selection.js';
import { isRecoverableReadError, readErrorName } from '../sources/read-errors.js';
import { IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';

const pread = promisify(fs.read);

/** Bitmaps of the cycles kept in memory at once; others are derived again when asked for (the same bits each time). */
const CACHE_BUDGET_BYTES = 32 << 20;
/** Zero-page scans read this much at a time. */
const SCAN_BYTES = 4 << 20;

export interface KeepMapOptions {
  maxMapnr: number;
  pageSize: number;
  /** The classifier's dumpable bitmap of [start, end): the dump level's verdict, poisoned and offline pages cleared. */
  classify: (start: number, end: number) => Uint8Array;
  /** Pfn ranges never to keep (known faults: MCE records, the log, the user), sorted and disjoint. */
  excluded: readonly (readonly [number, number])[];
  /** Read every kept page and drop the all-zero ones (dump level bit 1). */
  dropZeroPages?: { fd: number; name: string; extents: readonly PfnExtent[]; maxReadErrors: number };
}

export interface ScanReadError {
  pfn: number;
  fileOffset: number;
  error: string;
}

export class KeepMap {
  private readonly cache = new Map<number, Uint8Array>();
  private readonly cacheLimit: number;
  /** Pages that failed to read while looking for zero pages: never read again, listed as read errors. */
  readonly readErrors: ScanReadError[] = [];
  private readonly unreadable = new Set<number>();
  zeroPages = 0;
  private readonly scanned = new Set<number>();

  constructor(private readonly options: KeepMapOptions) {
    this.cacheLimit = Math.max(1, Math.floor(CACHE_BUDGET_BYTES / (CYCLE_PFNS / 8)));
  }

  /** The kept bitmap of cycle `c` (pfns c·CYCLE_PFNS up to maxMapnr). */
  async cycle(c: number): Promise<Uint8Array> {
    const hit = this.cache.get(c);
    if (hit) return hit;
    const start = c * CYCLE_PFNS;
    const end = Math.min(start + CYCLE_PFNS, this.options.maxMapnr);
    const bitmap = this.options.classify(start, end);
    for (const [s, e] of this.options.excluded) {
      for (let p = Math.max(s, start); p < Math.min(e, end); p++) clearBit(bitmap, p - start);
    }
    for (const p of this.unreadable) if (p >= start && p < end) clearBit(bitmap, p - start);
    if (this.options.dropZeroPages) {
      const zeros = await this.dropZeros(bitmap, start, end);
      // A cycle derived again finds the same zero pages: count them once.
      if (!this.scanned.has(c)) {
        this.scanned.add(c);
        this.zeroPages += zeros;
      }
    }
    if (this.cache.size >= this.cacheLimit) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(c, bitmap);
    return bitmap;
  }

  /** [from, to, kept] runs covering [start, end), in order. */
  async *runs(start: number, end: number): AsyncGenerator<readonly [number, number, boolean]> {
    let runStart = start;
    let runKept: boolean | undefined;
    for (let pfn = start; pfn < end; ) {
      const c = Math.floor(pfn / CYCLE_PFNS);
      const base = c * CYCLE_PFNS;
      const stop = Math.min(end, base + CYCLE_PFNS);
      const bitmap = pfn < this.options.maxMapnr ? await this.cycle(c) : undefined;
      while (pfn < stop) {
        const i = pfn - base;
        let kept: boolean;
        let step: number;
        const byte = bitmap && pfn < this.options.maxMapnr ? bitmap[i >>> 3] : 0;
        if ((i & 7) === 0 && stop - pfn >= 8 && (byte === 0 || byte === 0xff)) {
          kept = byte === 0xff;
          step = 8;
        } else {
          kept = (byte & (1 << (i & 7))) !== 0;
          step = 1;
        }
        if (runKept === undefined) runKept = kept;
        else if (kept !== runKept) {
          yield [runStart, pfn, runKept];
          runStart = pfn;
          runKept = kept;
        }
        pfn += step;
      }
    }
    if (runKept !== undefined) yield [runStart, end, runKept];
  }

  /** Clears the all-zero pages of the bitmap; pages that fail to read are cleared too, and remembered. */
  private async dropZeros(bitmap: Uint8Array, start: number, end: number): Promise<number> {
    const { pageSize, dropZeroPages } = this.options;
    const { fd, name, extents, maxReadErrors } = dropZeroPages!;
    const zero = Buffer.alloc(pageSize);
    const buf = Buffer.allocUnsafeSlow(SCAN_BYTES);
    const words = new Uint32Array(buf.buffer, buf.byteOffset, SCAN_BYTES >>> 2);
    const perRead = SCAN_BYTES / pageSize;
    let zeros = 0;
    for (let x = extentAfter(extents, start); x < extents.length && extents[x].startPfn < end; x++) {
      const ext = extents[x];
      const from = Math.max(ext.startPfn, start);
      const to = Math.min(ext.endPfn, end);
      for (let pfn = from; pfn < to; ) {
        // Read runs of kept pages only: excluded pages are never read.
        while (pfn < to && !bitIsSet(bitmap, pfn - start)) pfn++;
        let runEnd = pfn;
        while (runEnd < to && runEnd - pfn < perRead && bitIsSet(bitmap, runEnd - start)) runEnd++;
        if (runEnd === pfn) break;
        const offset = ext.fileOffset + (pfn - ext.startPfn) * pageSize;
        const got = await this.readKept(fd, name, buf, (runEnd - pfn) * pageSize, offset, pageSize, maxReadErrors, pfn);
        for (let k = 0; k < runEnd - pfn; k++) {
          const failed = got[k];
          // Most pages that hold data show it in their first word: only the others are compared whole.
          if (failed || (words[(k * pageSize) >>> 2] === 0 && buf.compare(zero, 0, pageSize, k * pageSize, (k + 1) * pageSize) === 0)) {
            clearBit(bitmap, pfn + k - start);
            if (!failed) zeros++;
          }
        }
        pfn = runEnd;
      }
    }
    return zeros;
  }

  /** Reads `length` bytes; on a recoverable error, page by page. Returns which pages failed. */
  private async readKept(fd: number, name: string, buf: Buffer, length: number, offset: number, pageSize: number, maxReadErrors: number, firstPfn: number): Promise<boolean[]> {
    const failed = new Array<boolean>(length / pageSize).fill(false);
    try {
      const { bytesRead } = await pread(fd, buf, 0, length, offset);
      if (bytesRead === length) return failed;
    } catch (err) {
      if (!isRecoverableReadError(err)) throw new IoError(`reading ${name} at offset ${hex(offset)}: ${(err as Error).message}`, { cause: err });
    }
    for (let k = 0; k < failed.length; k++) {
      let error: string | undefined;
      try {
        const { bytesRead } = await pread(fd, buf, k * pageSize, pageSize, offset + k * pageSize);
        if (bytesRead < pageSize) error = 'short read';
      } catch (err) {
        if (!isRecoverableReadError(err)) throw new IoError(`reading ${name} at offset ${hex(offset + k * pageSize)}: ${(err as Error).message}`, { cause: err });
        error = readErrorName(err);
      }
      if (error === undefined) continue;
      failed[k] = true;
      const pfn = firstPfn + k;
      if (!this.unreadable.has(pfn)) {
        this.unreadable.add(pfn);
        this.readErrors.push({ pfn, fileOffset: offset + k * pageSize, error });
      }
      if (this.readErrors.length > maxReadErrors) {
        throw new IoError(`more than ${maxReadErrors} pages failed to read (the last at file offset ${hex(offset + k * pageSize)}: ${error}); see --max-read-errors`);
      }
    }
    return failed;
  }
}
