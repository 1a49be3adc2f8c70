// A bounded window of struct pages read through the page tables, with the entries that could not be read marked.

import type { PhysRead } from './mm-info.js';
import { isMapping, type PageTableWalker } from './x86-64-pagetable.js';

const PAGE = 4096;
/** Struct pages per window: a multiple of makedumpfile's PGMM_CACHED (512), 256 KiB at 64 bytes each. */
export const WINDOW_ENTRIES = 4096;
/** Known-bad physical pages remembered at most; past this a refused page may be asked for again. */
const MAX_REFUSED_REMEMBERED = 1 << 20;

/** How the bytes of a section's struct pages fared: read, refused by the caller, or not in the dump at all. */
export interface WindowTally {
  readBytes: number;
  refusedBytes: number;
  missingBytes: number;
}

export class StructPageWindow {
  readonly bytes: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  /** 1 for an entry whose bytes could not all be read. */
  readonly unreadable: Uint8Array;
  anyUnreadable = false;
  private readonly refused = new Set<number>();

  constructor(
    private readonly structSize: number,
    private readonly walker: PageTableWalker,
    private readonly read: PhysRead,
    private readonly inFileData: (paddr: bigint) => boolean,
  ) {
    const buffer = new ArrayBuffer((WINDOW_ENTRIES + 1) * structSize);
    this.bytes = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.unreadable = new Uint8Array(WINDOW_ENTRIES + 1);
  }

  /**
   * Fills entries [0, count) with the struct pages at `vaddr`. A refused range is read again page by page, once;
   * each physical page refused alone is remembered and never asked for again.
   */
  fill(vaddr: bigint, count: number, tally: WindowTally): void {
    const total = count * this.structSize;
    this.unreadable.fill(0, 0, count);
    this.anyUnreadable = false;
    let done = 0;
    while (done < total) {
      const va = vaddr + BigInt(done);
      const t = this.walker.translate(va);
      if (!isMapping(t)) {
        const skip = Math.min(total - done, PAGE - Number(va % BigInt(PAGE)));
        if (t.failure === 'unreadable' && this.inFileData(t.where)) tally.refusedBytes += skip;
        else tally.missingBytes += skip;
        this.markUnreadable(done, skip);
        done += skip;
        continue;
      }
      const take = Math.min(total - done, t.span);
      if (!this.hasRefused(t.paddr, take)) {
        const buf = this.read(t.paddr, take, this.bytes.subarray(done, done + take));
        if (buf && buf.length >= take) {
          this.place(buf, take, done);
          tally.readBytes += take;
          done += take;
          continue;
        }
      }
      this.fillByPage(t.paddr, done, take, tally);
      done += take;
    }
  }

  private fillByPage(paddr: bigint, at: number, length: number, tally: WindowTally): void {
    let off = 0;
    while (off < length) {
      const p = paddr + BigInt(off);
      const take = Math.min(length - off, PAGE - Number(p % BigInt(PAGE)));
      const pageNumber = Number(p / BigInt(PAGE));
      const buf = this.refused.has(pageNumber) ? undefined : this.read(p, take, this.bytes.subarray(at + off, at + off + take));
      if (buf && buf.length >= take) {
        this.place(buf, take, at + off);
        tally.readBytes += take;
      } else if (this.inFileData(p)) {
        if (this.refused.size < MAX_REFUSED_REMEMBERED) this.refused.add(pageNumber);
        tally.refusedBytes += take;
        this.markUnreadable(at + off, take);
      } else {
        tally.missingBytes += take;
        this.markUnreadable(at + off, take);
      }
      off += take;
    }
  }

  /** Copies what a reader returned, unless it read straight into the window. */
  private place(buf: Buffer, take: number, at: number): void {
    if (buf.buffer === this.bytes.buffer && buf.byteOffset === this.bytes.byteOffset + at) return;
    this.bytes.set(buf.length === take ? buf : buf.subarray(0, take), at);
  }

  private hasRefused(paddr: bigint, length: number): boolean {
    if (this.refused.size === 0) return false;
    const first = Number(paddr / BigInt(PAGE));
    const last = Number((paddr + BigInt(length) - 1n) / BigInt(PAGE));
    for (let n = first; n <= last; n++) if (this.refused.has(n)) return true;
    return false;
  }

  private markUnreadable(at: number, length: number): void {
    const first = Math.floor(at / this.structSize);
    const end = Math.ceil((at + length) / this.structSize);
    this.unreadable.fill(1, first, end);
    this.anyUnreadable = true;
  }
}
