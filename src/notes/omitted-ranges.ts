// OMITTED entries as one typed array laid out as the note's entries: 100,000 ranges cost 2.4 MB and no object each.

import type { Endian } from '../elf/byte-order.js';
import type { OmittedEntry } from './slimcore-notes.js';

/** An OMITTED entry and the program header whose data it lies in (-1: none, e.g. a slim dump's left-out range). */
export interface PlacedEntry extends OmittedEntry {
  segmentIndex: number;
}

/** Words per entry: OMITTED_ENTRY_SIZE / 4 (not imported: slimcore-notes.ts encodes these and must load first). */
const WORDS = 6;
const ENTRY_BYTES = WORDS * 4;
const TWO_32 = 2 ** 32;
/** Offsets below this keep a sum with a 32-bit low word exact as a double. */
const EXACT_OFFSET = 2 ** 52;
const FIRST_CAPACITY = 16;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Entries in order, six 32-bit words each as a little-endian note holds them (paddr low, high; length low, high;
 * reason; flags), plus the segment each lies in. Physical addresses go in as a segment base plus an offset in plain
 * numbers, so that building the list makes no bigint per entry.
 */
export class OmittedRanges {
  count = 0;
  private words: Uint32Array;
  private segments: Int32Array;

  /** `capacity`: the entries expected (more may be pushed). */
  constructor(capacity = FIRST_CAPACITY) {
    this.words = new Uint32Array(Math.max(1, capacity) * WORDS);
    this.segments = new Int32Array(Math.max(1, capacity));
  }

  static of(entries: Iterable<OmittedEntry & { segmentIndex?: number }>): OmittedRanges {
    const out = new OmittedRanges();
    for (const e of entries) out.push(e.paddr, e.length, e.reason, e.flags, e.segmentIndex ?? -1);
    return out;
  }

  get length(): number {
    return this.count;
  }

  push(paddr: bigint, length: bigint, reason: number, flags: number, segmentIndex = -1): void {
    if (paddr < 0n || paddr >= 1n << 64n) throw new RangeError(`OMITTED entry ${this.count}: paddr ${paddr} does not fit in a u64`);
    if (length < 0n || length >= 1n << 64n) throw new RangeError(`OMITTED entry ${this.count}: length ${length} does not fit in a u64`);
    this.pushWords(Number(paddr & 0xffffffffn), Number(paddr >> 32n), Number(length & 0xffffffffn), Number(length >> 32n), reason, flags, segmentIndex);
  }

  /**
   * Appends [base + offset, + length) with flags 0, or grows the last entry when it is of the same segment and reason
   * and ends there. `baseLow`/`baseHigh`: the segment's paddr as 32-bit words; offset and length below 2^52.
   */
  pushInSegment(baseLow: number, baseHigh: number, offset: number, length: number, reason: number, segmentIndex: number): void {
    if (offset >= EXACT_OFFSET || length >= EXACT_OFFSET) {
      const base = BigInt(baseHigh) * BigInt(TWO_32) + BigInt(baseLow);
      this.push(base + BigInt(offset), BigInt(length), reason, 0, segmentIndex);
      return;
    }
    // Split without % where the sum fits 32 bits (nearly always): a double's % is a call into C, per entry.
    const low = baseLow + offset;
    const paddrLow = low < TWO_32 ? low : low % TWO_32;
    const paddrHigh = low < TWO_32 ? baseHigh : baseHigh + (low - paddrLow) / TWO_32;
    // The message is made only when it is thrown: a string per entry cost more than the entry.
    if (paddrHigh >= TWO_32) throw new RangeError(`OMITTED entry ${this.count}: paddr does not fit in a u64`);
    const last = this.count - 1;
    if (last >= 0 && this.segments[last] === segmentIndex && this.words[last * WORDS + 4] === reason && this.words[last * WORDS + 5] === 0 && this.endsAt(last, paddrLow, paddrHigh)) {
      this.grow(last, length);
      return;
    }
    if (length < TWO_32) this.pushWords(paddrLow, paddrHigh, length, 0, reason, 0, segmentIndex);
    else this.pushWords(paddrLow, paddrHigh, length % TWO_32, Math.floor(length / TWO_32), reason, 0, segmentIndex);
  }

  paddr(i: number): bigint {
    return (BigInt(this.words[i * WORDS + 1]) << 32n) | BigInt(this.words[i * WORDS]);
  }

  /** Length in bytes, as a bigint. */
  size(i: number): bigint {
    return (BigInt(this.words[i * WORDS + 3]) << 32n) | BigInt(this.words[i * WORDS + 2]);
  }

  /** Length as a plain number (exact below 2^53). */
  sizeNumber(i: number): number {
    return this.words[i * WORDS + 3] * TWO_32 + this.words[i * WORDS + 2];
  }

  reason(i: number): number {
    return this.words[i * WORDS + 4];
  }

  segmentIndex(i: number): number {
    return this.segments[i];
  }

  at(i: number): PlacedEntry {
    return { segmentIndex: this.segments[i], paddr: this.paddr(i), length: this.size(i), reason: this.reason(i), flags: this.words[i * WORDS + 5] };
  }

  toArray(): PlacedEntry[] {
    return Array.from({ length: this.count }, (_, i) => this.at(i));
  }

  /** The entries for which `keep(i)` holds, in order. */
  filter(keep: (i: number) => boolean): OmittedRanges {
    const out = new OmittedRanges();
    for (let i = 0; i < this.count; i++) if (keep(i)) out.copyEntry(this, i);
    return out;
  }

  /** Every entry of `other`, after this list's own. */
  append(other: OmittedRanges): void {
    for (let i = 0; i < other.count; i++) this.copyEntry(other, i);
  }

  /** The entries as the note holds them (24 bytes each, in the dump's byte order). */
  encode(endian: Endian): Buffer {
    const out = Buffer.alloc(this.count * ENTRY_BYTES);
    this.encodeInto(out, 0, endian);
    return out;
  }

  /** Writes encode()'s bytes at target[offset]. */
  encodeInto(target: Buffer, offset: number, endian: Endian): void {
    const out = target.subarray(offset, offset + this.count * ENTRY_BYTES);
    out.set(new Uint8Array(this.words.buffer, 0, out.length));
    if ((endian === 'le') !== HOST_LE) out.swap32();
    // Big-endian u64s hold the high word first (swapped as bytes: `out` need not be 4-byte aligned).
    if (endian === 'be') {
      for (let at = 0; at < out.length; at += ENTRY_BYTES) {
        for (const field of [at, at + 8]) {
          const high = out.readUInt32BE(field + 4);
          out.writeUInt32BE(out.readUInt32BE(field), field + 4);
          out.writeUInt32BE(high, field);
        }
      }
    }
  }

  private copyEntry(from: OmittedRanges, i: number): void {
    const w = from.words;
    const at = i * WORDS;
    this.pushWords(w[at], w[at + 1], w[at + 2], w[at + 3], w[at + 4], w[at + 5], from.segments[i]);
  }

  private endsAt(i: number, low: number, high: number): boolean {
    const at = i * WORDS;
    const endLow = this.words[at] + this.words[at + 2];
    const carry = endLow >= TWO_32 ? 1 : 0;
    return endLow - carry * TWO_32 === low && this.words[at + 1] + this.words[at + 3] + carry === high;
  }

  private grow(i: number, length: number): void {
    const at = i * WORDS;
    const total = this.words[at + 3] * TWO_32 + this.words[at + 2] + length;
    if (total >= EXACT_OFFSET) {
      const size = this.size(i) + BigInt(length);
      this.words[at + 2] = Number(size & 0xffffffffn);
      this.words[at + 3] = Number(size >> 32n);
      return;
    }
    this.words[at + 2] = total % TWO_32;
    this.words[at + 3] = Math.floor(total / TWO_32);
  }

  private pushWords(paddrLow: number, paddrHigh: number, lengthLow: number, lengthHigh: number, reason: number, flags: number, segmentIndex: number): void {
    if (!Number.isInteger(reason) || reason < 0 || reason >= TWO_32) throw new RangeError(`OMITTED entry ${this.count}: reason ${reason} does not fit in a u32`);
    if (!Number.isInteger(flags) || flags < 0 || flags >= TWO_32) throw new RangeError(`OMITTED entry ${this.count}: flags ${flags} does not fit in a u32`);
    if (this.count === this.segments.length) {
      const words = new Uint32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
      const segments = new Int32Array(this.segments.length * 2);
      segments.set(this.segments);
      this.segments = segments;
    }
    const at = this.count * WORDS;
    this.words[at] = paddrLow;
    this.words[at + 1] = paddrHigh;
    this.words[at + 2] = lengthLow;
    this.words[at + 3] = lengthHigh;
    this.words[at + 4] = reason;
    this.words[at + 5] = flags;
    this.segments[this.count++] = segmentIndex;
  }
}
