// The classification chain on synthetic struct pages: each class at each level, and random pages against a plain reference.

import test from 'ava';
import fc from 'fast-check';
import { createPageClassifier, type CycleClassification, type PageClassifier } from '../src/mm/index.js';
import { SyntheticMm, type StructPageFields } from './helpers/synthetic-mm.js';

const LRU = 1n << 4n;
const PRIVATE = 1n << 13n;
const SWAPCACHE = 1n << 10n;
const SWAPBACKED = 1n << 19n;
const SLAB = 1n << 9n;
const HWPOISON = 1n << 23n;
const HEAD = 1n << 16n;
const BUDDY = -129;
const OFFLINE = -257;

function classifier(mm: SyntheticMm): PageClassifier {
  const c = createPageClassifier(mm.input());
  if ('unavailable' in c) throw new Error(c.unavailable);
  return c;
}

const bit = (b: Uint8Array, i: number) => (b[i >> 3] & (1 << (i & 7))) !== 0;
const kept = (c: CycleClassification, pfns: number[]) => pfns.filter((p) => bit(c.dumpable, p));

test('each class is left out at its own level; hwpoison and offline at every level', (t) => {
  const mm = new SyntheticMm();
  mm.setPage(16, { mapcount: BUDDY, private: 2n }); // free block 16..19
  mm.setPage(100, { flags: LRU });
  mm.setPage(101, { flags: LRU | PRIVATE });
  mm.setPage(102, { flags: SWAPCACHE | SWAPBACKED });
  mm.setPage(103, { mapping: 0xffff888000001001n });
  mm.setPage(104, { flags: HWPOISON });
  mm.setPage(105, { mapcount: OFFLINE });
  mm.setPage(106, { flags: SLAB, mapcount: BUDDY, private: 0n }); // slab is never free
  mm.setPage(107, { flags: LRU, mapping: 0xffff888000001001n }); // anonymous LRU page: user, not cache
  mm.setPage(108, { mapcount: BUDDY, private: 11n }); // order past LENGTH(zone.free_area): kept
  const c = classifier(mm);
  const all = [16, 17, 18, 19, 100, 101, 102, 103, 104, 105, 106, 107, 108];
  const keptAt = (level: number) => kept(c.classifyCycle(0, mm.ramPages, level), all);
  t.deepEqual(keptAt(0), [16, 17, 18, 19, 100, 101, 102, 103, 106, 107, 108]);
  t.deepEqual(keptAt(2), [16, 17, 18, 19, 101, 103, 106, 107, 108]);
  t.deepEqual(keptAt(4), [16, 17, 18, 19, 103, 106, 107, 108]);
  t.deepEqual(keptAt(8), [16, 17, 18, 19, 100, 101, 102, 106, 108]);
  t.deepEqual(keptAt(16), [100, 101, 102, 103, 106, 107, 108]);
  const r31 = c.classifyCycle(0, mm.ramPages, 31);
  t.deepEqual(kept(r31, all), [106, 108]);
  t.like(r31.counts, { free: 4, cache: 2, cachePrivate: 1, user: 2, hwpoison: 1, offline: 1, unclassified: 0, invalidFreeOrder: 1 });
  t.is(r31.counts.kept, mm.ramPages - 11);
  t.deepEqual(r31.poisoned, [{ start: 104, end: 105 }]);
  t.deepEqual(r31.offline, [{ start: 105, end: 106 }]);
});

test('compound pages: an excluded head drops its block; a poisoned tail of a kept head is dropped (unlike makedumpfile)', (t) => {
  const mm = new SyntheticMm();
  mm.setCompound(200, 3, { mapping: 0xffff888000002001n }); // anonymous THP 200..207
  mm.setCompound(256, 4, {}, 2); // hugetlb (dtor 2) 256..271
  mm.setCompound(512, 2, { flags: HWPOISON }); // poisoned head: block 512..515
  mm.setCompound(640, 3, { flags: SLAB }, 0, (i) => (i === 5 ? HWPOISON : 0n)); // kept slab head, poisoned tail 645
  mm.setCompound(1023, 1, {}); // head at index 511 of a 512 window: order 0, as in makedumpfile
  const c = classifier(mm);
  const at8 = c.classifyCycle(0, mm.ramPages, 8);
  t.deepEqual(kept(at8, [199, 200, 207, 208, 255, 256, 271, 272]), [199, 208, 255, 272]);
  t.like(at8.counts, { user: 8 + 16, hwpoison: 4 + 1 });
  const at0 = c.classifyCycle(0, mm.ramPages, 0);
  t.deepEqual(kept(at0, [200, 256, 511, 512, 515, 516, 640, 644, 645, 646]), [200, 256, 511, 516, 640, 644, 646]);
  t.deepEqual(at0.poisoned, [
    { start: 512, end: 516 },
    { start: 645, end: 646 },
  ]);
});

test('a free block hides nothing: a poisoned page inside it is still reported at -d 16', (t) => {
  const mm = new SyntheticMm();
  mm.setPage(64, { mapcount: BUDDY, private: 3n });
  mm.setPage(69, { flags: HWPOISON });
  const c = classifier(mm);
  for (const level of [0, 16, 31]) t.deepEqual(c.classifyCycle(0, mm.ramPages, level).poisoned, [{ start: 69, end: 70 }], `-d ${level}`);
  t.false(bit(c.classifyCycle(0, mm.ramPages, 0).dumpable, 69));
});

test('without PG_hwpoison and with no exclusion bit, the walk does not run', (t) => {
  const mm = new SyntheticMm({ vmcoreinfo: { 'NUMBER(PG_hwpoison)': undefined } });
  mm.setPage(105, { mapcount: OFFLINE });
  const c = classifier(mm);
  const r = c.classifyCycle(0, mm.ramPages, 1);
  t.false(r.walked);
  t.true(bit(r.dumpable, 105));
  t.true(c.classifyCycle(0, mm.ramPages, 2).walked);
});

// A plain, page-at-a-time reading of doc §3.2 with slim-core's two differences (tail poison, poison in skipped blocks).
function reference(pages: Map<number, StructPageFields>, n: number, pps: number, level: number) {
  const dumpable = new Array<boolean>(n).fill(true);
  const poisoned = new Set<number>();
  const get = (p: number) => pages.get(p) ?? {};
  const has = (f: StructPageFields, m: bigint) => ((f.flags ?? 0n) & m) !== 0n;
  let skipUntil = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    if (pfn % pps === 0) skipUntil = 0;
    const f = get(pfn);
    const hw = has(f, HWPOISON);
    if (pfn < skipUntil) {
      if (hw) poisoned.add(pfn);
      continue;
    }
    if (((f.compoundHead ?? 0n) & 1n) !== 0n) {
      if (hw) {
        dumpable[pfn] = false;
        poisoned.add(pfn);
      }
      continue;
    }
    const mc = f.mapcount ?? -1;
    const slab = has(f, SLAB);
    let order = 0;
    let huge = false;
    if (has(f, HEAD) && pfn % 512 !== 511 && pfn + 1 < n && (pfn + 1) % pps !== 0) {
      const tail = get(pfn + 1);
      order = tail.order ?? 0;
      huge = (tail.dtor ?? 0) === 2;
      if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
    }
    const anon = ((f.mapping ?? 0n) & 1n) !== 0n && !slab;
    const cache = has(f, LRU) || (has(f, SWAPBACKED) && has(f, SWAPCACHE));
    let drop = 0;
    if (level & 16 && !slab && mc === BUDDY) {
      const priv = f.private ?? 0n;
      if (priv >= 11n) drop = hw ? 1 : 0;
      else drop = 2 ** Number(priv);
    } else if (level & 2 && cache && !has(f, PRIVATE) && !anon) drop = 2 ** order;
    else if (level & 4 && cache && !anon) drop = 2 ** order;
    else if (level & 8 && (anon || huge)) drop = 2 ** order;
    else if (hw) drop = 2 ** order;
    else if (!slab && mc === OFFLINE) drop = 2 ** order;
    if (drop === 0) continue;
    for (let p = pfn; p < Math.min(pfn + drop, n); p++) {
      dumpable[p] = false;
      if (hw) poisoned.add(p);
    }
    if (drop > 1) skipUntil = pfn + drop;
  }
  return { dumpable, poisoned: [...poisoned].sort((a, b) => a - b) };
}

const flagsArb = fc
  .subarray([LRU, PRIVATE, SWAPCACHE, SWAPBACKED, SLAB, HWPOISON, HEAD])
  .map((bits) => bits.reduce((a, b) => a | b, 0n));
const pageArb: fc.Arbitrary<StructPageFields> = fc.record({
  flags: flagsArb,
  compoundHead: fc.constantFrom(0n, 0n, 0n, 0xffffea0000800001n),
  dtor: fc.constantFrom(0, 2, 2, 1),
  order: fc.constantFrom(0, 1, 2, 3, 9, 10, 70),
  mapping: fc.constantFrom(0n, 0n, 0xffff888000001001n, 0xffff888000001003n, 0xffff888000001002n),
  private: fc.constantFrom(0n, 1n, 3n, 10n, 11n, 1n << 40n),
  mapcount: fc.constantFrom(-1, 0, BUDDY, OFFLINE, BUDDY, 5),
});

test('random struct pages: the classifier agrees with a page-at-a-time reference at every level', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(4095), pageArb), { maxLength: 300 }), fc.integer({ min: 0, max: 31 }), (entries, level) => {
      const mm = new SyntheticMm();
      const pages = new Map<number, StructPageFields>();
      for (const [pfn, f] of entries) pages.set(pfn, f);
      for (const [pfn, f] of pages) mm.setPage(pfn, f);
      const c = classifier(mm).classifyCycle(0, mm.ramPages, level);
      const ref = reference(pages, mm.ramPages, mm.pagesPerSection, level);
      const ours = Array.from({ length: mm.ramPages }, (_, p) => bit(c.dumpable, p));
      const firstDiff = ours.findIndex((v, p) => v !== ref.dumpable[p]);
      if (firstDiff >= 0) throw new Error(`pfn ${firstDiff}: ours ${ours[firstDiff]}, reference ${ref.dumpable[firstDiff]} at -d ${level}`);
      const ourPoisoned = c.poisoned.flatMap((r) => Array.from({ length: r.end - r.start }, (_, i) => r.start + i));
      t.deepEqual(ourPoisoned, ref.poisoned);
      t.is(c.counts.kept, ref.dumpable.filter(Boolean).length);
    }),
    { numRuns: 60 },
  );
});

test('6.6-style keys: the order is the low byte of the first tail flags, hugetlb is its PG_hugetlb bit', (t) => {
  const mm = new SyntheticMm({ vmcoreinfo: { 'NUMBER(PG_hugetlb)': '22', 'NUMBER(HUGETLB_PAGE_DTOR)': undefined, OSRELEASE: '6.6.0' } });
  mm.setCompound(256, 4, {}, 0, (i) => (i === 1 ? 4n | (1n << 22n) : 0n)); // hugetlb order 4
  mm.setCompound(512, 2, { flags: HWPOISON }, 0, (i) => (i === 1 ? 2n : 0n)); // poisoned head of order 2
  const c = classifier(mm);
  const r8 = c.classifyCycle(0, mm.ramPages, 8);
  t.like(r8.counts, { user: 16, hwpoison: 4 });
  t.deepEqual(kept(r8, [255, 256, 271, 272, 515, 516]), [255, 272, 516]);
  t.deepEqual(kept(c.classifyCycle(0, mm.ramPages, 0), [256, 271]), [256, 271]);
});

test('6.12-style page types: slab, buddy and hugetlb are _mapcount values, and PG_slab is gone', (t) => {
  const SLAB_TYPE = 0xf5 << 24;
  const BUDDY_TYPE = 0xf0 << 24;
  const HUGETLB_TYPE = 0xf4 << 24;
  const mm = new SyntheticMm({
    vmcoreinfo: {
      OSRELEASE: '6.12.9',
      'NUMBER(PG_slab)': undefined,
      'NUMBER(HUGETLB_PAGE_DTOR)': undefined,
      'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)': String(SLAB_TYPE | 0),
      'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)': String(BUDDY_TYPE | 0),
      'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)': String(HUGETLB_TYPE | 0),
      'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)': String((0xf1 << 24) | 0),
    },
  });
  mm.setPage(40, { mapcount: BUDDY_TYPE | 0, private: 1n }); // free 40..41
  mm.setPage(50, { mapcount: SLAB_TYPE | 0, mapping: 0xffff888000001001n }); // slab: never anonymous
  mm.setCompound(256, 3, { mapcount: HUGETLB_TYPE | 0 }, 0, (i) => (i === 1 ? 3n : 0n));
  mm.setPage(60, { mapcount: (0xf1 << 24) | 0 });
  const r = classifier(mm).classifyCycle(0, mm.ramPages, 31);
  t.like(r.counts, { free: 2, user: 8, offline: 1 });
  t.deepEqual(kept(r, [40, 41, 50, 60, 256, 263, 264]), [50, 264]);
  t.deepEqual(r.offline, [{ start: 60, end: 61 }]);
});

test('re-chunked reads: a PhysRead that only serves small pieces gives the same answer', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(4095), pageArb), { maxLength: 200 }), fc.integer({ min: 0, max: 31 }), fc.constantFrom(64, 512, 4096), (entries, level, limit) => {
      const mm = new SyntheticMm();
      for (const [pfn, f] of entries) mm.setPage(pfn, f);
      const whole = classifier(mm).classifyCycle(0, mm.ramPages, level);
      const pieces = createPageClassifier(mm.input((paddr, length) => (length > limit && length !== 4096 ? undefined : mm.mem.read(paddr, length))));
      if ('unavailable' in pieces) throw new Error(pieces.unavailable);
      const small = pieces.classifyCycle(0, mm.ramPages, level);
      t.deepEqual(small.dumpable, whole.dumpable);
      t.deepEqual(small.poisoned, whole.poisoned);
      t.deepEqual(small.counts, whole.counts);
    }),
    { numRuns: 25 },
  );
});
