// Reads a seekable input by offset: the prefix ranges, then each segment in large chunks, going on past bad pages.

import { BadInputError, IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment, SegmentList } from '../dump/segment-list.js';
import type { RangeReader } from '../dump/prefix.js';
import type { DataEvent } from '../stream/events.js';
import { readFully, type ByteSource } from './byte-source.js';
import type { ReadErrorLog } from './read-errors.js';
import { readRange, threadPoolPread, type FailedPage } from './chunk-reader.js';
import { PieceReader } from './piece-reader.js';
import { zeroRuns } from '../stream/zeros.js';
import { uniteRanges } from '../faults/number-ranges.js';
import type { ChunkPool } from '../stream/chunk-pool.js';
import type { MappedReader } from './mapped-reader.js';

/** Windows read at once: enough to keep both cores busy copying from the page cache. */
const READ_AHEAD = 2;

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
  segments: SegmentList;
  chunkSize: number;
  pageSize: number;
  /** Per program header: sorted [start, end) offsets never to read (pages named by faults): they come out as zeros. */
  skip: ReadonlyMap<number, Float64Array>;
  errors: ReadErrorLog;
  /** Reusable read buffers, when the sink says when it has written them; else each chunk is a new buffer. */
  pool?: ChunkPool;
  /** More ranges never to read in a window (pages a filtered dump leaves out): written as zeros, not listed. */
  excludedIn?: (seg: DataSegment, from: number, to: number) => Promise<[number, number][]>;
  /** Read through mmap, where a poisoned page is a survived SIGBUS; else (or where it cannot map) with pread. */
  mapped?: MappedReader;
  /** How a window with skips in it is read with pread (default: one readSync per piece on the main thread). */
  pieces?: PieceReader;
}

/** One window of a segment: read in one go, except the fault ranges inside it, which are never read. */
interface ReadTask {
  seg: DataSegment;
  offset: number;
  length: number;
  /** Fault ranges inside the window, as flat [start, end) pairs of segment offsets: zero-filled in place instead of read. */
  skips: Float64Array;
}

const NO_SKIPS = new Float64Array(0);
const MAIN_THREAD_PIECES = new PieceReader();

/** The skip ranges from index `first` on that start before `end`, clipped to [offset, end): one array per window. */
function skipsInWindow(skip: Float64Array | undefined, first: number, offset: number, end: number): Float64Array {
  if (!skip) return NO_SKIPS;
  let last = first;
  while (last < skip.length && skip[last] < end) last += 2;
  if (last === first) return NO_SKIPS;
  const out = skip.slice(first, last);
  out[0] = Math.max(out[0], offset);
  out[out.length - 1] = Math.min(out[out.length - 1], end);
  return out;
}

/** Windows of at most chunkSize bytes, ending on page boundaries; a window that is all faults comes out as zero runs. */
function* readTasks(plan: SegmentReadPlan): Generator<ReadTask | DataEvent> {
  for (const seg of plan.segments) {
    const skip = plan.skip.get(seg.index);
    let cursor = 0;
    for (let offset = 0; offset < seg.size; ) {
      const length = chunkLength(seg, offset, seg.size, plan);
      const end = offset + length;
      while (skip && cursor < skip.length && skip[cursor + 1] <= offset) cursor += 2;
      const skips = skipsInWindow(skip, cursor, offset, end);
      if (skips.length === 2 && skips[0] === offset && skips[1] === end) {
        let at = offset;
        for (const bytes of zeroRuns(length)) {
          yield { kind: 'data', segment: seg.index, offset: at, bytes, zeroFilled: true };
          at += bytes.length;
        }
      } else {
        yield { seg, offset, length, skips };
      }
      offset = end;
    }
  }
}

interface ChunkResult {
  events: DataEvent[];
  failed: FailedPage[];
}

/**
 * Yields each segment's bytes in file order. Up to READ_AHEAD windows are read at once, so that the reads overlap each
 * other and the writes; results still come out in order, and so do the read errors.
 */
export async function* readSegmentsAt(source: ByteSource, plan: SegmentReadPlan): AsyncGenerator<DataEvent> {
  const tasks = readTasks(plan);
  const inFlight: Promise<ChunkResult>[] = [];
  const startNext = () => {
    const next = tasks.next();
    if (next.done) return;
    const result = 'kind' in next.value ? Promise.resolve({ events: [next.value], failed: [] }) : runTask(source, next.value, plan);
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
  // Buffers are taken in task order before anything else waits: the pool frees them by that order.
  const buf = plan.pool ? await plan.pool.acquire(length) : Buffer.allocUnsafe(length);
  const excluded = plan.excludedIn ? await plan.excludedIn(seg, offset, offset + length) : [];
  const skips = excluded.length > 0 ? Float64Array.from(uniteRanges([...pairsOf(task.skips), ...excluded]).flat()) : task.skips;
  const window = buf.subarray(0, length);
  const failed: FailedPage[] = [];
  // The pieces between the skips, made only for a reader that takes them: most windows have no skips and no mapping.
  const pieces = plan.mapped || skips.length > 0 ? piecesBetween(offset, length, skips) : NO_SKIPS;
  if (plan.mapped && (await plan.mapped.readPieces(seg, offset, window, pieces, plan.pageSize, failed))) {
    for (let i = 0; i < skips.length; i += 2) buf.fill(0, skips[i] - offset, skips[i + 1] - offset);
  } else if (skips.length === 0) {
    await readRange({ source, seg, offset, buf: window, pageSize: plan.pageSize, pread: threadPoolPread, failed });
  } else {
    // Many small pieces between faults: read in one native call, or one readSync each on the main thread.
    await (plan.pieces ?? MAIN_THREAD_PIECES).read(source, seg, offset, window, pieces, plan.pageSize, failed);
  }
  return { events: [{ kind: 'data', segment: seg.index, offset, bytes: buf, chunk: buf, zeroFilled: true }], failed };
}

function pairsOf(flat: Float64Array): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  return pairs;
}

/**
 * The parts of the window [offset, offset + length) between the sorted skip ranges (segment offsets) inside it, as
 * flat [start, end) pairs of offsets in the window, as the readers take them.
 */
function piecesBetween(offset: number, length: number, skips: Float64Array): Float64Array {
  const pieces = new Float64Array(skips.length + 2);
  let count = 0;
  let at = 0;
  for (let i = 0; i < skips.length; i += 2) {
    const skipStart = skips[i] - offset;
    if (skipStart > at) {
      pieces[count++] = at;
      pieces[count++] = skipStart;
    }
    at = Math.max(at, skips[i + 1] - offset);
  }
  if (at < length) {
    pieces[count++] = at;
    pieces[count++] = length;
  }
  return count === pieces.length ? pieces : pieces.subarray(0, count);
}

/** Windows end on a physical page boundary, so that a page that fails is never touched again by the next window. */
function chunkLength(seg: DataSegment, offset: number, end: number, plan: SegmentReadPlan): number {
  const length = Math.min(plan.chunkSize, end - offset);
  if (offset + length === end) return length;
  const overhang = Number((seg.paddr + BigInt(offset + length)) % BigInt(plan.pageSize));
  return length > overhang ? length - overhang : length;
}
