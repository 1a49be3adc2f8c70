// A cycle's bitmap kept compactly: each block of 2^16 bits as its runs of set bits, or as bits where runs are short.

import { POPCOUNT_BYTE } from './page-selection.js';
import { setRange } from './page-chain.js';

/** Bits per block: 8 KiB as a bitmap. */
export const BLOCK_BITS = 1 << 16;
const BLOCK_BYTES = BLOCK_BITS / 8;
/** A run costs 8 bytes (start and end): past this many a block is cheaper as bits. */
export const MAX_BLOCK_RUNS = BLOCK_BYTES / 8;

/** Runs of set bits starting in a byte, given the bit just below it: the bits set whose lower neighbour is clear. */
const RUN_STARTS = Uint8Array.from({ length: 512 }, (_, i) => {
  const byte = i & 0xff;
  const below = ((byte << 1) | (i >> 8)) & 0xff;
  return POPCOUNT_BYTE[byte & ~below];
});

/** First bit in [i, end) whose value is `set`, or end: whole bytes of the other value are skipped. */
export function nextBit(bitmap: Uint8Array, i: number, end: number, set: boolean): number {
  const skip = set ? 0 : 0xff;
  while (i < end) {
    if ((i & 7) === 0) {
      while (i + 8 <= end && bitmap[i >>> 3] === skip) i += 8;
      if (i >= end) return end;
    }
    if (((bitmap[i >>> 3] >>> (i & 7)) & 1) === (set ? 1 : 0)) return i;
    i++;
  }
  return end;
}

export class CompactBitmap {
  private constructor(
    /** Bits in all. */
    readonly length: number,
    /** Set bits in all. */
    readonly count: number,
    /** Per block: the offset of its bytes in `dense`, or −1 when it is kept as runs. */
    private readonly denseAt: Int32Array,
    /** Per block, and one more: the index in `runs` of its first run's start. */
    private readonly runAt: Uint32Array,
    /** [start, end) of each run of set bits, in bits from bit 0; a run never crosses a block. */
    private readonly runs: Uint32Array,
    private readonly dense: Uint8Array,
  ) {}

  /** Bytes held. */
  get byteLength(): number {
    return this.denseAt.byteLength + this.runAt.byteLength + this.runs.byteLength + this.dense.byteLength;
  }

  /** What `from` would hold for this bitmap, in bytes, without building it. */
  static byteLengthOf(bitmap: Uint8Array, length: number): number {
    const { blocks, denseBlocks, runTotal } = scan(bitmap, length);
    return blocks * 8 + 4 + runTotal * 8 + denseBlocks * BLOCK_BYTES;
  }

  /**
   * The bits of `bitmap` as they are, every block dense: no copy, so it reads `bitmap` for as long as it is used (the
   * caller's buffer, which it must not change meanwhile). Bits past `length` must be clear.
   */
  static over(bitmap: Uint8Array, length: number): CompactBitmap {
    const { blocks, count } = scan(bitmap, length);
    const denseAt = Int32Array.from({ length: blocks }, (_, b) => b * BLOCK_BYTES);
    return new CompactBitmap(length, count, denseAt, new Uint32Array(blocks + 1), new Uint32Array(0), bitmap.subarray(0, Math.ceil(length / 8)));
  }

  /** Bits [0, length) of an LSB-first bitmap; bits past `length` are taken as clear. */
  static from(bitmap: Uint8Array, length: number): CompactBitmap {
    const { blocks, runCounts, denseBlocks, runTotal, count } = scan(bitmap, length);
    const denseAt = new Int32Array(blocks).fill(-1);
    const runAt = new Uint32Array(blocks + 1);
    const runs = new Uint32Array(runTotal * 2);
    const dense = new Uint8Array(denseBlocks * BLOCK_BYTES);
    let r = 0;
    let d = 0;
    for (let b = 0; b < blocks; b++) {
      const from = b * BLOCK_BITS;
      const to = Math.min(length, from + BLOCK_BITS);
      runAt[b] = r;
      if (runCounts[b] > MAX_BLOCK_RUNS) {
        denseAt[b] = d;
        for (let i = from >>> 3; i < Math.ceil(to / 8); i++) dense[d + i - (from >>> 3)] = byteAt(bitmap, i, length);
        d += BLOCK_BYTES;
        continue;
      }
      for (let i = nextBit(bitmap, from, to, true); i < to; i = nextBit(bitmap, i, to, true)) {
        const end = nextBit(bitmap, i, to, false);
        runs[r++] = i;
        runs[r++] = end;
        i = end;
      }
    }
    runAt[blocks] = r;
    return new CompactBitmap(length, count, denseAt, runAt, runs, dense);
  }

  /** The LSB-first bitmap of ceil(length / 8) bytes: the first bytes of `into` when given, else a new buffer. */
  toBitmap(into?: Uint8Array): Uint8Array {
    const bytes = Math.ceil(this.length / 8);
    if (into && into.length < bytes) throw new RangeError(`CompactBitmap: ${bytes} bytes do not fit in ${into.length}`);
    const out = into ? into.subarray(0, bytes).fill(0) : new Uint8Array(bytes);
    for (let b = 0; b < this.denseAt.length; b++) {
      const from = b * BLOCK_BITS;
      const at = this.denseAt[b];
      if (at >= 0) out.set(this.dense.subarray(at, at + Math.min(BLOCK_BYTES, out.length - (from >>> 3))), from >>> 3);
      else for (let r = this.runAt[b]; r < this.runAt[b + 1]; r += 2) setRange(out, this.runs[r], this.runs[r + 1]);
    }
    return out;
  }

  /** [from, to, set] pieces covering [from, to) in order; two in a row may have the same value (at a block edge). */
  *pieces(from: number, to: number): Generator<readonly [number, number, boolean]> {
    to = Math.min(to, this.length);
    for (let at = Math.max(0, from); at < to; ) {
      const b = Math.floor(at / BLOCK_BITS);
      const blockStart = b * BLOCK_BITS;
      const stop = Math.min(to, blockStart + BLOCK_BITS);
      const denseAt = this.denseAt[b];
      if (denseAt >= 0) {
        const bits = this.dense.subarray(denseAt, denseAt + BLOCK_BYTES);
        while (at < stop) {
          const set = ((bits[(at - blockStart) >>> 3] >>> ((at - blockStart) & 7)) & 1) === 1;
          const end = blockStart + nextBit(bits, at - blockStart, stop - blockStart, !set);
          yield [at, end, set];
          at = end;
        }
        continue;
      }
      const last = this.runAt[b + 1];
      // The first run of the block that ends after `at`.
      let lo = this.runAt[b] / 2;
      let hi = last / 2;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.runs[mid * 2 + 1] <= at) lo = mid + 1;
        else hi = mid;
      }
      for (let r = lo * 2; r < last && at < stop; r += 2) {
        const start = this.runs[r];
        if (start > at) {
          const gapEnd = Math.min(start, stop);
          yield [at, gapEnd, false];
          at = gapEnd;
          if (at >= stop) break;
        }
        const end = Math.min(this.runs[r + 1], stop);
        yield [at, end, true];
        at = end;
      }
      if (at < stop) {
        yield [at, stop, false];
        at = stop;
      }
    }
  }
}

/** Per block, its runs of set bits; and how many blocks are dense, runs in the others, set bits in all. */
function scan(bitmap: Uint8Array, length: number) {
  if (!Number.isSafeInteger(length) || length < 0 || length > 2 ** 31 || bitmap.length * 8 < length) throw new RangeError(`CompactBitmap: ${length} bits from a bitmap of ${bitmap.length} bytes`);
  const blocks = Math.ceil(length / BLOCK_BITS);
  const runCounts = new Uint32Array(blocks);
  let denseBlocks = 0;
  let runTotal = 0;
  let count = 0;
  for (let b = 0; b < blocks; b++) {
    const from = b * BLOCK_BITS;
    const to = Math.min(length, from + BLOCK_BITS);
    let n = 0;
    let below = 0;
    for (let i = from >>> 3; i < Math.ceil(to / 8); i++) {
      const byte = byteAt(bitmap, i, length);
      n += RUN_STARTS[byte | (below << 8)];
      count += POPCOUNT_BYTE[byte];
      below = byte >>> 7;
    }
    runCounts[b] = n;
    if (n > MAX_BLOCK_RUNS) denseBlocks++;
    else runTotal += n;
  }
  return { blocks, runCounts, denseBlocks, runTotal, count };
}

function byteAt(bitmap: Uint8Array, i: number, length: number): number {
  const byte = bitmap[i];
  const bitsLeft = length - i * 8;
  return bitsLeft >= 8 ? byte : byte & ((1 << bitsLeft) - 1);
}
