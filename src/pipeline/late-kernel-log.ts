// On a pipe, a kernel log beyond the look-ahead: the file ranges it needs, gathered as the data streams past, read after.

import type { SegmentList } from '../dump/segment-list.js';
import type { DumpPrefix } from '../dump/prefix.js';
import type { DataEvent } from '../stream/events.js';
import type { ForwardReader } from '../sources/forward-reader.js';
import { readLogNow, type KernelLogFindings } from './kernel-log-source.js';

/** What the log may need gathered from the stream: the ring's arrays and the structures leading to them. */
export const MAX_LATE_LOG_BYTES = 32 << 20;
/** Pointers lead from one structure to the next, so finding the ranges may take a few rounds; each is one walk. */
const MAX_ROUNDS = 16;

interface Range {
  offset: number;
  length: number;
  bytes: Buffer;
  /** Bytes of the range seen in the stream so far. */
  seen: number;
}

class TooMuch extends Error {}

export class LateKernelLog {
  private readonly ranges: Range[] = [];
  private readonly inOffsetOf: Map<number, number>;
  private gathered = 0;
  private rounds = 0;
  private streamAt = 0;
  problem?: string;

  private constructor(
    private readonly prefix: DumpPrefix,
    private readonly held: ForwardReader,
    copy: SegmentList,
  ) {
    this.inOffsetOf = new Map();
    for (let i = 0; i < copy.length; i++) this.inOffsetOf.set(copy.index(i), copy.inOffset(i));
  }

  /** A gatherer for the log, its first ranges found from what the look-ahead holds. */
  static plan(prefix: DumpPrefix, forward: ForwardReader, copy: SegmentList): LateKernelLog {
    const late = new LateKernelLog(prefix, forward, copy);
    late.discover((offset, length) => forward.peek(offset, length));
    return late;
  }

  private find(offset: number, length: number): Range | undefined {
    return this.ranges.find((r) => r.offset <= offset && offset + length <= r.offset + r.length);
  }

  /**
   * Walks the log with what is at hand, missing bytes read as zeros so that the walk goes on, and asks for every range
   * it read that is still ahead in the stream. A pointer read as zero leads nowhere: the next round, once that
   * pointer has streamed past, follows it.
   */
  private discover(atHand: (offset: number, length: number) => Buffer): void {
    if (this.problem || this.rounds++ >= MAX_ROUNDS) return;
    try {
      readLogNow(this.prefix, (offset, length) => {
        // Held bytes too: the look-ahead is replayed into the stream and then let go, so they are gathered like the rest.
        if (!this.find(offset, length) && offset >= this.streamAt) {
          this.gathered += length;
          if (this.gathered > MAX_LATE_LOG_BYTES) throw new TooMuch();
          this.ranges.push({ offset, length, bytes: Buffer.alloc(length), seen: 0 });
        }
        const got = atHand(offset, length);
        return got.length === length ? got : Buffer.alloc(length);
      });
    } catch (err) {
      if (err instanceof TooMuch) this.problem = `it needs more than ${MAX_LATE_LOG_BYTES} bytes gathered from the stream`;
      // Anything else is a walk on zeros gone astray: the next round, or the final read, says what is wrong.
    }
  }

  private atHand = (offset: number, length: number): Buffer => {
    const held = this.held.peek(offset, length);
    if (held.length === length) return held;
    const r = this.find(offset, length);
    if (!r || r.seen < r.length) return Buffer.alloc(0);
    return r.bytes.subarray(offset - r.offset, offset - r.offset + length);
  };

  /**
   * Copies what the log needs out of a data event (events come in file order); once a range is whole, looks further,
   * and the new ranges may start in this very event (a structure next to the pointer to it).
   */
  observe(event: DataEvent): void {
    const base = this.inOffsetOf.get(event.segment);
    if (base === undefined) return;
    const start = base + event.offset;
    const end = start + event.bytes.length;
    this.streamAt = start;
    for (let from = 0; from < this.ranges.length; ) {
      const known = this.ranges.length;
      let completed = false;
      for (const r of this.ranges.slice(from)) completed = this.take(r, event.bytes, start, end) || completed;
      if (completed) this.discover(this.atHand);
      from = known;
    }
    this.streamAt = end;
  }

  /** Copies the part of [start, end) that `r` needs; true when that makes `r` whole. */
  private take(r: Range, bytes: Buffer, start: number, end: number): boolean {
    const from = Math.max(start, r.offset);
    const to = Math.min(end, r.offset + r.length);
    if (to <= from) return false;
    bytes.copy(r.bytes, from - r.offset, from - start, to - start);
    r.seen += to - from;
    return r.seen === r.length;
  }

  /** Reads the log from what was gathered. */
  read(): KernelLogFindings | { problem: string } {
    if (this.problem) return { problem: this.problem };
    try {
      return readLogNow(this.prefix, this.atHand);
    } catch (err) {
      return { problem: (err as Error).message };
    }
  }
}
