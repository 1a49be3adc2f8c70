// The record of pages that failed to read: errno matching, merging of neighbouring pages, and the cap.

import { IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';

/** Errno numbers after which the copy goes on with the next page. Node has no name for EHWPOISON, so match numbers. */
export const RECOVERABLE_ERRNOS: ReadonlyMap<number, string> = new Map([
  [5, 'EIO'],
  [6, 'ENXIO'],
  [14, 'EFAULT'],
  [133, 'EHWPOISON'],
]);

export const DEFAULT_MAX_READ_ERRORS = 1024;

export function errnoOf(err: unknown): number | undefined {
  const errno = (err as NodeJS.ErrnoException).errno;
  return typeof errno === 'number' ? Math.abs(errno) : undefined;
}

export function isRecoverableReadError(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && RECOVERABLE_ERRNOS.has(errno);
}

export function readErrorName(err: unknown): string {
  const errno = errnoOf(err);
  return (errno !== undefined && RECOVERABLE_ERRNOS.get(errno)) || (err as NodeJS.ErrnoException).code || 'short read';
}

export interface FailedRange {
  /** Program header index of the segment being read. */
  segmentIndex: number;
  paddr: bigint;
  length: bigint;
  /** Input file offset of the range's first byte. */
  fileOffset: number;
  /** What failed: "EIO", "EHWPOISON", "short read", ... */
  error: string;
}

export class ReadErrorLog {
  readonly ranges: FailedRange[] = [];
  pages = 0;

  constructor(readonly maxPages: number, private readonly pageSize = 4096) {}

  /**
   * Records one failed page, or the part of it inside one chunk; merges it with the previous range when they touch.
   * The second half of a page split across two chunks is not counted again.
   */
  record(segmentIndex: number, paddr: bigint, length: number, fileOffset: number, error: string): void {
    const last = this.ranges[this.ranges.length - 1];
    const continues = last !== undefined && last.segmentIndex === segmentIndex && last.paddr + last.length === paddr;
    if (!continues || paddr % BigInt(this.pageSize) === 0n) this.pages++;
    if (continues) {
      last.length += BigInt(length);
      if (last.error !== error) last.error = `${last.error}, ${error}`;
    } else {
      this.ranges.push({ segmentIndex, paddr, length: BigInt(length), fileOffset, error });
    }
    if (this.pages > this.maxPages) {
      throw new IoError(
        `${this.pages} pages failed to read, more than --max-read-errors ${this.maxPages}; the last at physical address ${hex(paddr)} (file offset ${hex(fileOffset)}, program header ${segmentIndex}): ${error}`,
      );
    }
  }
}
