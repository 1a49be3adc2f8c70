// Data segments in typed columns: at the cap, 128 Ki segments as objects with bigint paddrs cost ~10 MiB and grow V8's young generation.

/** A program header whose file bytes get copied: every segment but the grown PT_NOTE, with p_filesz > 0. */
export interface DataSegment {
  index: number;
  inOffset: number;
  size: number;
  paddr: bigint;
}

/** The columns behind a SegmentList: entry i of each is segment i. */
export interface SegmentColumns {
  index: Uint32Array;
  inOffset: Float64Array;
  size: Float64Array;
  paddr: BigUint64Array;
}

const INITIAL_CAPACITY = 16;

function allocate(capacity: number): SegmentColumns {
  return { index: new Uint32Array(capacity), inOffset: new Float64Array(capacity), size: new Float64Array(capacity), paddr: new BigUint64Array(capacity) };
}

/**
 * A read-only list of data segments. Each `at()` and each step of iteration makes a fresh object that dies young;
 * whoever keeps many segments keeps the list, or reads the columns by position.
 */
export class SegmentList implements Iterable<DataSegment> {
  static readonly EMPTY = new SegmentList(allocate(0), 0);

  constructor(
    private readonly columns: SegmentColumns,
    readonly length: number,
  ) {}

  static from(segments: Iterable<DataSegment>): SegmentList {
    const out = new SegmentListBuilder();
    for (const s of segments) out.push(s.index, s.inOffset, s.size, s.paddr);
    return out.build();
  }

  /** Program header index. */
  index(i: number): number {
    return this.columns.index[i];
  }

  inOffset(i: number): number {
    return this.columns.inOffset[i];
  }

  size(i: number): number {
    return this.columns.size[i];
  }

  paddr(i: number): bigint {
    return this.columns.paddr[i];
  }

  /** Where the segment's file bytes end. */
  inEnd(i: number): number {
    return this.columns.inOffset[i] + this.columns.size[i];
  }

  at(i: number): DataSegment {
    if (i < 0 || i >= this.length) throw new RangeError(`segment ${i} of ${this.length}`);
    const c = this.columns;
    return { index: c.index[i], inOffset: c.inOffset[i], size: c.size[i], paddr: c.paddr[i] };
  }

  *[Symbol.iterator](): Iterator<DataSegment> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** Those for which `keep(i)` holds; this list itself when all do (the usual case: no second list). */
  filter(keep: (i: number) => boolean): SegmentList {
    let all = true;
    for (let i = 0; i < this.length && all; i++) all = keep(i);
    if (all) return this;
    const out = new SegmentListBuilder();
    for (let i = 0; i < this.length; i++) if (keep(i)) this.copyTo(out, i);
    return out.build();
  }

  /** The first position for which `test(i)` holds, or -1. */
  findIndex(test: (i: number) => boolean): number {
    for (let i = 0; i < this.length; i++) if (test(i)) return i;
    return -1;
  }

  /** Sorted by file offset, then by index; this list itself when it already is (the usual dump). */
  sortedByOffset(): SegmentList {
    const c = this.columns;
    const before = (x: number, y: number) => c.inOffset[x] - c.inOffset[y] || c.index[x] - c.index[y];
    let sorted = true;
    for (let i = 1; i < this.length && sorted; i++) sorted = before(i - 1, i) <= 0;
    if (sorted) return this;
    const order = new Uint32Array(this.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort(before);
    const out = new SegmentListBuilder(this.length);
    for (const i of order) this.copyTo(out, i);
    return out.build();
  }

  /** Sum over the segments of f(size). */
  sumOfSizes(f: (size: number) => number): number {
    let sum = 0;
    for (let i = 0; i < this.length; i++) sum += f(this.columns.size[i]);
    return sum;
  }

  private copyTo(out: SegmentListBuilder, i: number): void {
    const c = this.columns;
    out.push(c.index[i], c.inOffset[i], c.size[i], c.paddr[i]);
  }
}

/** Appends segments into columns grown by doubling, then hands them over as a SegmentList. */
export class SegmentListBuilder {
  private columns: SegmentColumns;
  private count = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    this.columns = allocate(Math.max(1, capacity));
  }

  get length(): number {
    return this.count;
  }

  push(index: number, inOffset: number, size: number, paddr: bigint): void {
    if (this.count === this.columns.index.length) this.grow();
    const c = this.columns;
    c.index[this.count] = index;
    c.inOffset[this.count] = inOffset;
    c.size[this.count] = size;
    c.paddr[this.count++] = paddr;
  }

  /** Where the last segment's file bytes end. */
  lastEnd(): number {
    const c = this.columns;
    return c.inOffset[this.count - 1] + c.size[this.count - 1];
  }

  lastInOffset(): number {
    return this.columns.inOffset[this.count - 1];
  }

  setLastSize(size: number): void {
    this.columns.size[this.count - 1] = size;
  }

  build(): SegmentList {
    const c = this.columns;
    const n = this.count;
    // Trimmed only when much is spare: a copy costs as much as the columns.
    const fit = n * 2 < c.index.length ? { index: c.index.slice(0, n), inOffset: c.inOffset.slice(0, n), size: c.size.slice(0, n), paddr: c.paddr.slice(0, n) } : c;
    return new SegmentList(fit, n);
  }

  private grow(): void {
    const c = this.columns;
    const grown = allocate(c.index.length * 2);
    grown.index.set(c.index);
    grown.inOffset.set(c.inOffset);
    grown.size.set(c.size);
    grown.paddr.set(c.paddr);
    this.columns = grown;
  }
}
