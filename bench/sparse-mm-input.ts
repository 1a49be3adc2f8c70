// Benchmark input: a sparse ELF vmcore of a large x86_64 machine whose page tables, mem_section and struct pages are real.

import { closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { makeSyntheticVmcore } from '../test/helpers/synthetic-vmcore.js';
import { PAGE_OFFSET, STRUCT_PAGE_SIZE, SyntheticMm } from '../test/helpers/synthetic-mm.js';

const PAGE = 4096;
// ELF64 little-endian fields, as the generator writes them.
const E_PHOFF = 0x20;
const P_OFFSET = 8;
const P_FILESZ = 32;
const P_MEMSZ = 40;
/** makedumpfile's largest buddy block (MAX_ORDER 11 on 6.1): 1024 pages per free struct page head. */
export const FREE_ORDER = 10;
/** The first pages (page tables at 4 MiB, mem_section at 6 MiB) are in use, so -d 31 keeps and zero-checks them. */
export const IN_USE_PAGES = 4096;
const PAGE_BUDDY_MAPCOUNT_VALUE = -129;

export interface SparseMmInput {
  ramBytes: number;
  /** File bytes actually written: headers, notes, page tables, mem_section and the free blocks' head struct pages. */
  writtenBytes: number;
  freeHeads: number;
}

/**
 * One PT_LOAD of `ramPages` pages at physical 0, its data a hole but for the memory model: the direct map (1 GiB
 * pages) and the vmemmap (2 MiB pages) in page tables reached from init_top_pgt, a SPARSEMEM_EXTREME mem_section table (128 MiB sections,
 * all present), and from pfn IN_USE_PAGES on one order-10 buddy head per 1024 pages (_mapcount -129, private 10).
 * Every other struct page is all zeros (flags 0, no mapping, _mapcount 0): not free, not cache, not user data, so
 * -d 31 keeps such pages and reads them for the zero-page test; only the first IN_USE_PAGES are like that here.
 */
export function writeSparseMmInput(path: string, ramPages: number): SparseMmInput {
  const mm = new SyntheticMm({ ramPages, sectionSizeBits: 27, directMapMap: '1g' });
  const vmcoreinfo = [...mm.vmcoreinfo].map(([k, v]) => `${k}=${v}`).join('\n') + '\nCRASHTIME=1795690541\nKERNELOFFSET=0\n';
  const probe = makeSyntheticVmcore({ cpus: 4, vmcoreinfo, segments: [{ paddr: 0n, vaddr: PAGE_OFFSET, size: 0 }] });
  const prefix = probe.bytes;
  const dataStart = Math.ceil(prefix.length / PAGE) * PAGE;
  const ramBytes = ramPages * PAGE;
  const loadAt = Number(prefix.readBigUInt64LE(E_PHOFF)) + 56; // program header 1: header 0 is the PT_NOTE
  prefix.writeBigUInt64LE(BigInt(dataStart), loadAt + P_OFFSET);
  prefix.writeBigUInt64LE(BigInt(ramBytes), loadAt + P_FILESZ);
  prefix.writeBigUInt64LE(BigInt(ramBytes), loadAt + P_MEMSZ);
  const fd = openSync(path, 'w');
  let writtenBytes = 0;
  try {
    writtenBytes += writeSync(fd, prefix, 0, prefix.length, 0);
    for (const [n, page] of mm.mem.pages) writtenBytes += writeSync(fd, page, 0, PAGE, dataStart + n * PAGE);
    const head = Buffer.alloc(STRUCT_PAGE_SIZE);
    head.writeBigUInt64LE(BigInt(FREE_ORDER), 40); // private: the order
    head.writeInt32LE(PAGE_BUDDY_MAPCOUNT_VALUE, 48);
    let freeHeads = 0;
    for (let pfn = IN_USE_PAGES; pfn + (1 << FREE_ORDER) <= ramPages; pfn += 1 << FREE_ORDER) {
      writtenBytes += writeSync(fd, head, 0, head.length, dataStart + mm.structPagePhys(pfn));
      freeHeads++;
    }
    ftruncateSync(fd, dataStart + ramBytes);
    return { ramBytes, writtenBytes, freeHeads };
  } finally {
    closeSync(fd);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, gib] = process.argv.slice(2);
  const t0 = performance.now();
  const made = writeSparseMmInput(path, Number(gib) * (1 << 18));
  console.log(`${path}: ${made.ramBytes / 2 ** 30} GiB of RAM, ${made.freeHeads} free block heads, ${made.writtenBytes} bytes written, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
