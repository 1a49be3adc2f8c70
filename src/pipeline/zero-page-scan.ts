// Finds the all-zero pages among a cycle's kept pages (dump level bit 1), reading only kept pages.

import fs from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { extentAfter, type PfnExtent } from '../dump/pfn-map.js';
import { bitIsSet, clearBit } from '../mm/page-selection.js';
import { isRecoverableReadError, readErrorName } from '../sources/read-errors.js';
import { IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';

/** Each read takes at most this much, into one buffer. */
const SCAN_BYTES = 1 << 20;
/** Reads between turns of the event loop, where a signal's handler runs: about 8 MiB. */
const READS_PER_TURN = 8;

export interface ZeroScanInput {
  fd: number;
  name: string;
  extents: readonly PfnExtent[];
  maxReadErrors: number;
}

export interface ScanReadError {
  pfn: number;
  fileOffset: number;
  error: string;
}

/** A run of kept pages read at once. */
interface Run {
  pfn: number;
  pages: number;
  fileOffset: number;
}

export class ZeroPageScan {
  /** Pages that failed to read: never read again, listed as read errors. */
  readonly readErrors: ScanReadError[] = [];
  readonly unreadable = new Set<number>();
  private buffer?: Buffer;
  private readonly zero: Buffer;

  constructor(
    private readonly input: ZeroScanInput,
    private readonly pageSize: number,
  ) {
    this.zero = Buffer.alloc(pageSize);
  }

  /**
   * Clears the all-zero pages of `bitmap` (bit i: pfn start + i); pages that fail to read are cleared too. Returns the
   * zero pages found. Read with readSync, as the page tables and mem_map before it are: through the thread pool, each
   * read's round trip cost more than its copy (on the real fixture the reads took 35-46 ms that way, 10-16 ms so).
   */
  async clearZeroPages(bitmap: Uint8Array, start: number, end: number): Promise<number> {
    const buf = (this.buffer ??= Buffer.allocUnsafeSlow(SCAN_BYTES));
    let zeros = 0;
    let reads = 0;
    for (const run of this.keptRuns(bitmap, start, end)) {
      const failed = this.readWhole(buf, run) ? undefined : this.readPageByPage(buf, run);
      zeros += this.clearZeros(bitmap, start, run, buf, failed);
      if (++reads % READS_PER_TURN === 0) await turn();
    }
    return zeros;
  }

  /** Runs of kept pages, at most SCAN_BYTES each, within one extent: excluded pages are never read. */
  private *keptRuns(bitmap: Uint8Array, start: number, end: number): Generator<Run> {
    const { extents } = this.input;
    const perRead = SCAN_BYTES / this.pageSize;
    for (let x = extentAfter(extents, start); x < extents.length && extents[x].startPfn < end; x++) {
      const ext = extents[x];
      const to = Math.min(ext.endPfn, end);
      for (let pfn = Math.max(ext.startPfn, start); pfn < to; ) {
        while (pfn < to && !bitIsSet(bitmap, pfn - start)) pfn++;
        let runEnd = pfn;
        while (runEnd < to && runEnd - pfn < perRead && bitIsSet(bitmap, runEnd - start)) runEnd++;
        if (runEnd === pfn) break;
        yield { pfn, pages: runEnd - pfn, fileOffset: ext.fileOffset + (pfn - ext.startPfn) * this.pageSize };
        pfn = runEnd;
      }
    }
  }

  private clearZeros(bitmap: Uint8Array, start: number, run: Run, buf: Buffer, failed: boolean[] | undefined): number {
    const { pageSize, zero } = this;
    const words = new Uint32Array(buf.buffer, buf.byteOffset, SCAN_BYTES >>> 2);
    let zeros = 0;
    for (let k = 0; k < run.pages; k++) {
      const bad = failed?.[k] ?? false;
      // Most pages that hold data show it in their first word: only the others are compared whole.
      if (bad || (words[(k * pageSize) >>> 2] === 0 && buf.compare(zero, 0, pageSize, k * pageSize, (k + 1) * pageSize) === 0)) {
        clearBit(bitmap, run.pfn + k - start);
        if (!bad) zeros++;
      }
    }
    return zeros;
  }

  private readWhole(buf: Buffer, run: Run): boolean {
    const length = run.pages * this.pageSize;
    try {
      return fs.readSync(this.input.fd, buf, 0, length, run.fileOffset) === length;
    } catch (err) {
      if (!isRecoverableReadError(err)) throw new IoError(`reading ${this.input.name} at offset ${hex(run.fileOffset)}: ${(err as Error).message}`, { cause: err });
      return false;
    }
  }

  /** The run again, page by page: which pages failed. */
  private readPageByPage(buf: Buffer, run: Run): boolean[] {
    const { fd, name, maxReadErrors } = this.input;
    const { pageSize } = this;
    const failed = new Array<boolean>(run.pages).fill(false);
    for (let k = 0; k < run.pages; k++) {
      const at = run.fileOffset + k * pageSize;
      let error: string | undefined;
      try {
        if (fs.readSync(fd, buf, k * pageSize, pageSize, at) < pageSize) error = 'short read';
      } catch (err) {
        if (!isRecoverableReadError(err)) throw new IoError(`reading ${name} at offset ${hex(at)}: ${(err as Error).message}`, { cause: err });
        error = readErrorName(err);
      }
      if (error === undefined) continue;
      failed[k] = true;
      const pfn = run.pfn + k;
      if (!this.unreadable.has(pfn)) {
        this.unreadable.add(pfn);
        this.readErrors.push({ pfn, fileOffset: at, error });
      }
      if (this.readErrors.length > maxReadErrors) {
        throw new IoError(`more than ${maxReadErrors} pages failed to read (the last at file offset ${hex(at)}: ${error}); see --max-read-errors`);
      }
    }
    return failed;
  }
}
