// Reads a pipe in one forward pass: the prefix from a bounded buffer, then segment bytes as they arrive.

import { BufferList } from 'bl';
import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment, SegmentList } from '../dump/segment-list.js';
import type { RangeReader } from '../dump/prefix.js';
import type { DataEvent } from '../stream/events.js';
import type { ChunkPool } from '../stream/chunk-pool.js';

/** Reads up to `length` bytes into `buf` at `offset`; 0 means end of input. A short read is not an end. */
export type ForwardPull = (buf: Buffer, offset: number, length: number) => Promise<number>;

/** How far into a pipe the headers and notes may reach: everything before them is held in memory. */
export const PIPE_PREFIX_LIMIT = 64 << 20;
const PREFIX_READ_SIZE = 64 << 10;

/**
 * Holds every byte from `base` up to `end` so that the prefix can be parsed in any order, then
 * hands the rest of the stream out in segment order without copying page data.
 */
export class ForwardReader {
  private held = new BufferList();
  private base = 0;
  private eof = false;

  constructor(private readonly pull: ForwardPull, private readonly limit = PIPE_PREFIX_LIMIT) {}

  get end(): number {
    return this.base + this.held.length;
  }

  private async fill(upTo: number): Promise<void> {
    while (this.end < upTo && !this.eof) {
      const buf = Buffer.allocUnsafe(PREFIX_READ_SIZE);
      const got = await this.pull(buf, 0, buf.length);
      if (got === 0) this.eof = true;
      else this.held.append(buf.subarray(0, got));
    }
  }

  rangeReader(): RangeReader {
    return async (offset, length, what) => {
      if (offset + length > this.limit) {
        throw new BadInputError(
          `${what} ends at offset ${hex(offset + length)}, beyond the first ${hex(this.limit)} bytes that a pipe may hold before the memory data; give the dump as a file instead`,
        );
      }
      await this.fill(offset + length);
      if (this.end < offset + length) {
        throw new BadInputError(`input ended after ${this.end} bytes, inside ${what} (${offset + length - this.end} bytes missing)`);
      }
      return this.held.slice(offset - this.base, offset + length - this.base);
    };
  }

  /** Reads ahead until `offset` bytes are held, the input ends, or the look-ahead limit is reached; true if it got more. */
  async fillTo(offset: number): Promise<boolean> {
    const before = this.end;
    await this.fill(Math.min(offset, this.limit));
    return this.end > before;
  }

  /** The held bytes of [offset, offset + length): shorter (or empty) where they are not held. */
  peek(offset: number, length: number): Buffer {
    const start = Math.max(offset, this.base);
    const end = Math.min(offset + length, this.end);
    if (start !== offset || end <= start) return Buffer.alloc(0);
    return this.held.slice(start - this.base, end - this.base);
  }

  /** Drops held bytes before `offset`, reading and discarding more when needed. */
  private async skipTo(offset: number): Promise<void> {
    while (this.end < offset && !this.eof) {
      this.base = this.end;
      this.held = new BufferList();
      await this.fill(Math.min(offset, this.end + PREFIX_READ_SIZE));
    }
    const drop = Math.min(offset - this.base, this.held.length);
    if (drop > 0) {
      this.held.consume(drop);
      this.base += drop;
    }
  }

  /** Segments must be in file order and must not share bytes. */
  async *segments(segments: SegmentList, chunkSize: number, pool?: ChunkPool): AsyncGenerator<DataEvent> {
    const lastEnd = segments.length > 0 ? segments.inEnd(segments.length - 1) : 0;
    const ended = (seg: DataSegment, at: number) =>
      new BadInputError(
        `input ended at offset ${hex(at)}, inside program header ${seg.index}: ${lastEnd - at} bytes missing (the data should run to ${hex(lastEnd)})`,
      );
    for (const seg of segments) {
      await this.skipTo(seg.inOffset);
      if (this.base < seg.inOffset) throw ended(seg, this.base);
      let offset = 0;
      // Bytes already held from the prefix reads are few (64 KiB at most, in the usual layout): copying them is fine.
      while (this.held.length > 0 && offset < seg.size) {
        const take = Math.min(this.held.length, seg.size - offset, chunkSize);
        const bytes = this.held.slice(0, take);
        this.held.consume(take);
        this.base += take;
        yield { kind: 'data', segment: seg.index, offset, bytes };
        offset += take;
      }
      while (offset < seg.size) {
        const length = Math.min(chunkSize, seg.size - offset);
        const bytes = pool ? await pool.acquire(length) : Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const n = await this.pull(bytes, got, length - got);
          if (n === 0) break;
          got += n;
        }
        this.base += got;
        if (got > 0) yield { kind: 'data', segment: seg.index, offset, bytes: bytes.subarray(0, got), chunk: bytes };
        offset += got;
        if (got < length) throw ended(seg, this.base);
      }
    }
  }
}
