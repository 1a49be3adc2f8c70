// Reads one range of a segment with pread, going on past bad pages: each failing page is zero-filled and noted.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { BadInputError, IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment } from '../dump/segment-list.js';
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
  const position = r.seg.inOffset + r.offset;
  let done = 0;
  while (done < r.buf.length) {
    let n: number;
    try {
      n = await r.pread(r.source.fd, r.buf, done, r.buf.length - done, position + done);
    } catch (err) {
      return afterFailedRead(r, done, err);
    }
    done += afterRead(r, done, n);
    if (done < r.buf.length) return readPageByPage(r, done);
  }
}

/** A read that threw: a recoverable errno goes on page by page from there; any other is an I/O error. */
function afterFailedRead(r: RangeRead, done: number, err: unknown): Promise<void> {
  if (!isRecoverableReadError(err)) throw ioError(r, done, err);
  return readPageByPage(r, done);
}

/** A read that returned `n` bytes at `done`: nothing at all means the input ends inside the segment. */
function afterRead(r: RangeRead, done: number, n: number): number {
  if (n === 0) {
    const at = r.seg.inOffset + r.offset + done;
    throw new BadInputError(`input ends at offset ${hex(at)}, inside program header ${r.seg.index} (${r.seg.size - r.offset - done} bytes of that segment missing)`);
  }
  return n;
}

/**
 * Reads the pieces of a window (flat [start, end) pairs of offsets in buf, buf[0] at segment offset `offset`) on the
 * main thread, one readSync each, and zero-fills the bytes between them: many small pieces around faults, where a
 * thread-pool hand-off each would cost more than the read. A piece whose one read succeeds costs no object at all.
 */
export async function readPiecesOnMainThread(source: ByteSource, seg: DataSegment, offset: number, buf: Buffer, pieces: Float64Array, pageSize: number, failed: FailedPage[]): Promise<void> {
  let zeroFrom = 0;
  for (let i = 0; i < pieces.length; i += 2) {
    const start = pieces[i];
    const end = pieces[i + 1];
    if (start > zeroFrom) buf.fill(0, zeroFrom, start);
    zeroFrom = end;
    let n = -1;
    let error: unknown;
    try {
      n = fs.readSync(source.fd, buf, start, end - start, seg.inOffset + offset + start);
    } catch (err) {
      error = err;
    }
    if (n !== end - start) await recoverPiece(source, seg, offset + start, buf.subarray(start, end), pageSize, failed, n, error);
  }
  if (zeroFrom < buf.length) buf.fill(0, zeroFrom);
}

/**
 * A piece (at segment offset `offset`) whose one read came back with `n` bytes, or failed with `error` (n < 0): the
 * rest goes on as readRange does, page by page for a recoverable errno or a short read.
 */
export async function recoverPiece(source: ByteSource, seg: DataSegment, offset: number, piece: Buffer, pageSize: number, failed: FailedPage[], n: number, error?: unknown): Promise<void> {
  const r: RangeRead = { source, seg, offset, buf: piece, pageSize, pread: mainThreadPread, failed };
  if (n < 0) await afterFailedRead(r, 0, error);
  else await readPageByPage(r, afterRead(r, 0, n));
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
