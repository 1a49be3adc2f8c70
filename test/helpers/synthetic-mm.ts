// A small synthetic x86_64 memory image: page tables, a SPARSEMEM_EXTREME mem_section table and struct pages.

import { ProgramHeaderTable } from '../../src/elf/program-header-table.js';
import { PT_LOAD } from '../../src/elf/constants.js';
import type { ProgramHeader } from '../../src/elf/program-header.js';
import type { PhysRead } from '../../src/mm/index.js';

const PAGE = 4096;
export const START_KERNEL_MAP = 0xffffffff80000000n;
export const PAGE_OFFSET = 0xffff888000000000n;
/** Struct pages live at this virtual address (1 GiB aligned) plus STRUCT_PAGE_PHYS. */
export const VMEMMAP_BASE = 0xffffea0000000000n;
/** Physical placement inside RAM: page tables from 4 MiB, mem_section at 6 MiB, struct pages at 8 MiB. */
const TABLES_AT = 4 << 20;
const MEM_SECTION_AT = 6 << 20;
export const STRUCT_PAGE_PHYS = 8 << 20;
export const STRUCT_PAGE_SIZE = 64;

/** Sparse physical memory: unwritten pages inside RAM read as zeros; anything outside RAM is not in the dump. */
export class SparsePhys {
  readonly pages = new Map<number, Buffer>();
  constructor(readonly ramBytes: number) {}

  page(n: number): Buffer {
    let p = this.pages.get(n);
    if (!p) {
      p = Buffer.alloc(PAGE);
      this.pages.set(n, p);
    }
    return p;
  }

  write(paddr: number, bytes: Buffer): void {
    for (let i = 0; i < bytes.length; ) {
      const a = paddr + i;
      const take = Math.min(bytes.length - i, PAGE - (a % PAGE));
      bytes.copy(this.page(Math.floor(a / PAGE)), a % PAGE, i, i + take);
      i += take;
    }
  }

  writeU64(paddr: number, value: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, value));
    this.write(paddr, b);
  }

  read: PhysRead = (paddr, length) => {
    if (paddr < 0n || paddr + BigInt(length) > BigInt(this.ramBytes)) return undefined;
    const out = Buffer.alloc(length);
    const base = Number(paddr);
    for (let i = 0; i < length; ) {
      const a = base + i;
      const take = Math.min(length - i, PAGE - (a % PAGE));
      this.pages.get(Math.floor(a / PAGE))?.copy(out, i, a % PAGE, (a % PAGE) + take);
      i += take;
    }
    return out;
  };
}

export type MapSize = '4k' | '2m' | '1g';
const SIZES: Record<MapSize, bigint> = { '4k': 1n << 12n, '2m': 1n << 21n, '1g': 1n << 30n };

/** Builds x86_64 page tables in SparsePhys, allocating table pages from TABLES_AT upward. */
export class PageTableBuilder {
  readonly pgd: number;
  private next = TABLES_AT;
  constructor(
    readonly mem: SparsePhys,
    readonly levels: 4 | 5,
    readonly smeMask = 0n,
  ) {
    this.pgd = this.alloc();
  }

  private alloc(): number {
    const at = this.next;
    if (at + PAGE > MEM_SECTION_AT) throw new Error('synthetic page tables overflow into mem_section: map with larger pages');
    this.next += PAGE;
    this.mem.page(at / PAGE);
    return at;
  }

  private entry(table: number, index: number): bigint {
    return this.mem.pages.get(table / PAGE)!.readBigUInt64LE(index * 8);
  }

  /** Maps [vaddr, vaddr + size) to paddr with one entry of that size. */
  map(vaddr: bigint, paddr: bigint, size: MapSize): void {
    const leafShift = size === '4k' ? 12n : size === '2m' ? 21n : 30n;
    let table = this.pgd;
    for (let level = 0; level < this.levels; level++) {
      const shift = BigInt(12 + 9 * (this.levels - 1 - level));
      const index = Number((vaddr >> shift) & 511n);
      if (shift === leafShift) {
        const flags = size === '4k' ? 0x63n : 0xe3n; // present, rw, accessed, dirty (+ PSE)
        this.mem.writeU64(table + index * 8, paddr | flags | this.smeMask);
        return;
      }
      let e = this.entry(table, index);
      if ((e & 1n) === 0n) {
        e = BigInt(this.alloc()) | 0x63n | this.smeMask;
        this.mem.writeU64(table + index * 8, e);
      }
      table = Number(e & 0x000ffffffffff000n & ~this.smeMask);
    }
  }

  /** Writes a raw entry at (level, index) of the table reached by vaddr's walk so far (for hostile tables). */
  rawEntry(tablePaddr: number, index: number, value: bigint): void {
    this.mem.writeU64(tablePaddr + index * 8, value);
  }

  mapRange(vaddr: bigint, paddr: bigint, bytes: bigint, size: MapSize): void {
    const step = SIZES[size];
    for (let off = 0n; off < bytes; off += step) this.map(vaddr + off, paddr + off, size);
  }
}

export interface StructPageFields {
  flags?: bigint;
  compoundHead?: bigint;
  /** Byte 16 of the struct page (compound_dtor in a first tail on 6.1). */
  dtor?: number;
  /** Byte 17 (compound_order in a first tail on 6.1). */
  order?: number;
  mapping?: bigint;
  private?: bigint;
  mapcount?: number;
}

export interface SyntheticMmOptions {
  ramPages?: number;
  levels?: 4 | 5;
  smeMask?: bigint;
  physBase?: bigint;
  sectionSizeBits?: number;
  vmemmapMap?: MapSize;
  /** The direct map's page size: 2 MiB by default; 1 GiB keeps the tables of a large machine small. */
  directMapMap?: MapSize;
  /** SYMBOL(mem_section) names a pointer to the root array (the -x vmlinux case), not the array itself. */
  memSectionPointer?: boolean;
  /** Extra VMCOREINFO lines, or undefined values to delete. */
  vmcoreinfo?: Record<string, string | undefined>;
}

/** The 6.1 fixture's layout and flag numbers. */
export class SyntheticMm {
  readonly mem: SparsePhys;
  readonly tables: PageTableBuilder;
  readonly ramPages: number;
  readonly pagesPerSection: number;
  readonly vmcoreinfo = new Map<string, string>();
  readonly phdrs: ProgramHeader[];
  readonly memMapVa = VMEMMAP_BASE + BigInt(STRUCT_PAGE_PHYS);

  constructor(opts: SyntheticMmOptions = {}) {
    this.ramPages = opts.ramPages ?? 4096;
    const ramBytes = this.ramPages * PAGE;
    if (ramBytes < STRUCT_PAGE_PHYS + this.ramPages * STRUCT_PAGE_SIZE) throw new Error('synthetic RAM too small for its own struct pages');
    const levels = opts.levels ?? 4;
    const smeMask = opts.smeMask ?? 0n;
    const physBase = opts.physBase ?? -0x11000000n;
    const sectionSizeBits = opts.sectionSizeBits ?? 20;
    this.pagesPerSection = 2 ** (sectionSizeBits - 12);
    this.mem = new SparsePhys(ramBytes);
    this.tables = new PageTableBuilder(this.mem, levels, smeMask);
    const directMap = levels === 5 ? 0xff11000000000000n : PAGE_OFFSET;
    this.tables.mapRange(directMap, 0n, BigInt(ramBytes), opts.directMapMap ?? '2m');
    const vm = opts.vmemmapMap ?? '2m';
    if (vm === '1g') this.tables.map(VMEMMAP_BASE, 0n, '1g');
    else this.tables.mapRange(this.memMapVa, BigInt(STRUCT_PAGE_PHYS), BigInt(Math.ceil((this.ramPages * STRUCT_PAGE_SIZE) / 2 ** 21) * 2 ** 21), vm);

    // mem_section: a root array of pointers, one root page of 128 sections of 32 bytes each.
    const spr = PAGE / 32;
    const sections = Math.ceil(this.ramPages / this.pagesPerSection);
    const rootsAt = MEM_SECTION_AT;
    const rootPagesAt = MEM_SECTION_AT + PAGE;
    for (let r = 0; r * spr < sections; r++) this.mem.writeU64(rootsAt + r * 8, directMap + BigInt(rootPagesAt + r * PAGE));
    for (let nr = 0; nr < sections; nr++) {
      const at = rootPagesAt + Math.floor(nr / spr) * PAGE + (nr % spr) * 32;
      this.mem.writeU64(at, this.memMapVa | 0x7n); // coded = mem_map − section start pfn, which is the vmemmap base
    }
    const pointerAt = MEM_SECTION_AT - 8;
    this.mem.writeU64(pointerAt, directMap + BigInt(rootsAt));

    const textPaddr = BigInt(0x1000000) + physBase; // where "the kernel" would sit
    const pgdVa = START_KERNEL_MAP + BigInt(this.tables.pgd) - physBase;
    this.phdrs = [
      { type: PT_LOAD, flags: 7, offset: 0x1000n, vaddr: directMap, paddr: 0n, filesz: BigInt(ramBytes), memsz: BigInt(ramBytes), align: 0n },
    ];
    void textPaddr;
    const vi: Record<string, string> = {
      OSRELEASE: '6.1.0-56-amd64',
      PAGESIZE: '4096',
      'SYMBOL(mem_section)': (directMap + BigInt(opts.memSectionPointer ? pointerAt : rootsAt)).toString(16),
      'LENGTH(mem_section)': String(Math.ceil(2 ** (46 - sectionSizeBits) / spr)),
      'SIZE(mem_section)': '32',
      'OFFSET(mem_section.section_mem_map)': '0',
      'NUMBER(SECTION_SIZE_BITS)': String(sectionSizeBits),
      'NUMBER(MAX_PHYSMEM_BITS)': '46',
      'SIZE(page)': String(STRUCT_PAGE_SIZE),
      'OFFSET(page.flags)': '0',
      'OFFSET(page._refcount)': '52',
      'OFFSET(page.mapping)': '24',
      'OFFSET(page.lru)': '8',
      'OFFSET(page._mapcount)': '48',
      'OFFSET(page.private)': '40',
      'OFFSET(page.compound_dtor)': '16',
      'OFFSET(page.compound_order)': '17',
      'OFFSET(page.compound_head)': '8',
      'LENGTH(zone.free_area)': '11',
      'NUMBER(PG_lru)': '4',
      'NUMBER(PG_private)': '13',
      'NUMBER(PG_swapcache)': '10',
      'NUMBER(PG_swapbacked)': '19',
      'NUMBER(PG_slab)': '9',
      'NUMBER(PG_hwpoison)': '23',
      'NUMBER(PG_head_mask)': '65536',
      'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)': '-129',
      'NUMBER(HUGETLB_PAGE_DTOR)': '2',
      'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)': '-257',
      'NUMBER(phys_base)': physBase.toString(),
      'SYMBOL(init_top_pgt)': pgdVa.toString(16),
      'NUMBER(pgtable_l5_enabled)': levels === 5 ? '1' : '0',
      'NUMBER(sme_mask)': smeMask.toString(),
    };
    for (const [k, v] of Object.entries(vi)) this.vmcoreinfo.set(k, v);
    for (const [k, v] of Object.entries(opts.vmcoreinfo ?? {})) {
      if (v === undefined) this.vmcoreinfo.delete(k);
      else this.vmcoreinfo.set(k, v);
    }
  }

  structPagePhys(pfn: number): number {
    return STRUCT_PAGE_PHYS + pfn * STRUCT_PAGE_SIZE;
  }

  setPage(pfn: number, f: StructPageFields): void {
    const b = Buffer.alloc(STRUCT_PAGE_SIZE);
    b.writeBigUInt64LE(BigInt.asUintN(64, f.flags ?? 0n), 0);
    b.writeBigUInt64LE(BigInt.asUintN(64, f.compoundHead ?? 0n), 8);
    b[16] = f.dtor ?? 0;
    b[17] = f.order ?? 0;
    b.writeBigUInt64LE(BigInt.asUintN(64, f.mapping ?? 0n), 24);
    b.writeBigUInt64LE(BigInt.asUintN(64, f.private ?? 0n), 40);
    b.writeInt32LE(f.mapcount ?? -1, 48);
    this.mem.write(this.structPagePhys(pfn), b);
  }

  /** A compound page: head at pfn with PG_head, first tail holding order and dtor, every tail pointing back. */
  setCompound(pfn: number, order: number, head: StructPageFields, dtor = 0, tailFlags = (_i: number) => 0n): void {
    this.setPage(pfn, { ...head, flags: (head.flags ?? 0n) | (1n << 16n) });
    for (let i = 1; i < 2 ** order; i++) {
      this.setPage(pfn + i, { flags: tailFlags(i), compoundHead: this.memMapVa + BigInt(pfn * STRUCT_PAGE_SIZE) + 1n, ...(i === 1 ? { order, dtor } : {}) });
    }
  }

  input(read: PhysRead = this.mem.read) {
    return { phdrs: ProgramHeaderTable.from(this.phdrs), vmcoreinfo: this.vmcoreinfo, machine: 62, read };
  }
}
