// OmittedRanges: the column form of OMITTED entries encodes as the object form does, and merges runs as mapFaults did.

import test from 'ava';
import fc from 'fast-check';
import { encodeOmittedEntries, encodeOmittedNote, decodeOmittedNote, omittedDescOffset, type OmittedEntry } from '../src/notes/slimcore-notes.js';
import { OmittedRanges } from '../src/notes/omitted-ranges.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const arbEntry: fc.Arbitrary<OmittedEntry> = fc.record({ paddr: u64, length: u64, reason: u32, flags: u32 });

test('entries pushed as bigints encode byte for byte as encodeOmittedEntries, in both byte orders, and read back', (t) => {
  fc.assert(
    fc.property(fc.array(arbEntry, { maxLength: 40 }), fc.constantFrom('le' as const, 'be' as const), (entries, endian) => {
      const ranges = OmittedRanges.of(entries);
      t.is(ranges.count, entries.length);
      t.true(ranges.encode(endian).equals(encodeOmittedEntries(entries, endian)));
      t.deepEqual(ranges.toArray().map(({ segmentIndex: _, ...e }) => e), entries);
      const note = encodeOmittedNote({ entries: ranges, capacity: entries.length + 2, flags: 1 }, endian);
      t.deepEqual(decodeOmittedNote(note.subarray(omittedDescOffset()), endian).entries, entries);
    }),
  );
});

test('pushInSegment: the base plus offset, carried into the high word; neighbours of one segment and reason merge, others do not', (t) => {
  fc.assert(
    fc.property(
      u64.map((p) => p & ~0xfffn),
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), pages: fc.integer({ min: 1, max: 4 }), reason: fc.integer({ min: 1, max: 2 }), segment: fc.integer({ min: 0, max: 1 }) }), { maxLength: 30 }),
      (base, runs) => {
        const ranges = new OmittedRanges();
        const want: (OmittedEntry & { segmentIndex: number })[] = [];
        let offset = 0;
        for (const run of runs) {
          offset += run.gap * 4096;
          const paddr = base + BigInt(offset);
          if (paddr + BigInt(run.pages * 4096) > (1n << 64n) - 1n) return;
          const last = want[want.length - 1];
          if (last && last.segmentIndex === run.segment && last.reason === run.reason && last.paddr + last.length === paddr) last.length += BigInt(run.pages * 4096);
          else want.push({ segmentIndex: run.segment, paddr, length: BigInt(run.pages * 4096), reason: run.reason, flags: 0 });
          ranges.pushInSegment(Number(base & 0xffffffffn), Number(base >> 32n), offset, run.pages * 4096, run.reason, run.segment);
          offset += run.pages * 4096;
        }
        t.deepEqual(ranges.toArray(), want);
      },
    ),
  );
});

test('an address past 2^64 is refused, not wrapped', (t) => {
  const ranges = new OmittedRanges();
  t.throws(() => ranges.pushInSegment(0xfffff000, 0xffffffff, 0x1000, 0x1000, 2, 0), { instanceOf: RangeError });
  t.throws(() => ranges.push(1n << 64n, 1n, 2, 0), { instanceOf: RangeError });
  t.throws(() => ranges.push(0n, 1n, -1, 0), { instanceOf: RangeError });
});

test('filter and append keep entries whole and in order', (t) => {
  const ranges = OmittedRanges.of([0, 1, 2, 3, 4].map((i) => ({ paddr: BigInt(i) << 40n, length: 0x1000n, reason: i, flags: i, segmentIndex: i })));
  const odd = ranges.filter((i) => ranges.reason(i) % 2 === 1);
  t.deepEqual(odd.toArray().map((e) => e.reason), [1, 3]);
  odd.append(ranges.filter((i) => i === 0));
  t.deepEqual(odd.toArray(), [1, 3, 0].map((i) => ({ paddr: BigInt(i) << 40n, length: 0x1000n, reason: i, flags: i, segmentIndex: i })));
});
