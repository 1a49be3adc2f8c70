// The VMCOREINFO keys the x86_64 mem_map walk needs, parsed and checked once into a typed MmInfo.

import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';

/**
 * The one way to read the dump's memory: undefined when the bytes are not in any PT_LOAD's file data, or refused.
 * Given `into` (at least `length` bytes), a reader may put the bytes there and return a view of it, sparing an
 * allocation per read: the struct page walk reads all of mem_map, 16 GiB for 1 TiB of RAM.
 */
export type PhysRead = (paddr: bigint, length: number, into?: Uint8Array) => Buffer | undefined;

export const EM_X86_64 = 62;
export const X86_64_START_KERNEL_MAP = 0xffffffff80000000n;
const U64 = (1n << 64n) - 1n;
const X86_64_PAGE_SIZE = 4096;

export interface KernelVersion {
  major: number;
  minor: number;
}

/** Byte offsets inside struct page; every one is 4-byte aligned and inside SIZE(page). */
export interface StructPageLayout {
  size: number;
  flags: number;
  mapping: number;
  mapcount: number;
  private: number;
  compoundHead: number;
}

/** Where a compound head's order and destructor live, read from the first tail struct page. */
export type CompoundOrderSource =
  | { kind: 'none' }
  /** ≤ 6.5: a byte (u16 before 4.16) at this offset of the first tail. */
  | { kind: 'field'; offset: number; width: 1 | 2 }
  /** 6.6+: the low byte of the first tail's flags (folio._flags_1). */
  | { kind: 'flags1' };

export type HugetlbTest =
  | { kind: 'none' }
  /** ≤ 6.5: the first tail's compound_dtor equals HUGETLB_PAGE_DTOR. */
  | { kind: 'dtor'; offset: number; width: 1 | 2; value: number }
  /** 6.6–6.8: bit PG_hugetlb of the first tail's flags. */
  | { kind: 'flag'; bit: number }
  /** 6.9+: the head's _mapcount (page_type) equals PAGE_HUGETLB_MAPCOUNT_VALUE. */
  | { kind: 'mapcount'; value: number };

export interface PageFlagBits {
  lru: number;
  private: number;
  swapcache: number;
  /** undefined: the kernel predates PG_swapbacked, so PG_swapcache alone makes a cache page. */
  swapbacked?: number;
  /** undefined on 6.10+, where slab is a page type. */
  slab?: number;
  /** undefined: no CONFIG_MEMORY_FAILURE, so nothing is ever poisoned and the walk may not run at all. */
  hwpoison?: number;
  /** PG_head_mask split into 32-bit halves (it is a mask, not a bit number). */
  headMaskLo: number;
  headMaskHi: number;
}

/** page_type values compared with the 32-bit _mapcount word, truncated to int32 as makedumpfile does. */
export interface PageTypeValues {
  buddy?: number;
  offline?: number;
  slab?: number;
  unaccepted?: number;
}

export interface MmInfo {
  pageSize: number;
  pageShift: number;
  osRelease?: string;
  kernel?: KernelVersion;
  /** Physical address of the top page table: SYMBOL(init_level4_pgt or init_top_pgt) − __START_KERNEL_map + phys_base. */
  pgdPaddr: bigint;
  physBase: bigint;
  levels: 4 | 5;
  smeMask: bigint;
  /** SYMBOL(mem_section): the root array of SPARSEMEM_EXTREME (or, after one dereference, a pointer to it). */
  memSection: bigint;
  memSectionSize: number;
  sectionMemMapOffset: number;
  sectionsPerRoot: number;
  sectionSizeBits: number;
  maxPhysmemBits: number;
  pagesPerSection: number;
  /** NR_MEM_SECTIONS = 2^(MAX_PHYSMEM_BITS − SECTION_SIZE_BITS). */
  nrMemSections: number;
  page: StructPageLayout;
  order: CompoundOrderSource;
  hugetlb: HugetlbTest;
  bits: PageFlagBits;
  types: PageTypeValues;
  /** LENGTH(zone.free_area): a bound on the buddy order. */
  freeAreaLength?: number;
  /** The buddy test needs OFFSET(page.private), OFFSET(page._mapcount) and PAGE_BUDDY_MAPCOUNT_VALUE. */
  hasBuddyTest: boolean;
}

export type MmInfoResult = MmInfo | { unavailable: string };

export function isUnavailable(r: MmInfoResult): r is { unavailable: string } {
  return 'unavailable' in r;
}

class Missing extends Error {}

/** Parses and checks the keys. The reason fits "page filtering is not available for <reason>: nothing is left out". */
export function parseMmInfo(vmcoreinfo: Map<string, string> | undefined, phdrs: ProgramHeaderTable, machine: number): MmInfoResult {
  if (machine !== EM_X86_64) return { unavailable: `a dump of another architecture (e_machine ${machine}; only x86_64 is supported)` };
  if (!vmcoreinfo || vmcoreinfo.size === 0) return { unavailable: 'a dump without VMCOREINFO' };
  try {
    return parse(vmcoreinfo, phdrs);
  } catch (err) {
    if (err instanceof Missing) return { unavailable: err.message };
    throw err;
  }
}

function parse(vi: Map<string, string>, phdrs: ProgramHeaderTable): MmInfo {
  const symbol = (name: string) => parseSymbol(vi, `SYMBOL(${name})`);
  const number = (name: string) => parseNumber(vi, `NUMBER(${name})`);
  const unsigned = (key: string) => parseUnsigned(vi, key);
  const need = <T>(value: T | undefined, key: string): T => {
    if (value === undefined) throw new Missing(`a dump whose VMCOREINFO lacks ${key}`);
    return value;
  };

  const pageSize = need(unsigned('PAGESIZE'), 'PAGESIZE');
  if (pageSize !== X86_64_PAGE_SIZE) throw new Missing(`a dump with PAGESIZE ${pageSize} (x86_64 pages are 4096 bytes)`);
  const osRelease = vi.get('OSRELEASE');
  const kernel = parseKernelVersion(osRelease);
  if (kernel && (kernel.major < 4 || (kernel.major === 4 && kernel.minor < 4))) {
    throw new Missing(`Linux ${osRelease} (kernels before 4.4 keep compound pages differently)`);
  }

  const rootSymbol = symbol('init_level4_pgt') ?? need(symbol('init_top_pgt'), 'SYMBOL(init_top_pgt)');
  const physBase = BigInt.asUintN(64, number('phys_base') ?? physBaseFromKernelText(phdrs));
  const pgdPaddr = BigInt.asUintN(64, rootSymbol - X86_64_START_KERNEL_MAP + physBase);
  const l5 = number('pgtable_l5_enabled');
  const levels = l5 !== undefined && l5 !== 0n ? 5 : 4;
  const smeMask = BigInt.asUintN(64, number('sme_mask') ?? 0n);

  const memSection = need(symbol('mem_section'), 'SYMBOL(mem_section)');
  const memSectionSize = need(unsigned('SIZE(mem_section)'), 'SIZE(mem_section)');
  const sectionMemMapOffset = need(unsigned('OFFSET(mem_section.section_mem_map)'), 'OFFSET(mem_section.section_mem_map)');
  if (memSectionSize < 8 || memSectionSize > pageSize || sectionMemMapOffset % 8 !== 0 || sectionMemMapOffset + 8 > memSectionSize) {
    throw new Missing(`a VMCOREINFO with an implausible SIZE(mem_section) ${memSectionSize} / OFFSET(mem_section.section_mem_map) ${sectionMemMapOffset}`);
  }
  const sectionsPerRoot = Math.floor(pageSize / memSectionSize);
  const sectionSizeBits = toSmall(number('SECTION_SIZE_BITS') ?? 27n);
  const maxPhysmemBits = toSmall(number('MAX_PHYSMEM_BITS') ?? (levels === 5 ? 52n : 46n));
  if (sectionSizeBits <= 12 || sectionSizeBits > 40 || maxPhysmemBits <= sectionSizeBits || maxPhysmemBits > 52) {
    throw new Missing(`a VMCOREINFO with implausible SECTION_SIZE_BITS ${sectionSizeBits} / MAX_PHYSMEM_BITS ${maxPhysmemBits}`);
  }
  const nrMemSections = 2 ** (maxPhysmemBits - sectionSizeBits);
  const rootsLength = unsigned('LENGTH(mem_section)');
  if (rootsLength !== undefined && rootsLength !== Math.ceil(nrMemSections / sectionsPerRoot)) {
    throw new Missing(`a kernel without SPARSEMEM_EXTREME (LENGTH(mem_section) is ${rootsLength})`);
  }

  const pageSizeOfStruct = need(unsigned('SIZE(page)'), 'SIZE(page)');
  need(unsigned('OFFSET(page._refcount)'), 'OFFSET(page._refcount)');
  const page: StructPageLayout = {
    size: pageSizeOfStruct,
    flags: need(unsigned('OFFSET(page.flags)'), 'OFFSET(page.flags)'),
    mapping: need(unsigned('OFFSET(page.mapping)'), 'OFFSET(page.mapping)'),
    mapcount: need(unsigned('OFFSET(page._mapcount)'), 'OFFSET(page._mapcount)'),
    private: need(unsigned('OFFSET(page.private)'), 'OFFSET(page.private)'),
    compoundHead: need(unsigned('OFFSET(page.compound_head)') ?? unsigned('OFFSET(page.compound_info)'), 'OFFSET(page.compound_head)'),
  };
  if (page.size < 32 || page.size > 512 || page.size % 8 !== 0) throw new Missing(`a VMCOREINFO with an implausible SIZE(page) ${page.size}`);
  for (const [field, off] of Object.entries(page)) {
    if (field !== 'size' && (off % 4 !== 0 || off + (field === 'mapcount' ? 4 : 8) > page.size)) {
      throw new Missing(`a VMCOREINFO whose OFFSET(page.${field}) ${off} is unaligned or outside SIZE(page) ${page.size}`);
    }
  }

  const bit = (name: string) => {
    const v = number(name);
    if (v === undefined) return undefined;
    if (v < 0n || v > 63n) throw new Missing(`a VMCOREINFO with NUMBER(${name}) ${v} out of range`);
    return Number(v);
  };
  const headMask = BigInt.asUintN(64, need(number('PG_head_mask'), 'NUMBER(PG_head_mask)'));
  const bits: PageFlagBits = {
    lru: need(bit('PG_lru'), 'NUMBER(PG_lru)'),
    private: need(bit('PG_private'), 'NUMBER(PG_private)'),
    swapcache: need(bit('PG_swapcache'), 'NUMBER(PG_swapcache)'),
    swapbacked: bit('PG_swapbacked'),
    slab: bit('PG_slab'),
    hwpoison: bit('PG_hwpoison'),
    headMaskLo: Number(headMask & 0xffffffffn),
    headMaskHi: Number(headMask >> 32n),
  };
  const int32 = (name: string) => {
    const v = number(name);
    return v === undefined ? undefined : Number(BigInt.asIntN(32, v));
  };
  const types: PageTypeValues = {
    buddy: int32('PAGE_BUDDY_MAPCOUNT_VALUE'),
    offline: int32('PAGE_OFFLINE_MAPCOUNT_VALUE'),
    slab: int32('PAGE_SLAB_MAPCOUNT_VALUE'),
    unaccepted: int32('PAGE_UNACCEPTED_MAPCOUNT_VALUE'),
  };
  if (bits.slab === undefined && types.slab === undefined) throw new Missing('a dump whose VMCOREINFO lacks NUMBER(PG_slab)');
  const freeAreaLength = unsigned('LENGTH(zone.free_area)');
  if (freeAreaLength !== undefined && (freeAreaLength < 1 || freeAreaLength > 64)) {
    throw new Missing(`a VMCOREINFO with an implausible LENGTH(zone.free_area) ${freeAreaLength}`);
  }

  const { order, hugetlb } = compoundLayout(vi, page.size, kernel, int32, bit);
  return {
    pageSize,
    pageShift: 12,
    osRelease,
    kernel,
    pgdPaddr,
    physBase,
    levels,
    smeMask,
    memSection,
    memSectionSize,
    sectionMemMapOffset,
    sectionsPerRoot,
    sectionSizeBits,
    maxPhysmemBits,
    pagesPerSection: 2 ** (sectionSizeBits - 12),
    nrMemSections,
    page,
    order,
    hugetlb,
    bits,
    types,
    freeAreaLength,
    hasBuddyTest: types.buddy !== undefined,
  };
}

/** The order and hugetlb marker of a compound page moved with 6.3, 6.6 and 6.9 (doc §3.4): follow what VMCOREINFO exports. */
function compoundLayout(
  vi: Map<string, string>,
  pageStructSize: number,
  kernel: KernelVersion | undefined,
  int32: (name: string) => number | undefined,
  bit: (name: string) => number | undefined,
): { order: CompoundOrderSource; hugetlb: HugetlbTest } {
  const hugetlbValue = int32('PAGE_HUGETLB_MAPCOUNT_VALUE');
  if (hugetlbValue !== undefined) return { order: { kind: 'flags1' }, hugetlb: { kind: 'mapcount', value: hugetlbValue } };
  const hugetlbBit = bit('PG_hugetlb');
  if (hugetlbBit !== undefined) return { order: { kind: 'flags1' }, hugetlb: { kind: 'flag', bit: hugetlbBit } };
  const width: 1 | 2 = kernel && (kernel.major < 4 || (kernel.major === 4 && kernel.minor < 16)) ? 2 : 1;
  const tailOffset = (folioKey: string, pageKey: string): number | undefined => {
    const folio = parseUnsigned(vi, folioKey);
    if (folio !== undefined) return folio >= pageStructSize ? folio - pageStructSize : undefined;
    return parseUnsigned(vi, pageKey);
  };
  const inside = (off: number | undefined) => (off !== undefined && off > 0 && off + width <= pageStructSize ? off : undefined);
  const orderOffset = inside(tailOffset('OFFSET(folio._folio_order)', 'OFFSET(page.compound_order)'));
  const dtorOffset = inside(tailOffset('OFFSET(folio._folio_dtor)', 'OFFSET(page.compound_dtor)'));
  const dtorValue = parseNumber(vi, 'NUMBER(HUGETLB_PAGE_DTOR)');
  return {
    order: orderOffset !== undefined ? { kind: 'field', offset: orderOffset, width } : { kind: 'none' },
    hugetlb:
      dtorOffset !== undefined && dtorValue !== undefined
        ? { kind: 'dtor', offset: dtorOffset, width, value: Number(BigInt.asUintN(16, dtorValue)) }
        : { kind: 'none' },
  };
}

/** makedumpfile's fallback: the first PT_LOAD in the kernel-text mapping gives paddr − (vaddr − __START_KERNEL_map). */
function physBaseFromKernelText(phdrs: ProgramHeaderTable): bigint {
  const text = phdrs.find((ph) => ph.type === PT_LOAD && ph.vaddr >= X86_64_START_KERNEL_MAP && ph.vaddr !== U64);
  if (!text) throw new Missing('a dump whose VMCOREINFO lacks NUMBER(phys_base) and which has no kernel-text PT_LOAD');
  return text.paddr - (text.vaddr - X86_64_START_KERNEL_MAP);
}

export function parseKernelVersion(osRelease: string | undefined): KernelVersion | undefined {
  const m = /^(\d+)\.(\d+)/.exec(osRelease ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** SYMBOL(x): the kernel prints %lx, with no 0x. */
function parseSymbol(vi: Map<string, string>, key: string): bigint | undefined {
  const raw = vi.get(key)?.trim();
  if (raw === undefined) return undefined;
  const m = /^(?:0x)?([0-9a-f]{1,16})$/i.exec(raw);
  if (!m) throw new Missing(`a VMCOREINFO whose ${key} is not a hexadecimal address ("${raw.slice(0, 40)}")`);
  return BigInt(`0x${m[1]}`);
}

/** NUMBER(x): %ld, so signed decimal (phys_base may be negative); a few kernels print hex. */
function parseNumber(vi: Map<string, string>, key: string): bigint | undefined {
  const raw = vi.get(key)?.trim();
  if (raw === undefined) return undefined;
  if (/^-?\d{1,20}$/.test(raw)) return BigInt.asIntN(64, BigInt(raw));
  if (/^0x[0-9a-f]{1,16}$/i.test(raw)) return BigInt.asIntN(64, BigInt(raw));
  throw new Missing(`a VMCOREINFO whose ${key} is not a number ("${raw.slice(0, 40)}")`);
}

/** SIZE/OFFSET/LENGTH and PAGESIZE: %lu; anything past 2^31 is implausible for what they describe. */
function parseUnsigned(vi: Map<string, string>, key: string): number | undefined {
  const raw = vi.get(key)?.trim();
  if (raw === undefined) return undefined;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0x7fffffff) throw new Missing(`a VMCOREINFO whose ${key} is not a plausible size ("${raw.slice(0, 40)}")`);
  return Number(raw);
}

function toSmall(v: bigint): number {
  return v < -1000n || v > 1000n ? -1 : Number(v);
}
