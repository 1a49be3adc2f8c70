// Reads a seekable input by offset: the prefix ranges, then each segment in large chunks, going on past bad pages.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { BadInputError, IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment } from '../dump/layout.js';
import type { RangeReader } from '../dump/prefix.js';
import type { DataEvent } from '../pipeline/events.js';
import { readFully, type ByteSource } from './byte-source.js';
import { isRecoverableReadError, readErrorName, type ReadErrorLog } from './read-errors.js';
import { zeroRuns } from '../pipeline/zeros.js';
import type { ChunkPool } from '../pipeline/chunk-pool.js';

const pread = promisify(fs.read);
/** Chunks read at once: enough to keep both cores busy copying from the page cache. */
const READ_AHEAD = 2;

interface FailedPage {
  segmentIndex: number;
  paddr: bigint;
  length: number;
  fileOffset: number;
  error: string;
}

export function positionalRangeReader(source: ByteSource): RangeReader {
  return async (offset, length, what) => {
    if (source.size !== undefined && offset + length > source.size) {
      throw new BadInputError(`input ends at offset ${hex(source.size)}, inside ${what} (which needs bytes up to ${hex(offset + length)})`);
    }
    const buf = Buffer.alloc(length);
    let got: number;
    try {
      got = await readFully(source, buf, 0, length, offset);
    } catch (err) {
      throw new IoError(`cannot read ${what}: ${(err as Error).message}`, { cause: err });
    }
    if (got < length) {
      throw new BadInputError(`input ends at offset ${hex(offset + got)}, inside ${what} (${length - got} bytes missing)`);
    }
    return buf;
  };
}

export interface SegmentReadPlan {
  segments: readonly DataSegment[];
  chunkSize: number;
  pageSize: number;
  /** Per program header: sorted [start, end) offsets never to read (pages named by faults); the serializer writes zeros. */
  skip: ReadonlyMap<number, Float64Array>;
  errors: ReadErrorLog;
  /** Reusable read buffers, when the sink says when it has written them; else each chunk is a new buffer. */
  pool?: ChunkPool;
}

/** [start, end, skipped] pieces covering [0, size): skipped pieces are the skip ranges, the rest is read. */
function readPieces(size: number, skip: Float64Array | undefined): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  let at = 0;
  for (let i = 0; skip && i < skip.length && at < size; i += 2) {
    if (skip[i] > at) out.push([at, Math.min(skip[i], size), false]);
    const end = Math.min(skip[i + 1], size);
    if (end > Math.max(at, skip[i])) out.push([Math.max(at, skip[i]), end, true]);
    at = Math.max(at, end);
  }
  if (at < size) out.push([at, size, false]);
  return out;
}

interface ReadTask {
  seg: DataSegment;
  offset: number;
  length: number;
  /** A fault range: never read, comes out as zeros. */
  skipped: boolean;
}

function* readTasks(plan: SegmentReadPlan): Generator<ReadTask> {
  for (const seg of plan.segments) {
    for (const [start, end, skipped] of readPieces(seg.size, plan.skip.get(seg.index))) {
      for (let offset = start; offset < end; ) {
        const length = skipped ? end - start : chunkLength(seg, offset, end, plan);
        yield { seg, offset, length, skipped };
        offset += length;
      }
    }
  }
}

interface ChunkResult {
  events: DataEvent[];
  failed: FailedPage[];
}

/**
 * Yields each segment's bytes in file order. Up to READ_AHEAD chunks are read at once, so that the reads of the
 * thread pool overlap each other and the writes; results still come out in order, and so do the read errors.
 */
export async function* readSegmentsAt(source: ByteSource, plan: SegmentReadPlan): AsyncGenerator<DataEvent> {
  const tasks = readTasks(plan);
  const inFlight: Promise<ChunkResult>[] = [];
  const startNext = () => {
    const next = tasks.next();
    if (next.done) return;
    const result = runTask(source, next.value, plan);
    // Awaited in turn below; until then a failure must not count as unhandled.
    result.catch(() => undefined);
    inFlight.push(result);
  };
  for (let i = 0; i < READ_AHEAD; i++) startNext();
  while (inFlight.length > 0) {
    const { events, failed } = await inFlight.shift()!;
    startNext();
    for (const f of failed) plan.errors.record(f.segmentIndex, f.paddr, f.length, f.fileOffset, f.error);
    yield* events;
  }
}

async function runTask(source: ByteSource, task: ReadTask, plan: SegmentReadPlan): Promise<ChunkResult> {
  const { seg, offset, length } = task;
  if (task.skipped) {
    let at = offset;
    const events = zeroRuns(length).map((bytes): DataEvent => {
      const event: DataEvent = { kind: 'data', segment: seg.index, offset: at, bytes };
      at += bytes.length;
      return event;
    });
    return { events, failed: [] };
  }
  const failed: FailedPage[] = [];
  const bytes = await readChunk(source, seg, offset, length, plan, failed);
  return { events: [{ kind: 'data', segment: seg.index, offset, bytes, chunk: bytes }], failed };
}

/** Chunks end on a physical page boundary, so that a page that fails is never touched again by the next chunk. */
function chunkLength(seg: DataSegment, offset: number, end: number, plan: SegmentReadPlan): number {
  const length = Math.min(plan.chunkSize, end - offset);
  if (offset + length === end) return length;
  const overhang = Number((seg.paddr + BigInt(offset + length)) % BigInt(plan.pageSize));
  return length > overhang ? length - overhang : length;
}

/**
 * Reads one chunk. When a read fails with a recoverable errno, or comes back short (the next page is suspect), the
 * rest of the chunk is read one page at a time and only the pages that fail are zero-filled. So a page is read at
 * most twice: once inside the chunk, once alone.
 */
async function readChunk(source: ByteSource, seg: DataSegment, offset: number, length: number, plan: SegmentReadPlan, failed: FailedPage[]): Promise<Buffer> {
  const buf = plan.pool ? await plan.pool.acquire(length) : Buffer.allocUnsafe(length);
  const position = seg.inOffset + offset;
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      ({ bytesRead: n } = await pread(source.fd, buf, done, length - done, position + done));
    } catch (err) {
      if (!isRecoverableReadError(err)) throw new IoError(`reading ${source.name} at offset ${hex(position + done)} (program header ${seg.index}): ${(err as Error).message}`, { cause: err });
      await readPageByPage(source, seg, offset, buf, done, plan, failed);
      return buf;
    }
    if (n === 0) {
      throw new BadInputError(`input ends at offset ${hex(position + done)}, inside program header ${seg.index} (${seg.size - offset - done} bytes of that segment missing)`);
    }
    done += n;
    if (done < length) {
      await readPageByPage(source, seg, offset, buf, done, plan, failed);
      return buf;
    }
  }
  return buf;
}

async function readPageByPage(source: ByteSource, seg: DataSegment, offset: number, buf: Buffer, from: number, plan: SegmentReadPlan, failed: FailedPage[]): Promise<void> {
  const page = BigInt(plan.pageSize);
  const paddrAt = (x: number) => seg.paddr + BigInt(offset + x);
  let at = Math.max(0, from - Number(paddrAt(from) % page));
  while (at < buf.length) {
    const end = Math.min(buf.length, at + plan.pageSize - Number(paddrAt(at) % page));
    let error: string | undefined;
    try {
      const { bytesRead } = await pread(source.fd, buf, at, end - at, seg.inOffset + offset + at);
      if (bytesRead < end - at) error = 'short read';
    } catch (err) {
      if (!isRecoverableReadError(err)) throw new IoError(`reading ${source.name} at offset ${hex(seg.inOffset + offset + at)} (program header ${seg.index}): ${(err as Error).message}`, { cause: err });
      error = readErrorName(err);
    }
    if (error !== undefined) {
      buf.fill(0, at, end);
      failed.push({ segmentIndex: seg.index, paddr: paddrAt(at), length: end - at, fileOffset: seg.inOffset + offset + at, error });
    }
    at = end;
  }
}
