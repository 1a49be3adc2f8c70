// x86_64 page-table walks against a model (4- and 5-level, 4 KiB, 2 MiB and 1 GiB pages, sme_mask), and layout variants.

import test from 'ava';
import fc from 'fast-check';
import { BadInputError } from '../src/errors.js';
import { PT_LOAD } from '../src/elf/constants.js';
import { createPageClassifier } from '../src/mm/index.js';
import { createPageTableWalker, isMapping } from '../src/mm/x86-64-pagetable.js';
import { PageTableBuilder, SparsePhys, SyntheticMm, type MapSize, type SyntheticMmOptions } from './helpers/synthetic-mm.js';

const SIZE: Record<MapSize, bigint> = { '4k': 1n << 12n, '2m': 1n << 21n, '1g': 1n << 30n };
const VA_BASE = 0xfe00000000000000n;

const mappingArb = fc.record({
  size: fc.constantFrom<MapSize>('4k', '2m', '1g'),
  slot: fc.nat(511),
  frame: fc.bigInt({ min: 0n, max: (1n << 46n) - 1n }),
  probe: fc.bigInt({ min: 0n, max: (1n << 30n) - 1n }),
});

test('translations equal a model of the mappings, with sme_mask stripped and spans to the end of each page', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom<4 | 5>(4, 5),
      fc.constantFrom(0n, 1n << 47n, 1n << 51n),
      fc.uniqueArray(fc.nat((1 << 26) - 1), { minLength: 1, maxLength: 12 }),
      fc.array(mappingArb, { minLength: 12, maxLength: 12 }),
      (levels, sme, regions, maps) => {
        const mem = new SparsePhys(64 << 20);
        const b = new PageTableBuilder(mem, levels, sme);
        const model: { va: bigint; pa: bigint; size: bigint; probe: bigint }[] = [];
        regions.forEach((r, i) => {
          const m = maps[i];
          const size = SIZE[m.size];
          const region = VA_BASE + (BigInt(r) << 30n);
          const va = m.size === '1g' ? region : region + BigInt(m.slot) * size;
          const pa = (m.frame / size) * size;
          b.map(va, pa, m.size);
          model.push({ va, pa, size, probe: m.probe % size });
        });
        const walker = createPageTableWalker(BigInt(b.pgd), levels, sme, mem.read);
        for (const m of model) {
          const got = walker.translate(m.va + m.probe);
          t.true(isMapping(got));
          if (!isMapping(got)) return;
          t.is(got.paddr, m.pa + m.probe);
          t.is(got.span, Number(m.size - m.probe));
          if (m.size !== SIZE['1g']) {
            const neighbour = m.va + m.size < ((m.va >> 30n) + 1n) << 30n ? m.va + m.size : m.va - m.size;
            t.false(isMapping(walker.translate(neighbour)), 'the next slot of the same table is not mapped');
          }
        }
      },
    ),
    { numRuns: 80 },
  );
});

test('cyclic page tables are refused with one line, and never loop', (t) => {
  const mem = new SparsePhys(16 << 20);
  const b = new PageTableBuilder(mem, 4);
  b.rawEntry(b.pgd, 300, BigInt(b.pgd) | 0x63n); // PGD entry 300 points at the PGD itself
  const walker = createPageTableWalker(BigInt(b.pgd), 4, 0n, mem.read);
  const err = t.throws(() => walker.translate(0xffff960000000000n), { instanceOf: BadInputError });
  t.regex(err!.message, /^page tables: the PGD entry for 0xffff960000000000 points back to the table at 0x400000 \(cyclic page tables\)$/);
});

const variants: [string, SyntheticMmOptions][] = [
  ['4-level, 2 MiB vmemmap, negative phys_base', {}],
  ['5-level', { levels: 5 }],
  ['sme_mask in every entry', { smeMask: 1n << 47n }],
  ['1 GiB vmemmap page', { vmemmapMap: '1g' }],
  ['4 KiB vmemmap pages', { vmemmapMap: '4k' }],
  ['positive phys_base', { physBase: 0x3000000n }],
  ['SYMBOL(mem_section) names a pointer (dereferenced once)', { memSectionPointer: true }],
];

for (const [name, opts] of variants) {
  test(`layout variant: ${name}`, (t) => {
    const mm = new SyntheticMm(opts);
    mm.setPage(300, { mapcount: -129, private: 1n });
    mm.setPage(700, { flags: 1n << 23n });
    mm.setPage(3000, { flags: 1n << 4n });
    const c = createPageClassifier(mm.input());
    if ('unavailable' in c) throw new Error(c.unavailable);
    const r = c.classifyCycle(0, mm.ramPages, 31);
    t.like(r.counts, { free: 2, hwpoison: 1, cache: 1, unclassified: 0, kept: mm.ramPages - 4 });
    t.deepEqual(r.poisoned, [{ start: 700, end: 701 }]);
  });
}

test('without NUMBER(phys_base), the kernel-text PT_LOAD gives it', (t) => {
  const physBase = -0x11000000n;
  const mm = new SyntheticMm({ physBase, vmcoreinfo: { 'NUMBER(phys_base)': undefined } });
  // The mce fixture's kernel-text segment: vaddr 0xffffffff9b800000 at paddr 0xa800000 (here without file data).
  mm.phdrs.unshift({ type: PT_LOAD, flags: 7, offset: 0n, vaddr: 0xffffffff9b800000n, paddr: 0xa800000n, filesz: 0n, memsz: 0n, align: 0n });
  mm.setPage(700, { flags: 1n << 23n });
  const c = createPageClassifier(mm.input());
  if ('unavailable' in c) throw new Error(c.unavailable);
  t.is(c.info.physBase, BigInt.asUintN(64, physBase));
  t.deepEqual(c.classifyCycle(0, mm.ramPages, 0).poisoned, [{ start: 700, end: 701 }]);
});
