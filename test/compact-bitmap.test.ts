// The compact cycle bitmap: exact bytes held, and against a plain bitmap for any pattern (fast-check).

import test from 'ava';
import fc from 'fast-check';
import { BLOCK_BITS, CompactBitmap, MAX_BLOCK_RUNS } from '../src/mm/compact-bitmap.js';
import { bitIsSet, popcount, setBit } from '../src/mm/page-selection.js';

const BLOCK_BYTES = BLOCK_BITS / 8;

function bitmapOf(length: number, set: (i: number) => boolean): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(length / 8));
  for (let i = 0; i < length; i++) if (set(i)) setBit(bitmap, i);
  return bitmap;
}

/** [from, to, set] runs of a plain bitmap over [from, to), maximal. */
function plainRuns(bitmap: Uint8Array, from: number, to: number): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  for (let i = from; i < to; i++) {
    const set = bitIsSet(bitmap, i);
    const last = out[out.length - 1];
    if (last && last[2] === set) last[1] = i + 1;
    else out.push([i, i + 1, set]);
  }
  return out;
}

function merged(pieces: Iterable<readonly [number, number, boolean]>): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  for (const [a, b, set] of pieces) {
    const last = out[out.length - 1];
    if (last && last[2] === set && last[1] === a) last[1] = b;
    else out.push([a, b, set]);
  }
  return out;
}

test('bytes held: runs where a block has few, bits where it has more than MAX_BLOCK_RUNS, nothing for an empty block', (t) => {
  const length = 3 * BLOCK_BITS + 100;
  const bitmap = bitmapOf(length, (i) => {
    if (i < BLOCK_BITS) return (i >= 10 && i < 20) || (i >= 1000 && i < BLOCK_BITS); // two runs
    if (i < 2 * BLOCK_BITS) return i % 2 === 0; // 32,768 runs
    if (i < 3 * BLOCK_BITS) return false;
    return i >= 3 * BLOCK_BITS + 90; // one run to the end
  });
  const compact = CompactBitmap.from(bitmap, length);
  // denseAt: 4 blocks × 4; runAt: 5 × 4; runs: 3 × 8; dense: one block of 8 KiB.
  t.is(compact.byteLength, 16 + 20 + 24 + BLOCK_BYTES);
  t.is(compact.count, 10 + (BLOCK_BITS - 1000) + BLOCK_BITS / 2 + 10);
  t.deepEqual(compact.toBitmap(), bitmap);
  t.deepEqual(
    [...compact.pieces(5, 1005)],
    [
      [5, 10, false],
      [10, 20, true],
      [20, 1000, false],
      [1000, 1005, true],
    ],
  );
  t.deepEqual([...compact.pieces(BLOCK_BITS - 2, BLOCK_BITS + 3)], [[BLOCK_BITS - 2, BLOCK_BITS, true], [BLOCK_BITS, BLOCK_BITS + 1, true], [BLOCK_BITS + 1, BLOCK_BITS + 2, false], [BLOCK_BITS + 2, BLOCK_BITS + 3, true]]);
  t.deepEqual([...compact.pieces(3 * BLOCK_BITS + 80, length + 50)], [[3 * BLOCK_BITS + 80, 3 * BLOCK_BITS + 90, false], [3 * BLOCK_BITS + 90, length, true]], 'clipped at the length');
});

test('a block of exactly MAX_BLOCK_RUNS runs stays runs; one more and it is bits', (t) => {
  const runs = (n: number) => bitmapOf(BLOCK_BITS, (i) => i % 4 === 0 && i / 4 < n);
  t.is(CompactBitmap.from(runs(MAX_BLOCK_RUNS), BLOCK_BITS).byteLength, 4 + 8 + MAX_BLOCK_RUNS * 8);
  t.is(CompactBitmap.from(runs(MAX_BLOCK_RUNS + 1), BLOCK_BITS).byteLength, 4 + 8 + BLOCK_BYTES);
});

test('bits past the length are taken as clear; a bitmap too short for the length is refused', (t) => {
  const compact = CompactBitmap.from(Uint8Array.of(0xff, 0xff), 11);
  t.is(compact.count, 11);
  t.deepEqual(compact.toBitmap(), Uint8Array.of(0xff, 0x07));
  t.throws(() => CompactBitmap.from(new Uint8Array(1), 9), { instanceOf: RangeError });
  t.is(CompactBitmap.from(new Uint8Array(0), 0).count, 0);
});

test('toBitmap into a given buffer: its first bytes, cleared first, the rest untouched; one too short is refused', (t) => {
  const compact = CompactBitmap.from(Uint8Array.of(0x0f, 0x01), 12);
  const into = new Uint8Array(4).fill(0xaa);
  const out = compact.toBitmap(into);
  t.is(out.buffer, into.buffer);
  t.deepEqual(into, Uint8Array.of(0x0f, 0x01, 0xaa, 0xaa));
  t.throws(() => compact.toBitmap(new Uint8Array(1)), { instanceOf: RangeError });
});

/** Bitmaps made of runs of random lengths, some of them random bits: long runs, short ones and noise. */
const patterns = fc
  .array(fc.record({ length: fc.integer({ min: 1, max: 3000 }), kind: fc.constantFrom('set', 'clear', 'noise', 'alternate') }), { minLength: 1, maxLength: 120 })
  .chain((parts) => fc.tuple(fc.constant(parts), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 64, maxLength: 64 })));

test('any pattern: toBitmap, count, pieces and the size foretold agree with the plain bitmap, compacted or read in place (fast-check)', (t) => {
  fc.assert(
    fc.property(patterns, fc.nat(), fc.nat(), ([parts, noise], x, y) => {
      let length = 0;
      for (const p of parts) length += p.length;
      const kinds = new Uint8Array(length);
      let at = 0;
      for (const p of parts) kinds.fill(['clear', 'set', 'noise', 'alternate'].indexOf(p.kind), at, (at += p.length));
      const bitmap = bitmapOf(length, (i) => kinds[i] === 1 || (kinds[i] === 2 && ((noise[i % 64] >> (i % 8)) & 1) === 1) || (kinds[i] === 3 && i % 2 === 0));
      const compact = CompactBitmap.from(bitmap, length);
      if (CompactBitmap.byteLengthOf(bitmap, length) !== compact.byteLength) return false;
      // The same bits read in place, every block dense.
      const inPlace = CompactBitmap.over(bitmap, length);
      if (inPlace.count !== compact.count || !Buffer.from(inPlace.toBitmap()).equals(Buffer.from(bitmap))) return false;
      if (!Buffer.from(compact.toBitmap()).equals(Buffer.from(bitmap))) return false;
      if (compact.count !== popcount(bitmap)) return false;
      if (compact.byteLength > Math.ceil(length / BLOCK_BITS) * (BLOCK_BYTES + 8) + 4) return false;
      const from = x % (length + 1);
      const to = from + (y % (length - from + 1));
      const pieces = [...compact.pieces(from, to)];
      // In order, touching, non-empty, covering [from, to).
      let next = from;
      for (const [a, b] of pieces) {
        if (a !== next || b <= a) return false;
        next = b;
      }
      if (next !== to) return false;
      const want = JSON.stringify(plainRuns(bitmap, from, to));
      return JSON.stringify(merged(pieces)) === want && JSON.stringify(merged(inPlace.pieces(from, to))) === want;
    }),
    { numRuns: 200 },
  );
  t.pass();
});
