// Fault ranges as columns of typed arrays: 100,000 faults cost a few MiB and no objects per fault.

import { UsageError } from '../errors.js';

/** More faults than this is a mistake (a page list of a whole machine?): refused before the columns grow past ~26 MiB. */
export const MAX_FAULTS = 1 << 20;
/** Reason codes are ours (OmitReason), small enough for a bit mask of the ones open in a sweep. */
export const MAX_REASON = 30;

const FIRST_CAPACITY = 64;
const EXACT_ADDRESS = 1n << 53n;

/** A fault range as an object, for the few places that want one (messages, tests, the library API). */
export interface FaultRange {
  paddr: bigint;
  length: bigint;
  /** OMITTED reason code (docs/note-format.md). */
  reason: number;
  origin: string;
}

/**
 * Faults in the order given: start address, length in bytes (0 means "the page holding the address"), reason, and
 * where each came from as a shared label plus a line number (0: no line), so that no string is made per fault.
 */
export class FaultList {
  count = 0;
  paddr = new BigUint64Array(FIRST_CAPACITY);
  length = new BigUint64Array(FIRST_CAPACITY);
  reason = new Uint8Array(FIRST_CAPACITY);
  label = new Uint32Array(FIRST_CAPACITY);
  line = new Uint32Array(FIRST_CAPACITY);
  /**
   * The address as a plain number when the fault is one page (length 0) below 2^53, else -1. Such a fault's paddr and
   * length columns are left 0: making a bigint per fault cost more than the rest of reading a list of 100,000.
   */
  page = new Float64Array(FIRST_CAPACITY);
  private readonly labels: string[] = [];
  private readonly labelIds = new Map<string, number>();

  /** `tooMany`: the error for a list past MAX_FAULTS (a usage error for the user's lists, bad input for a dump's). */
  constructor(private readonly tooMany: (max: number) => Error = (max) => new UsageError(`more than ${max.toLocaleString('en')} faults: give ranges (PADDR+LEN) instead of single pages`)) {}

  static of(ranges: readonly FaultRange[]): FaultList {
    const list = new FaultList();
    for (const r of ranges) list.add(r.paddr, r.length, r.reason, r.origin);
    return list;
  }

  add(paddr: bigint, length: bigint, reason: number, label: string, line = 0): void {
    this.addLabelled(paddr, length, reason, this.labelId(label), line);
  }

  /** As add, with the label's id from labelId: no lookup per fault of a file. */
  addLabelled(paddr: bigint, length: bigint, reason: number, labelId: number, line = 0): void {
    if (length === 0n && paddr >= 0n && paddr < EXACT_ADDRESS) {
      this.addPage(Number(paddr), reason, labelId, line);
      return;
    }
    const i = this.slot(reason, labelId, line);
    this.paddr[i] = paddr;
    this.length[i] = length;
    this.page[i] = -1;
  }

  /** A one-page fault at `paddr`, a whole number below 2^53 (what most lines of a faults file are). */
  addPage(paddr: number, reason: number, labelId: number, line = 0): void {
    if (!(Number.isSafeInteger(paddr) && paddr >= 0)) throw new RangeError(`fault address ${paddr} is not a whole number below 2^53`);
    // The slot first: it may grow the columns, and `this.page` must be read after that.
    const i = this.slot(reason, labelId, line);
    this.page[i] = paddr;
  }

  /** The fault's start address (whichever column holds it). */
  paddrOf(i: number): bigint {
    return this.page[i] >= 0 ? BigInt(this.page[i]) : this.paddr[i];
  }

  /** The fault's length in bytes (0: the page holding the address). */
  lengthOf(i: number): bigint {
    return this.page[i] >= 0 ? 0n : this.length[i];
  }

  /** The next entry, its reason, label and line set; the caller fills the address columns. */
  private slot(reason: number, labelId: number, line: number): number {
    if (!Number.isInteger(reason) || reason < 0 || reason > MAX_REASON) throw new RangeError(`fault reason ${reason} is not one of ours`);
    if (this.count === this.paddr.length) this.grow();
    const i = this.count++;
    this.reason[i] = reason;
    this.label[i] = labelId;
    this.line[i] = line;
    return i;
  }

  /** Room for `more` faults beyond those held, at most MAX_FAULTS in all: one allocation instead of many doublings. */
  reserve(more: number): void {
    const wanted = Math.min(this.count + more, MAX_FAULTS);
    while (this.paddr.length < wanted) this.grow(wanted);
  }

  /** Every fault of `other`, after this list's own. */
  append(other: FaultList): void {
    const ids = other.labels.map((label) => this.labelId(label));
    this.reserve(other.count);
    for (let i = 0; i < other.count; i++) {
      if (other.page[i] >= 0) this.addPage(other.page[i], other.reason[i], ids[other.label[i]], other.line[i]);
      else this.addLabelled(other.paddr[i], other.length[i], other.reason[i], ids[other.label[i]], other.line[i]);
    }
  }

  origin(i: number): string {
    const label = this.labels[this.label[i]];
    return this.line[i] === 0 ? label : `${label} line ${this.line[i]}`;
  }

  at(i: number): FaultRange {
    return { paddr: this.paddrOf(i), length: this.lengthOf(i), reason: this.reason[i], origin: this.origin(i) };
  }

  toRanges(): FaultRange[] {
    return Array.from({ length: this.count }, (_, i) => this.at(i));
  }

  labelId(label: string): number {
    let id = this.labelIds.get(label);
    if (id === undefined) {
      id = this.labels.length;
      this.labels.push(label);
      this.labelIds.set(label, id);
    }
    return id;
  }

  private grow(atLeast = 0): void {
    const capacity = Math.max(this.paddr.length * 2, atLeast);
    if (this.count >= MAX_FAULTS) throw this.tooMany(MAX_FAULTS);
    const widen = <T extends BigUint64Array | Uint8Array | Uint32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(Math.min(capacity, MAX_FAULTS));
      next.set(old as never);
      return next;
    };
    this.paddr = widen(this.paddr, (n) => new BigUint64Array(n));
    this.length = widen(this.length, (n) => new BigUint64Array(n));
    this.reason = widen(this.reason, (n) => new Uint8Array(n));
    this.label = widen(this.label, (n) => new Uint32Array(n));
    this.line = widen(this.line, (n) => new Uint32Array(n));
    this.page = widen(this.page, (n) => new Float64Array(n));
  }
}
