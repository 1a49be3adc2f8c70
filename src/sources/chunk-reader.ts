// Reads one range of a segment with pread, going on past bad pages: each failing page is zero-filled and noted.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { BadInputError, IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment } from '../dump/layout.js';
import type { ByteSource } from './byte-source.js';
import { isRecoverableReadError, readErrorName } from './read-errors.js';

const preadAsync = promisify(fs.read);

/** pread(2): in the thread pool for big chunks, or on the main thread for many small pieces (no hand-off per piece). */
export type Pread = (fd: number, buf: Buffer, offset: number, length: number, position: number) => Promise<number>;
export const threadPoolPread: Pread = async (fd, buf, offset, length, position) => (await preadAsync(fd, buf, offset, length, position)).bytesRead;
export const mainThreadPread: Pread = async (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position);

export interface FailedPage {
  segmentIndex: number;
  paddr: bigint;
  length: number;
  fileOffset: number;
  error: string;
}

export interface RangeRead {
  source: ByteSource;
  seg: DataSegment;
  /** Offset within the segment of buf[0]. */
  offset: number;
  buf: Buffer;
  pageSize: number;
  pread: Pread;
  failed: FailedPage[];
}

function ioError(r: RangeRead, at: number, err: unknown): IoError {
  return new IoError(`reading ${r.source.name} at offset ${hex(r.seg.inOffset + r.offset + at)} (program header ${r.seg.index}): ${(err as Error).message}`, { cause: err });
}

/**
 * Fills r.buf. When a read fails with a recoverable errno, or comes back short (the next page is suspect), the rest is
 * read one page at a time and only the pages that fail are zero-filled. So a page is read at most twice: once inside
 * the big read, once alone.
 */
export async function readRange(r: RangeRead): Promise<void> {
  const { buf, seg, offset } = r;
  const position = seg.inOffset + offset;
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = await r.pread(r.source.fd, buf, done, buf.length - done, position + done);
    } catch (err) {
      if (!isRecoverableReadError(err)) throw ioError(r, done, err);
      return readPageByPage(r, done);
    }
    if (n === 0) {
      throw new BadInputError(`input ends at offset ${hex(position + done)}, inside program header ${seg.index} (${seg.size - offset - done} bytes of that segment missing)`);
    }
    done += n;
    if (done < buf.length) return readPageByPage(r, done);
  }
}

async function readPageByPage(r: RangeRead, from: number): Promise<void> {
  const { buf, seg, offset, pageSize } = r;
  const page = BigInt(pageSize);
  const paddrAt = (x: number) => seg.paddr + BigInt(offset + x);
  let at = Math.max(0, from - Number(paddrAt(from) % page));
  while (at < buf.length) {
    const end = Math.min(buf.length, at + pageSize - Number(paddrAt(at) % page));
    let error: string | undefined;
    try {
      if ((await r.pread(r.source.fd, buf, at, end - at, seg.inOffset + offset + at)) < end - at) error = 'short read';
    } catch (err) {
      if (!isRecoverableReadError(err)) throw ioError(r, at, err);
      error = readErrorName(err);
    }
    if (error !== undefined) {
      buf.fill(0, at, end);
      r.failed.push({ segmentIndex: seg.index, paddr: paddrAt(at), length: end - at, fileOffset: seg.inOffset + offset + at, error });
    }
    at = end;
  }
}
