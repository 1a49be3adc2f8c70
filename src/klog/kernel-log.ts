// Reads the crashed kernel's log (printk buffer) out of a dump's memory, in whichever of the three layouts it uses.

import { BadInputError } from '../errors.js';
import { hex, readU16, readU32, readU64, type Endian } from '../elf/byte-order.js';
import { DEFAULT_PAGE_SIZE, vmcoreinfoPageSize } from '../elf/vmcoreinfo.js';
import type { AddressMap } from './address-map.js';
import type { PhysicalMemory } from './physical-memory.js';
import { readPrintkRingbuffer } from './printk-ringbuffer.js';
import { readLogBufRecords } from './log-buf-records.js';
import { readLogBufPlain } from './log-buf-plain.js';

export { formatDmesg, formatDmesgBytes } from './dmesg-format.js';

export interface LogRecord {
  seq?: bigint;
  tsNanos: bigint;
  level?: number;
  facility?: number;
  /** The record's text exactly as vmcore-dmesg prints it (non-printable bytes as \xNN); may contain newlines. */
  text: string;
  /** The record's text bytes as stored. */
  raw?: Buffer;
  /** log_buf-records only: the zeroed header where the writer wrapped; vmcore-dmesg prints it as a record, so it is kept. */
  wrapMarker?: true;
  /** SUBSYSTEM=/DEVICE= (5.10+) or the stored dictionary (3.5-5.9), NUL separators as newlines. */
  dict?: string;
}

export interface KernelLog {
  format: 'printk-ringbuffer' | 'log_buf-records' | 'log_buf-plain';
  records: LogRecord[];
  /** log_buf-plain only: the bytes vmcore-dmesg prints, as latin1. */
  plainText?: string;
  symbolsUsed: Record<string, bigint>;
  /** Physical pages the log's records and the structures leading to them lie in, ascending: crash needs only these. */
  pagesTouched: bigint[];
  /** Every physical page read, whole arrays included (what vmcore-dmesg reads), ascending. */
  pagesRead: bigint[];
  /** printk-ringbuffer only: records left out because their text block was illegal (corrupt). */
  skippedRecords: number;
}

/** Typed reads of kernel memory by virtual address, with VMCOREINFO lookups and a record of what was used. */
export class KlogReader {
  readonly symbolsUsed: Record<string, bigint> = {};
  private readonly pages = new Set<bigint>();
  private readonly wholePages = new Set<bigint>();
  private readonly pageSize: bigint;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly vmcoreinfo: Map<string, string>,
    private readonly addressMap: AddressMap,
    readonly endian: Endian,
    readonly wordSize: 4 | 8,
  ) {
    this.pageSize = BigInt(vmcoreinfoPageSize(vmcoreinfo) ?? DEFAULT_PAGE_SIZE);
  }

  /** SYMBOL(name), or undefined when absent or 0 (vmcore-dmesg's "missing"). */
  symbol(name: string): bigint | undefined {
    const raw = this.vmcoreinfo.get(`SYMBOL(${name})`);
    if (raw === undefined || !/^(0x)?[0-9a-f]{1,16}$/i.test(raw)) return undefined;
    const value = BigInt(raw.startsWith('0x') || raw.startsWith('0X') ? raw : `0x${raw}`);
    if (value === 0n) return undefined;
    this.symbolsUsed[name] = value;
    return value;
  }

  /**
   * Decimal VMCOREINFO values (SIZE/OFFSET/LENGTH) for `what`, each given as one or more accepted
   * spellings; all missing ones are named in one error.
   */
  layout<K extends string>(what: string, keys: Record<K, string | readonly string[]>): Record<K, number> {
    const out = {} as Record<K, number>;
    const missing: string[] = [];
    for (const name of Object.keys(keys) as K[]) {
      const spellings = typeof keys[name] === 'string' ? [keys[name] as string] : (keys[name] as readonly string[]);
      const found = spellings.map((k) => this.vmcoreinfo.get(k)).find((v) => v !== undefined);
      if (found === undefined) {
        missing.push(spellings.join(' or '));
        continue;
      }
      if (!/^\d{1,9}$/.test(found)) throw new BadInputError(`kernel log: VMCOREINFO ${spellings[0]}=${JSON.stringify(found.slice(0, 40))} is not a small decimal number`);
      out[name] = Number(found);
    }
    if (missing.length > 0) throw new BadInputError(`kernel log: cannot locate ${what}: VMCOREINFO lacks ${missing.join(', ')}`);
    return out;
  }

  /** Several SYMBOL()s that `what` needs; all missing ones are named in one error. */
  symbols<K extends string>(what: string, names: readonly K[]): Record<K, bigint> {
    const out = {} as Record<K, bigint>;
    const missing = names.filter((name) => {
      const value = this.symbol(name);
      if (value !== undefined) out[name] = value;
      return value === undefined;
    });
    if (missing.length > 0) throw new BadInputError(`kernel log: cannot locate ${what}: VMCOREINFO lacks ${missing.map((n) => `SYMBOL(${n})`).join(', ')}`);
    return out;
  }

  /** Checks that each [offset, width] field lies inside a `size`-byte struct, so later reads cannot run off it. */
  checkFields(struct: string, size: number, fields: Record<string, readonly [number, number]>): void {
    for (const [name, [offset, width]] of Object.entries(fields)) {
      if (offset + width > size) {
        throw new BadInputError(`kernel log: VMCOREINFO puts ${name} (${width} bytes at offset ${offset}) past the end of the ${size}-byte ${struct}`);
      }
    }
  }

  optionalNumber(key: string): number | undefined {
    const raw = this.vmcoreinfo.get(key);
    return raw !== undefined && /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
  }

  /**
   * Reads kernel memory. With `track` false the pages are not recorded as the log's: a caller that reads a whole
   * array at once then names the parts it used with touch(), so that a slim dump keeps only those.
   */
  read(vaddr: bigint, length: number, what: string, track = true): Buffer {
    const paddr = this.physical(vaddr, what);
    const bytes = this.memory.read(paddr, length);
    if (!bytes) {
      throw new BadInputError(`kernel log: cannot read ${what}: ${length} bytes at vaddr ${hex(vaddr)} (paddr ${hex(paddr)}) are not all in the dump`);
    }
    this.markPages(track ? this.pages : this.wholePages, paddr, length);
    return bytes;
  }

  /** Records [vaddr, vaddr + length) as part of the log, read already (untracked) as part of something bigger. */
  touch(vaddr: bigint, length: number): void {
    const paddr = this.addressMap.toPhysical(vaddr);
    if (paddr !== undefined) this.markPages(this.pages, paddr, length);
  }

  private physical(vaddr: bigint, what: string): bigint {
    const paddr = this.addressMap.toPhysical(vaddr);
    if (paddr === undefined) throw new BadInputError(`kernel log: cannot locate ${what} at vaddr ${hex(vaddr)}: no PT_LOAD or kernel mapping covers it`);
    return paddr;
  }

  private markPages(into: Set<bigint>, paddr: bigint, length: number): void {
    if (length <= 0) return;
    for (let page = paddr / this.pageSize; page <= (paddr + BigInt(length) - 1n) / this.pageSize; page++) into.add(page * this.pageSize);
  }

  pointer(vaddr: bigint, what: string): bigint {
    return this.word(this.read(vaddr, this.wordSize, what), 0);
  }

  u32At(vaddr: bigint, what: string): number {
    return this.u32(this.read(vaddr, 4, what), 0);
  }

  word(buf: Buffer, off: number): bigint {
    return this.wordSize === 8 ? readU64(buf, off, this.endian) : BigInt(readU32(buf, off, this.endian));
  }
  u16(buf: Buffer, off: number): number {
    return readU16(buf, off, this.endian);
  }
  u32(buf: Buffer, off: number): number {
    return readU32(buf, off, this.endian);
  }
  u64(buf: Buffer, off: number): bigint {
    return readU64(buf, off, this.endian);
  }

  pagesTouched(): bigint[] {
    return [...this.pages].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  pagesRead(): bigint[] {
    return [...new Set([...this.pages, ...this.wholePages])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** Picks the layout the way vmcore-dmesg does: the lockless ring (5.10+), then log_buf records (3.5-5.9), then plain text. */
export function readKernelLog(
  memory: PhysicalMemory,
  vmcoreinfo: Map<string, string>,
  addressMap: AddressMap,
  endian: Endian,
  wordSize: 4 | 8,
): KernelLog {
  if (vmcoreinfo.size === 0) throw new BadInputError('kernel log: cannot locate the log: the dump has no VMCOREINFO note');
  const reader = new KlogReader(memory, vmcoreinfo, addressMap, endian, wordSize);
  const done = (format: KernelLog['format'], records: LogRecord[], plainText?: string, skippedRecords = 0): KernelLog => ({
    format,
    records,
    skippedRecords,
    ...(plainText === undefined ? {} : { plainText }),
    symbolsUsed: reader.symbolsUsed,
    pagesTouched: reader.pagesTouched(),
    pagesRead: reader.pagesRead(),
  });
  if (reader.symbol('prb') !== undefined) {
    const ring = readPrintkRingbuffer(reader);
    return done('printk-ringbuffer', ring.records, undefined, ring.skipped);
  }
  if (reader.symbol('log_first_idx') !== undefined) return done('log_buf-records', readLogBufRecords(reader));
  if (reader.symbol('log_buf') !== undefined) {
    const plain = readLogBufPlain(reader);
    return done('log_buf-plain', plain.records, plain.text);
  }
  throw new BadInputError(
    'kernel log: cannot locate the log: VMCOREINFO has none of SYMBOL(prb) (Linux 5.10+), SYMBOL(log_first_idx) (3.5-5.9), SYMBOL(log_buf) (older)',
  );
}
