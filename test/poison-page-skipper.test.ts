// The poison-page skipper and the fault map: zero-filled pages exactly where faults are, on any chunk split.

import test from 'ava';
import fc from 'fast-check';
import { poisonPageSkipper } from '../transforms/poison-page-skipper.js';
import { FaultList, mapFaults, mergedRanges, normalizeFaults, type FaultRange } from '../src/faults/fault-map.js';
import { SegmentList, type DataSegment } from '../src/dump/segment-list.js';
import type { DataEvent } from '../src/stream/events.js';
import { runStages } from './helpers/run-stage.js';

const PAGE = 4096;

function chunked(segment: number, bytes: Buffer, splits: readonly number[]): DataEvent[] {
  const events: DataEvent[] = [];
  let at = 0;
  let turn = 0;
  while (at < bytes.length) {
    const size = Math.max(1, splits[turn++ % splits.length]);
    events.push({ kind: 'data', segment, offset: at, bytes: bytes.subarray(at, at + size) });
    at += size;
  }
  return events;
}

function reassemble(events: readonly DataEvent[], segment: number): Buffer {
  const mine = events.filter((e) => e.segment === segment);
  let expect = 0;
  for (const e of mine) {
    if (e.offset !== expect) throw new Error(`gap at ${expect}`);
    expect += e.bytes.length;
  }
  return Buffer.concat(mine.map((e) => e.bytes));
}

test('normalizeFaults rounds to pages and merges, lower reasons winning overlaps', (t) => {
  const faults: FaultRange[] = [
    { paddr: 0x5123n, length: 0n, reason: 2, origin: 'a' },
    { paddr: 0x6000n, length: 0x10n, reason: 2, origin: 'b' },
    { paddr: 0x5000n, length: 0x1000n, reason: 1, origin: 'c' },
    { paddr: 0x10000n, length: 0x2001n, reason: 2, origin: 'd' },
  ];
  t.deepEqual(
    mergedRanges(normalizeFaults(FaultList.of(faults), PAGE)).map((f) => [f.paddr, f.length, f.reason]),
    [
      [0x5000n, 0x1000n, 1],
      [0x6000n, 0x1000n, 2],
      [0x10000n, 0x3000n, 2],
    ],
  );
});

test('normalizeFaults: a lower reason wins its pages even inside a range of another reason that starts first', (t) => {
  const faults: FaultRange[] = [
    { paddr: 0x340000n, length: 0x10000n, reason: 2, origin: '--fault 0x340000+0x10000' },
    { paddr: 0x345000n, length: 0x1000n, reason: 1, origin: 'MCE record' },
  ];
  t.deepEqual(
    mergedRanges(normalizeFaults(FaultList.of(faults), PAGE)).map((f) => [f.paddr, f.length, f.reason]),
    [
      [0x340000n, 0x5000n, 2],
      [0x345000n, 0x1000n, 1],
      [0x346000n, 0xa000n, 2],
    ],
  );
});

test('normalizeFaults agrees with a page-by-page model: each page once, with the lowest reason covering it', (t) => {
  const range = fc.record({ page: fc.nat({ max: 64 }), pages: fc.nat({ max: 12 }), reason: fc.integer({ min: 1, max: 6 }) });
  fc.assert(
    fc.property(fc.array(range, { maxLength: 12 }), (ranges) => {
      const model = new Map<number, number>();
      for (const r of ranges) {
        for (let p = r.page; p < r.page + Math.max(1, r.pages); p++) model.set(p, Math.min(model.get(p) ?? 99, r.reason));
      }
      const faults = ranges.map((r) => ({ paddr: BigInt(r.page * PAGE + 7), length: BigInt(Math.max(1, r.pages) * PAGE - 7), reason: r.reason, origin: 'x' }));
      const got = new Map<number, number>();
      let lastEnd = -1n;
      for (const f of mergedRanges(normalizeFaults(FaultList.of(faults), PAGE))) {
        if (f.paddr < lastEnd) return false;
        lastEnd = f.paddr + f.length;
        for (let p = Number(f.paddr) / PAGE; p < Number(f.paddr + f.length) / PAGE; p++) got.set(p, f.reason);
      }
      t.deepEqual([...got].sort((a, b) => a[0] - b[0]), [...model].sort((a, b) => a[0] - b[0]));
      return true;
    }),
    { numRuns: 300 },
  );
});

test('mapFaults lists a page once per segment that holds it, and reports the rest as outside', (t) => {
  const segments: DataSegment[] = [
    { index: 1, inOffset: 0x2000, size: 0x10000, paddr: 0x100000n },
    { index: 2, inOffset: 0x12000, size: 0x200000, paddr: 0x0n },
  ];
  const faults = normalizeFaults(
    FaultList.of([
      { paddr: 0x101000n, length: 0n, reason: 1, origin: 'mce' },
      { paddr: 0x900000n, length: 0n, reason: 2, origin: 'far away' },
    ]),
    PAGE,
  );
  const map = mapFaults(faults, SegmentList.from(segments));
  t.deepEqual(
    map.entries.toArray().map((e) => [e.segmentIndex, e.paddr, e.length, e.reason]),
    [
      [1, 0x101000n, 0x1000n, 1],
      [2, 0x101000n, 0x1000n, 1],
    ],
  );
  t.deepEqual([...map.bySegment.get(1)!], [0x1000, 0x2000]);
  t.deepEqual([...map.bySegment.get(2)!], [0x101000, 0x102000]);
  t.is(map.outside.length, 1);
  t.is(map.outside[0].origin, 'far away');
});

test('no faults: events pass through untouched, as the same objects', async (t) => {
  const event: DataEvent = { kind: 'data', segment: 1, offset: 0, bytes: Buffer.alloc(10, 7) };
  const out = await runStages<DataEvent>([poisonPageSkipper(new Map())], [event]);
  t.is(out.length, 1);
  t.is(out[0].bytes, event.bytes);
});

test('faulty pages become zeros, other bytes pass as views, on any chunk split', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.nat(31), { maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 3 * PAGE }), { minLength: 1, maxLength: 8 }),
      async (pages, splits) => {
        const size = 32 * PAGE;
        const input = Buffer.alloc(size);
        for (let i = 0; i < size; i++) input[i] = 1 + (i % 251);
        const segments: DataSegment[] = [{ index: 3, inOffset: 0, size, paddr: 0x40000000n }];
        const faults = normalizeFaults(FaultList.of(pages.map((p) => ({ paddr: 0x40000000n + BigInt(p * PAGE), length: 0n, reason: 2, origin: 'test' }))), PAGE);
        const map = mapFaults(faults, SegmentList.from(segments));
        const out = await runStages<DataEvent>([poisonPageSkipper(map.bySegment)], chunked(3, input, splits));
        const result = reassemble(out, 3);
        t.is(result.length, size);
        for (let p = 0; p < 32; p++) {
          const page = result.subarray(p * PAGE, (p + 1) * PAGE);
          if (pages.includes(p)) t.true(page.every((b) => b === 0), `page ${p} zero`);
          else t.deepEqual(page, input.subarray(p * PAGE, (p + 1) * PAGE));
        }
        for (const e of out) {
          const isZeroRun = e.bytes.every((b) => b === 0);
          if (!isZeroRun) t.is(e.bytes.buffer, input.buffer, 'clean bytes are views of the input, not copies');
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('one fault spanning many chunks and a segment boundary', async (t) => {
  const a = Buffer.alloc(8 * PAGE, 0xaa);
  const b = Buffer.alloc(8 * PAGE, 0xbb);
  const segments: DataSegment[] = [
    { index: 1, inOffset: 0, size: a.length, paddr: 0n },
    { index: 2, inOffset: a.length, size: b.length, paddr: BigInt(a.length) },
  ];
  const map = mapFaults(normalizeFaults(FaultList.of([{ paddr: BigInt(6 * PAGE), length: BigInt(4 * PAGE), reason: 2, origin: 't' }]), PAGE), SegmentList.from(segments));
  const out = await runStages<DataEvent>([poisonPageSkipper(map.bySegment)], [...chunked(1, a, [PAGE + 7]), ...chunked(2, b, [3 * PAGE])]);
  const ra = reassemble(out, 1);
  const rb = reassemble(out, 2);
  t.true(ra.subarray(0, 6 * PAGE).every((x) => x === 0xaa));
  t.true(ra.subarray(6 * PAGE).every((x) => x === 0));
  t.true(rb.subarray(0, 2 * PAGE).every((x) => x === 0));
  t.true(rb.subarray(2 * PAGE).every((x) => x === 0xbb));
});
