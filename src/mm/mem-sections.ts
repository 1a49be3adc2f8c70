// SPARSEMEM_EXTREME decoding: which sections have a mem_map, and the virtual address of each one's struct pages.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { MmInfo, PhysRead } from './mm-info.js';
import { isMapping, type PageTableWalker } from './x86-64-pagetable.js';

const SECTION_MARKED_PRESENT = 1n;
/** makedumpfile always masks with SECTION_MAP_LAST_BIT = 1 << 5, whatever the kernel. */
const SECTION_MAP_MASK = ~0x1fn;
/** Sections decoded at most: 2^22 sections of 128 MiB is 512 TiB of file-backed memory. */
export const MAX_SECTIONS_CONSIDERED = 1 << 22;
/** The root pointers read at once: 2 MiB with 5-level paging's 52 physical bits; real kernels need far less. */
const MAX_ROOT_ARRAY_BYTES = 16 << 20;

export interface SectionMap {
  pagesPerSection: number;
  /** Present sections in ascending order, and the virtual address of the struct page of each one's first pfn. */
  numbers: Float64Array;
  memMaps: BigUint64Array;
  /** Index into numbers of section nr, or −1 when it has no mem_map. */
  indexOf(nr: number): number;
}

/** Reads `length` bytes at a kernel virtual address, page by page through the walker; undefined when any byte is missing. */
export function readVirtual(walker: PageTableWalker, read: PhysRead, vaddr: bigint, length: number): Buffer | undefined {
  const parts: Buffer[] = [];
  let va = vaddr;
  let left = length;
  while (left > 0) {
    const t = walker.translate(va);
    if (!isMapping(t)) return undefined;
    const take = Math.min(left, t.span);
    const buf = read(t.paddr, take);
    if (!buf || buf.length < take) return undefined;
    parts.push(buf.length === take ? buf : buf.subarray(0, take));
    va += BigInt(take);
    left -= take;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
}

/**
 * Decodes the sections that hold pfns of `sectionRuns` ([first, end) section numbers, ascending, below numSection):
 * only those can be examined. `mem_section` is first taken as the root array itself, then dereferenced once, as
 * makedumpfile does; a present section whose mem_map is below PAGE_OFFSET invalidates the attempt.
 */
export function decodeSections(
  info: MmInfo,
  walker: PageTableWalker,
  read: PhysRead,
  pageOffset: bigint,
  numSection: number,
  sectionRuns: readonly [number, number][],
): SectionMap {
  if (numSection > info.nrMemSections) {
    throw new BadInputError(
      `program headers: memory up to pfn ${hex(numSection * info.pagesPerSection)} needs ${numSection} sections, more than the ${info.nrMemSections} MAX_PHYSMEM_BITS ${info.maxPhysmemBits} allows`,
    );
  }
  const rootBytes = Math.ceil(numSection / info.sectionsPerRoot) * 8;
  if (rootBytes > MAX_ROOT_ARRAY_BYTES) {
    throw new BadInputError(`VMCOREINFO: ${numSection} sections of 2^${info.sectionSizeBits} bytes need a ${rootBytes}-byte mem_section root array, more than the limit of ${MAX_ROOT_ARRAY_BYTES}`);
  }
  let considered = 0;
  for (const [a, b] of sectionRuns) considered += b - a;
  if (considered > MAX_SECTIONS_CONSIDERED) {
    throw new BadInputError(`program headers: ${considered} memory sections hold file data, more than the limit of ${MAX_SECTIONS_CONSIDERED}`);
  }
  const first = attempt(info.memSection);
  if (first !== 'invalid') return first;
  const pointer = readVirtual(walker, read, info.memSection, 8);
  const second = pointer ? attempt(pointer.readBigUInt64LE(0)) : 'invalid';
  if (second !== 'invalid') return second;
  throw new BadInputError(`VMCOREINFO: SYMBOL(mem_section) ${hex(info.memSection)} gives no valid section table, neither as the root array nor after one dereference`);

  function attempt(rootArray: bigint): SectionMap | 'invalid' {
    const rootCount = Math.ceil(numSection / info.sectionsPerRoot);
    const roots = readVirtual(walker, read, rootArray, rootCount * 8);
    if (!roots) return 'invalid';
    const numbers: number[] = [];
    const memMaps: bigint[] = [];
    for (const [a, b] of sectionRuns) {
      for (let nr = a; nr < b; nr++) {
        const root = roots.readBigUInt64LE(Math.floor(nr / info.sectionsPerRoot) * 8);
        if (root === 0n) continue;
        const section = BigInt.asUintN(64, root + BigInt((nr % info.sectionsPerRoot) * info.memSectionSize));
        if (section < pageOffset) continue;
        const raw = readVirtual(walker, read, section + BigInt(info.sectionMemMapOffset), 8);
        if (!raw) continue;
        const coded = raw.readBigUInt64LE(0);
        if ((coded & SECTION_MARKED_PRESENT) === 0n) continue;
        const memMap = BigInt.asUintN(64, (coded & SECTION_MAP_MASK) + BigInt(nr) * BigInt(info.pagesPerSection * info.page.size));
        if (memMap < pageOffset) return 'invalid';
        numbers.push(nr);
        memMaps.push(memMap);
      }
    }
    if (numbers.length === 0) return 'invalid';
    const nums = Float64Array.from(numbers);
    return {
      pagesPerSection: info.pagesPerSection,
      numbers: nums,
      memMaps: BigUint64Array.from(memMaps),
      indexOf(nr: number) {
        let lo = 0;
        let hi = nums.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (nums[mid] === nr) return mid;
          if (nums[mid] < nr) lo = mid + 1;
          else hi = mid - 1;
        }
        return -1;
      },
    };
  }
}
