// A whole program header table held compactly: typed-array columns (56 bytes an entry), no object per entry.

import { classLayout, readU32, readWord, type Format } from './byte-order.js';
import { writeProgramHeader, type ProgramHeader } from './program-header.js';

/** The six address-sized fields, in the order of their column slots. */
const WORDS = 6;
const OFFSET = 0;
const VADDR = 1;
const PADDR = 2;
const FILESZ = 3;
const MEMSZ = 4;
const ALIGN = 5;

/**
 * 128 Ki entries as objects with seven BigInts each cost about 25 MiB of heap; as columns, 7 MiB. Entries are read
 * one field at a time (`paddr(i)`), or one at a time as an object (`get(i)`) that the caller does not keep.
 */
export class ProgramHeaderTable implements Iterable<ProgramHeader> {
  constructor(
    private readonly types: Uint32Array,
    private readonly flagColumn: Uint32Array,
    private readonly words: BigUint64Array,
    readonly length: number,
  ) {}

  /** Decodes `count` raw entries (already checked by insaneProgramHeader) in the dump's class and byte order. */
  static decode(buf: Buffer, count: number, format: Format): ProgramHeaderTable {
    const L = classLayout(format);
    const P = L.ph;
    const types = new Uint32Array(count);
    const flags = new Uint32Array(count);
    const words = new BigUint64Array(count * WORDS);
    for (let i = 0; i < count; i++) {
      const at = i * L.phentsize;
      const w = i * WORDS;
      types[i] = readU32(buf, at + P.type, format.endian);
      flags[i] = readU32(buf, at + P.flags, format.endian);
      words[w + OFFSET] = readWord(buf, at + P.offset, format);
      words[w + VADDR] = readWord(buf, at + P.vaddr, format);
      words[w + PADDR] = readWord(buf, at + P.paddr, format);
      words[w + FILESZ] = readWord(buf, at + P.filesz, format);
      words[w + MEMSZ] = readWord(buf, at + P.memsz, format);
      words[w + ALIGN] = readWord(buf, at + P.align, format);
    }
    return new ProgramHeaderTable(types, flags, words, count);
  }

  static from(phdrs: readonly ProgramHeader[]): ProgramHeaderTable {
    const builder = new ProgramHeaderTableBuilder(phdrs.length);
    for (const ph of phdrs) builder.push(ph);
    return builder.build();
  }

  type(i: number): number {
    return this.types[i];
  }
  flags(i: number): number {
    return this.flagColumn[i];
  }
  offset(i: number): bigint {
    return this.words[i * WORDS + OFFSET];
  }
  vaddr(i: number): bigint {
    return this.words[i * WORDS + VADDR];
  }
  paddr(i: number): bigint {
    return this.words[i * WORDS + PADDR];
  }
  filesz(i: number): bigint {
    return this.words[i * WORDS + FILESZ];
  }
  memsz(i: number): bigint {
    return this.words[i * WORDS + MEMSZ];
  }
  align(i: number): bigint {
    return this.words[i * WORDS + ALIGN];
  }

  /** Entry `i` as an object, made on each call. */
  get(i: number): ProgramHeader {
    const w = i * WORDS;
    const words = this.words;
    return {
      type: this.types[i],
      flags: this.flagColumn[i],
      offset: words[w + OFFSET],
      vaddr: words[w + VADDR],
      paddr: words[w + PADDR],
      filesz: words[w + FILESZ],
      memsz: words[w + MEMSZ],
      align: words[w + ALIGN],
    };
  }

  /** The first entry of type `type`, or -1. */
  indexOfType(type: number): number {
    return this.types.subarray(0, this.length).indexOf(type);
  }

  /** The first entry that `test` accepts, or undefined; each entry tried is made for the test and dropped. */
  find(test: (ph: ProgramHeader, index: number) => boolean): ProgramHeader | undefined {
    const i = this.findIndex(test);
    return i < 0 ? undefined : this.get(i);
  }

  findIndex(test: (ph: ProgramHeader, index: number) => boolean): number {
    for (let i = 0; i < this.length; i++) if (test(this.get(i), i)) return i;
    return -1;
  }

  /** Every entry as an object: for small tables and tests. */
  toArray(): ProgramHeader[] {
    return Array.from({ length: this.length }, (_, i) => this.get(i));
  }

  *[Symbol.iterator](): Iterator<ProgramHeader> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** The table in `format`'s class and byte order, straight into one buffer. */
  encode(format: Format): Buffer {
    const size = classLayout(format).phentsize;
    const buf = Buffer.alloc(this.length * size);
    for (let i = 0; i < this.length; i++) writeProgramHeader(buf, i * size, this.get(i), format);
    return buf;
  }
}

/** Grows a table entry by entry (a slim or filtered table), its columns doubling as needed. */
export class ProgramHeaderTableBuilder {
  private types: Uint32Array;
  private flags: Uint32Array;
  private words: BigUint64Array;
  length = 0;

  constructor(capacity = 16) {
    const n = Math.max(1, capacity);
    this.types = new Uint32Array(n);
    this.flags = new Uint32Array(n);
    this.words = new BigUint64Array(n * WORDS);
  }

  push(ph: ProgramHeader): void {
    if (this.length === this.types.length) this.grow();
    const i = this.length++;
    const w = i * WORDS;
    this.types[i] = ph.type;
    this.flags[i] = ph.flags;
    this.words[w + OFFSET] = BigInt.asUintN(64, ph.offset);
    this.words[w + VADDR] = BigInt.asUintN(64, ph.vaddr);
    this.words[w + PADDR] = BigInt.asUintN(64, ph.paddr);
    this.words[w + FILESZ] = BigInt.asUintN(64, ph.filesz);
    this.words[w + MEMSZ] = BigInt.asUintN(64, ph.memsz);
    this.words[w + ALIGN] = BigInt.asUintN(64, ph.align);
  }

  build(): ProgramHeaderTable {
    const n = this.length;
    // Full (the usual case: the capacity was the count): the columns as they are, with no second copy of them.
    if (n === this.types.length) return new ProgramHeaderTable(this.types, this.flags, this.words, n);
    return new ProgramHeaderTable(this.types.slice(0, n), this.flags.slice(0, n), this.words.slice(0, n * WORDS), n);
  }

  private grow(): void {
    const n = this.types.length * 2;
    const types = new Uint32Array(n);
    const flags = new Uint32Array(n);
    const words = new BigUint64Array(n * WORDS);
    types.set(this.types);
    flags.set(this.flags);
    words.set(this.words);
    this.types = types;
    this.flags = flags;
    this.words = words;
  }
}
