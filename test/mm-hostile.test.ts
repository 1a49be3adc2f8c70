// Hostile and damaged memory models: one-line BadInputErrors, bounded work, and a PhysRead that refuses pages.

import test from 'ava';
import { BadInputError } from '../src/errors.js';
import { createPageClassifier, type PageClassifier, type PhysRead } from '../src/mm/index.js';
import { STRUCT_PAGE_PHYS, SyntheticMm, VMEMMAP_BASE } from './helpers/synthetic-mm.js';

const MEM_SECTION_PAGE = (6 << 20) + 4096;

function classifier(mm: SyntheticMm, read?: PhysRead): PageClassifier {
  const c = createPageClassifier(mm.input(read));
  if ('unavailable' in c) throw new Error(c.unavailable);
  return c;
}

function oneLine(t: { true(v: boolean, m?: string): void }, err: Error | undefined): void {
  t.true(err !== undefined && !err.message.includes('\n'), err?.message);
}

test('a PT_LOAD beyond MAX_PHYSMEM_BITS is refused before any section is read', (t) => {
  const mm = new SyntheticMm();
  mm.phdrs[0] = { ...mm.phdrs[0], memsz: 1n << 50n };
  let reads = 0;
  const err = t.throws(() => createPageClassifier(mm.input((p, l) => (reads++, mm.mem.read(p, l)))), { instanceOf: BadInputError });
  t.regex(err!.message, /needs 1073741824 sections, more than the 67108864 MAX_PHYSMEM_BITS 46 allows/);
  oneLine(t, err);
  t.is(reads, 0);
});

test('no section table validates, neither as the root array nor after one dereference', (t) => {
  const mm = new SyntheticMm();
  for (let nr = 0; nr < 16; nr++) mm.mem.writeU64(MEM_SECTION_PAGE + nr * 32, 0x1000n | 1n); // mem_map below PAGE_OFFSET
  const err = t.throws(() => createPageClassifier(mm.input()), { instanceOf: BadInputError });
  t.regex(err!.message, /^VMCOREINFO: SYMBOL\(mem_section\) 0x[0-9a-f]+ gives no valid section table/);
  oneLine(t, err);
});

test('a present section whose mem_map does not translate at all', (t) => {
  const mm = new SyntheticMm();
  mm.mem.writeU64(MEM_SECTION_PAGE + 3 * 32, 0xffffeb0000000000n | 7n); // unmapped vmemmap
  const c = classifier(mm);
  const err = t.throws(() => c.classifyCycle(0, mm.ramPages, 31), { instanceOf: BadInputError });
  t.regex(err!.message, /^mem_map: section 3 \(pfns 0x300-0x3ff\) is present, but its struct pages at 0x[0-9a-f]+ do not translate to any PT_LOAD's file data$/);
});

test("a section whose struct pages lie outside every segment's file data", (t) => {
  const mm = new SyntheticMm();
  const va = VMEMMAP_BASE + (1n << 30n);
  mm.tables.map(va, 1n << 32n, '2m'); // translates, but to 4 GiB: far past the 16 MiB of RAM
  mm.mem.writeU64(MEM_SECTION_PAGE + 5 * 32, (va - 5n * 256n * 64n) | 7n);
  const err = t.throws(() => classifier(mm).classifyCycle(0, mm.ramPages, 0), { instanceOf: BadInputError });
  t.regex(err!.message, /^mem_map: section 5 /);
});

test('cyclic page tables under the vmemmap: one line, no hang', (t) => {
  const mm = new SyntheticMm();
  const pgdIndex = Number((VMEMMAP_BASE >> 39n) & 511n);
  mm.tables.rawEntry(mm.tables.pgd, pgdIndex, BigInt(mm.tables.pgd) | 0x63n);
  const c = classifier(mm);
  const err = t.throws(() => c.classifyCycle(0, mm.ramPages, 31), { instanceOf: BadInputError });
  t.regex(err!.message, /cyclic page tables/);
  oneLine(t, err);
});

test('struct pages the PhysRead refuses: their pfns stay dumpable, count as unclassified, and are never asked for again', (t) => {
  const mm = new SyntheticMm();
  for (let pfn = 128; pfn < 192; pfn++) mm.setPage(pfn, { mapcount: -129, private: 0n }); // free, if it could be read
  mm.setPage(130, { flags: 1n << 23n });
  mm.setPage(200, { mapcount: -129, private: 0n });
  const bad = BigInt(STRUCT_PAGE_PHYS + 128 * 64); // the 4 KiB page holding struct pages 128..191
  const asked: [bigint, number][] = [];
  const read: PhysRead = (paddr, length) => {
    asked.push([paddr, length]);
    return paddr < bad + 4096n && paddr + BigInt(length) > bad ? undefined : mm.mem.read(paddr, length);
  };
  const c = classifier(mm, read);
  const touching = () => asked.filter(([p, l]) => p < bad + 4096n && p + BigInt(l) > bad);
  for (const pass of [1, 2]) {
    const before = touching().length;
    const r = c.classifyCycle(0, mm.ramPages, 31);
    t.deepEqual(r.unreadable, [{ start: 128, end: 192 }]);
    t.is(r.counts.unclassified, 64);
    t.is(r.counts.free, 1);
    t.deepEqual(r.poisoned, []);
    for (let pfn = 128; pfn < 192; pfn++) t.true((r.dumpable[pfn >> 3] & (1 << (pfn & 7))) !== 0);
    const alone = touching().slice(before).filter(([p, l]) => p === bad && l === 4096);
    // First pass: once inside its window, then once alone; afterwards never again.
    t.is(touching().length - before, pass === 1 ? 2 : 0, `pass ${pass}`);
    t.is(alone.length, pass === 1 ? 1 : 0);
  }
});

test('a cycle that is not one is refused; the dump level must be 0..31', (t) => {
  const mm = new SyntheticMm();
  const c = classifier(mm);
  t.throws(() => c.classifyCycle(1, 100, 0), { instanceOf: RangeError });
  t.throws(() => c.classifyCycle(0, mm.ramPages + 1, 0), { instanceOf: RangeError });
  t.throws(() => c.classifyCycle(0, mm.ramPages, 32));
});

const bit = (b: Uint8Array, i: number) => (b[i >> 3] & (1 << (i & 7))) !== 0;

test('a partial page at the end of a segment is a hole; pages past p_filesz are not dumpable', (t) => {
  const mm = new SyntheticMm();
  const ram = BigInt(mm.ramPages * 4096);
  mm.phdrs[0] = { ...mm.phdrs[0], filesz: ram - 0x3000n, memsz: ram - 0x400n };
  const c = classifier(mm);
  t.is(c.segmentsMaxMapnr, mm.ramPages);
  const r = c.classifyCycle(0, mm.ramPages, 0);
  t.deepEqual([0xffc, 0xffd, 0xffe, 0xfff].map((p) => bit(r.present, p)), [true, true, true, false]);
  t.deepEqual([0xffc, 0xffd, 0xffe, 0xfff].map((p) => bit(r.dumpable, p)), [true, false, false, false]);
});

test('memory above the last section with a mem_map is left out even at -d 0 (the mem= case), as makedumpfile does', (t) => {
  const mm = new SyntheticMm();
  mm.phdrs.push({ type: 1, flags: 7, offset: 0n, vaddr: 0xffff888001000000n, paddr: 0x1000000n, filesz: 0x4000n, memsz: 0x4000n, align: 0n });
  const c = classifier(mm);
  t.is(c.segmentsMaxMapnr, 0x1004);
  t.is(c.maxMapnr, mm.ramPages);
  const r = c.classifyCycle(0, c.segmentsMaxMapnr, 0);
  t.true(bit(r.present, 0x1000));
  t.false(bit(r.dumpable, 0x1000));
  t.true(bit(r.dumpable, 0xfff));
});
