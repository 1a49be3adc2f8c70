// x86_64 virtual-to-physical translation through the dump's own page tables (4- and 5-level, 2 MiB and 1 GiB pages).

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { PhysRead } from './mm-info.js';

const PRESENT = 1n;
const PSE = 0x80n;
const ADDRESS_BITS = 0x000ffffffffff000n;
const TABLE_BYTES = 4096;
/** Page-table pages kept at once: the walks of a cycle touch a handful; beyond this the cache starts over. */
const MAX_CACHED_TABLES = 1024;

export interface Mapping {
  paddr: bigint;
  /** Bytes from paddr to the end of the page (4 KiB, 2 MiB or 1 GiB) that maps it. */
  span: number;
}

/** Why a translation failed: an entry without _PAGE_PRESENT, or a table the dump cannot give. */
export interface NoMapping {
  failure: 'not-present' | 'unreadable';
  /** Physical address of the table or entry involved. */
  where: bigint;
  level: string;
}

export type Translation = Mapping | NoMapping;

export function isMapping(t: Translation): t is Mapping {
  return (t as Mapping).span !== undefined;
}

export interface PageTableWalker {
  translate(vaddr: bigint): Translation;
}

const LEVEL_NAMES_4 = ['PGD', 'PUD', 'PMD', 'PTE'];
const LEVEL_NAMES_5 = ['PGD', 'P4D', 'PUD', 'PMD', 'PTE'];

/**
 * A walk has a fixed depth, so it always ends. A table that reappears deeper in the same walk (cyclic tables) is
 * refused: real kernels never map a table into itself, and following one would read page tables as data.
 */
export function createPageTableWalker(pgdPaddr: bigint, levels: 4 | 5, smeMask: bigint, read: PhysRead): PageTableWalker {
  const entryMask = ADDRESS_BITS & ~smeMask;
  const names = levels === 5 ? LEVEL_NAMES_5 : LEVEL_NAMES_4;
  const tables = new Map<bigint, BigUint64Array | null>();
  let last: { base: bigint; end: bigint; paddr: bigint } | undefined;

  function table(paddr: bigint): BigUint64Array | null {
    let t = tables.get(paddr);
    if (t !== undefined) return t;
    if (tables.size >= MAX_CACHED_TABLES) tables.clear();
    const buf = read(paddr, TABLE_BYTES);
    if (buf && buf.length >= TABLE_BYTES) {
      t = new BigUint64Array(512);
      new Uint8Array(t.buffer).set(buf.subarray(0, TABLE_BYTES));
    } else t = null;
    tables.set(paddr, t); // a refused table is remembered, never asked for again
    return t;
  }

  return {
    translate(vaddr) {
      if (last && vaddr >= last.base && vaddr < last.end) return { paddr: last.paddr + (vaddr - last.base), span: Number(last.end - vaddr) };
      const seen: bigint[] = [];
      let tablePaddr = pgdPaddr;
      for (let level = 0; level < levels; level++) {
        const shift = BigInt(12 + 9 * (levels - 1 - level));
        if (seen.includes(tablePaddr)) {
          throw new BadInputError(`page tables: the ${names[level - 1]} entry for ${hex(vaddr)} points back to the table at ${hex(tablePaddr)} (cyclic page tables)`);
        }
        seen.push(tablePaddr);
        const t = table(tablePaddr);
        const index = Number((vaddr >> shift) & 511n);
        if (!t) return { failure: 'unreadable', where: tablePaddr, level: names[level] };
        const entry = t[index];
        if ((entry & PRESENT) === 0n) return { failure: 'not-present', where: tablePaddr + BigInt(index * 8), level: names[level] };
        const next = entry & entryMask;
        const leaf = level === levels - 1 || ((entry & PSE) !== 0n && shift <= 30n && shift >= 21n);
        if (leaf) {
          const size = 1n << shift;
          const base = vaddr & ~(size - 1n);
          const frame = next & ~(size - 1n);
          last = { base: BigInt.asUintN(64, base), end: BigInt.asUintN(64, base + size), paddr: frame };
          return { paddr: frame + (vaddr - base), span: Number(base + size - vaddr) };
        }
        tablePaddr = next;
      }
      /* c8 ignore next */
      throw new Error('unreachable: the walk always ends at its last level');
    },
  };
}
