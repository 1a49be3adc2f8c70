// Pages by pfn from a real file: each physical page from its first segment, bytes no segment holds as zeros, whatever the buffer held.

import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SegmentList, type DataSegment } from '../src/dump/segment-list.js';
import { openSource } from '../src/sources/byte-source.js';
import { pfnReader } from '../src/sources/pfn-reader.js';
import { ReadErrorLog } from '../src/sources/read-errors.js';
import { tempDir } from './helpers/tmp.js';

const PS = 4096;
const PFNS = 24;

test('pfnReader: segment bytes where a segment holds the page (the first by address), zeros elsewhere, over a dirty buffer', async (t) => {
  const dir = await tempDir(t, 'pfn-reader');
  const file = path.join(dir, 'in');
  const fileBytes = Buffer.alloc(PFNS * 2 * PS);
  for (let i = 0; i < fileBytes.length; i += 4) fileBytes.writeUInt32LE(i + 1, i);
  await writeFile(file, fileBytes);
  const source = await openSource(file);
  t.teardown(() => source.close());
  const segment = fc.record({ firstPfn: fc.integer({ min: 0, max: PFNS - 1 }), pages: fc.integer({ min: 1, max: 8 }), filePage: fc.integer({ min: 0, max: PFNS }) });
  await fc.assert(
    fc.asyncProperty(fc.array(segment, { maxLength: 5 }), fc.integer({ min: 0, max: PFNS - 1 }), fc.integer({ min: 1, max: 12 }), async (specs, firstPfn, count) => {
      const segments: DataSegment[] = specs.map((s, index) => ({ index, inOffset: s.filePage * PS, size: s.pages * PS, paddr: BigInt(s.firstPfn * PS) }));
      // What a page should hold: the bytes of the segment with the lowest address that covers it (ties: the first).
      const expected = Buffer.alloc(count * PS);
      for (let p = 0; p < count; p++) {
        const pfn = firstPfn + p;
        const covering = segments.filter((s) => Number(s.paddr) / PS <= pfn && pfn < Number(s.paddr) / PS + s.size / PS);
        covering.sort((a, b) => Number(a.paddr - b.paddr) || a.index - b.index);
        const seg = covering[0];
        if (seg) fileBytes.copy(expected, p * PS, seg.inOffset + (pfn * PS - Number(seg.paddr)), seg.inOffset + (pfn * PS - Number(seg.paddr)) + PS);
      }
      const buf = Buffer.alloc(count * PS, 0xa5);
      await pfnReader(source, SegmentList.from(segments), PS, new ReadErrorLog(0, PS))(firstPfn, count, buf);
      t.deepEqual(buf, expected);
    }),
    { numRuns: 100 },
  );
});
