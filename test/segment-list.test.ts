// Data segments in columns: the list reads back what was put in, sorts and filters as arrays of objects would, and file extents unite overlaps.

import test from 'ava';
import fc from 'fast-check';
import { fileExtents, faultsByExtent } from '../src/dump/file-extents.js';
import { SegmentList, SegmentListBuilder, type DataSegment } from '../src/dump/segment-list.js';
import { physicalExtents } from '../src/sources/pfn-reader.js';

const segmentArb = fc.record({
  index: fc.integer({ min: 0, max: 1 << 17 }),
  inOffset: fc.integer({ min: 0, max: 1 << 20 }),
  size: fc.integer({ min: 1, max: 1 << 14 }),
  paddr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

test('a list built from objects reads them back, by column, by at() and by iteration, past the builder growing', (t) => {
  fc.assert(
    fc.property(fc.array(segmentArb, { maxLength: 70 }), (segs) => {
      const list = SegmentList.from(segs);
      t.is(list.length, segs.length);
      t.deepEqual([...list], segs);
      segs.forEach((s, i) => {
        t.deepEqual(list.at(i), s);
        t.is(list.index(i), s.index);
        t.is(list.inEnd(i), s.inOffset + s.size);
        t.is(list.paddr(i), s.paddr);
      });
      t.is(list.sumOfSizes((n) => n), segs.reduce((n, s) => n + s.size, 0));
    }),
  );
  t.throws(() => SegmentList.EMPTY.at(0), { instanceOf: RangeError });
});

test('sortedByOffset, filter and findIndex agree with the same on an array of objects', (t) => {
  fc.assert(
    fc.property(fc.array(segmentArb, { maxLength: 40 }), fc.integer({ min: 0, max: 3 }), (segs, mod) => {
      const list = SegmentList.from(segs);
      const sorted = [...segs].sort((a, b) => a.inOffset - b.inOffset || a.index - b.index);
      t.deepEqual([...list.sortedByOffset()], sorted);
      const keep = (s: DataSegment) => s.index % 4 !== mod;
      t.deepEqual([...list.filter((i) => keep(list.at(i)))], segs.filter(keep));
      t.is(
        list.findIndex((i) => !keep(list.at(i))),
        segs.findIndex((s) => !keep(s)),
      );
    }),
  );
  const already = SegmentList.from([{ index: 1, inOffset: 0, size: 8, paddr: 0n }, { index: 2, inOffset: 8, size: 8, paddr: 8n }]);
  t.is(already.sortedByOffset(), already, 'a sorted list is not copied');
  t.is(already.filter(() => true), already, 'nor is one that loses nothing');
});

/** The extents as one object per run of overlapping file bytes, with its members: the reference the columns must match. */
function referenceExtents(sorted: readonly DataSegment[]) {
  const out: { extent: DataSegment; members: DataSegment[] }[] = [];
  for (const seg of sorted) {
    const last = out[out.length - 1];
    if (last && seg.inOffset < last.extent.inOffset + last.extent.size) {
      last.members.push(seg);
      last.extent = { ...last.extent, size: Math.max(last.extent.size, seg.inOffset + seg.size - last.extent.inOffset) };
    } else out.push({ extent: seg, members: [seg] });
  }
  return out;
}

test('fileExtents unites segments whose file bytes overlap, and is the list itself when none do', (t) => {
  const small = fc.record({ index: fc.integer({ min: 0, max: 50 }), inOffset: fc.integer({ min: 0, max: 64 }), size: fc.integer({ min: 1, max: 16 }), paddr: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }) });
  fc.assert(
    fc.property(fc.uniqueArray(small, { selector: (s) => s.index, maxLength: 12 }), (segs) => {
      const sorted = SegmentList.from(segs).sortedByOffset();
      const files = fileExtents(sorted);
      const expected = referenceExtents([...sorted]);
      t.deepEqual([...files.extents], expected.map((e) => e.extent));
      for (const { extent, members } of expected) {
        if (members.length === 1) t.false(files.shared.has(extent.index));
        else t.deepEqual(files.shared.get(extent.index), members);
      }
      if (files.shared.size === 0) t.is(files.extents, sorted);
    }),
  );
});

test('faultsByExtent shifts the offsets of each member into its extent and unites them', (t) => {
  const sorted = SegmentList.from([
    { index: 1, inOffset: 0x1000, size: 0x3000, paddr: 0x10000n },
    { index: 2, inOffset: 0x2000, size: 0x3000, paddr: 0x90000n },
    { index: 3, inOffset: 0x8000, size: 0x1000, paddr: 0x20000n },
  ]);
  const files = fileExtents(sorted);
  const bySegment = new Map([
    [1, Float64Array.from([0x1000, 0x2000])],
    [2, Float64Array.from([0x0, 0x1000, 0x2000, 0x3000])],
    [3, Float64Array.from([0, 0x1000])],
  ]);
  const skip = faultsByExtent(files, bySegment);
  t.deepEqual([...skip.get(1)!], [0x1000, 0x2000, 0x3000, 0x4000]);
  t.deepEqual([...skip.get(3)!], [0, 0x1000]);
  t.false(skip.has(2), 'a member is read through its extent');
});

test('physicalExtents orders paddrs above 2^53 that round to one double by their exact value, then by index', (t) => {
  const high = 1n << 60n;
  const b = new SegmentListBuilder();
  // Doubles near 2^60 are 256 apart: these all round to 2^60, and only the exact comparison orders them.
  b.push(7, 0, 0x10, high + 0x40n);
  b.push(5, 0x100, 0x10, high + 0x20n);
  b.push(6, 0x200, 0x10, high);
  b.push(4, 0x300, 0x10, high + 0x20n);
  const list = b.build();
  const { picks, starts, lasts } = physicalExtents(list);
  t.deepEqual([...picks].map((k) => list.index(k)), [6, 4, 7]);
  t.deepEqual([...starts], [high, high + 0x20n, high + 0x40n]);
  t.deepEqual([...lasts], [high + 0xfn, high + 0x2fn, high + 0x4fn]);
});
