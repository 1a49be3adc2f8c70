// The keep map's cycles: runs as a plain bitmap gives them, each cycle derived once within the cache budget, again past it.

import test from 'ava';
import { CACHE_BUDGET_BYTES, KeepMap } from '../src/pipeline/keep-map.js';
import { CYCLE_PFNS, popcount } from '../src/mm/page-selection.js';

const C = CYCLE_PFNS;
const MAX_MAPNR = 4 * C - 1000;
/** Multiples of 3 in cycle 2. */
const THIRDS = Math.floor((3 * C - 1) / 3) - Math.floor((2 * C - 1) / 3);

/** Cycle 0 has a few long runs; cycles 1 to 3 are as fragmented as can be, 4 MiB each even compacted. */
function kept(pfn: number): boolean {
  if (pfn < C) return (pfn >= 100 && pfn < 5000) || (pfn >= 1 << 20 && pfn < 1 << 21);
  if (pfn < 2 * C) return pfn % 2 === 0;
  if (pfn < 3 * C) return pfn % 3 === 0;
  return pfn % 2 === 1;
}

function keepMap(excluded: [number, number][] = []) {
  const calls: number[] = [];
  const keep = new KeepMap({
    maxMapnr: MAX_MAPNR,
    pageSize: 4096,
    excluded,
    classify: (start, end, into) => {
      calls.push(start / C);
      const bitmap = into.subarray(0, Math.ceil((end - start) / 8)).fill(0);
      for (let p = start; p < end; p++) if (kept(p)) bitmap[(p - start) >>> 3] |= 1 << ((p - start) & 7);
      return bitmap;
    },
  });
  return { keep, calls };
}

async function collect(keep: KeepMap, from: number, to: number) {
  const out: [number, number, boolean][] = [];
  for await (const [a, b, k] of keep.runs(from, to)) out.push([a, b, k]);
  return out;
}

function plainRuns(from: number, to: number, isKept: (pfn: number) => boolean) {
  const out: [number, number, boolean][] = [];
  for (let p = from; p < to; p++) {
    const k = p < MAX_MAPNR && isKept(p);
    const last = out[out.length - 1];
    if (last && last[2] === k) last[1] = p + 1;
    else out.push([p, p + 1, k]);
  }
  return out;
}

test('runs agree with a plain bitmap across cycle edges and past maxMapnr; excluded ranges are never kept', async (t) => {
  const excluded: [number, number][] = [[150, 160], [2 * C - 3, 2 * C + 4]];
  const { keep } = keepMap(excluded);
  const isKept = (p: number) => kept(p) && !excluded.some(([s, e]) => p >= s && p < e);
  for (const [from, to] of [
    [0, 6000],
    [C - 50, C + 50],
    [2 * C - 40, 2 * C + 40],
    [3 * C - 5, 3 * C + 20],
    [MAX_MAPNR - 10, MAX_MAPNR + 3000],
    [(1 << 20) - 5, (1 << 20) + 5],
  ]) {
    t.deepEqual(await collect(keep, from, to), plainRuns(from, to, isKept), `[${from}, ${to})`);
  }
});

test('within the budget a cycle is derived once; past it, derived again with the same bits; the last one stays at hand', async (t) => {
  const { keep, calls } = keepMap();
  const counts = [];
  for (let c = 0; c < 4; c++) counts.push((await keep.cycle(c)).count);
  t.deepEqual(counts, [4900 + (1 << 20), C / 2, THIRDS, (C - 1000) / 2]);
  t.deepEqual(calls, [0, 1, 2, 3]);
  // Cycles 0 and 1 fit in the budget; cycles 2 and 3 do not (two fragmented cycles are more than 8 MiB).
  t.true((await keep.cycle(1)).byteLength * 2 > CACHE_BUDGET_BYTES);
  t.is((await keep.cycle(3)).count, (C - 1000) / 2, 'the last derived stays at hand');
  t.deepEqual(calls, [0, 1, 2, 3]);
  const again = await keep.bitmap(2);
  t.is(popcount(again), THIRDS);
  t.deepEqual(calls, [0, 1, 2, 3, 2]);
  t.deepEqual(await collect(keep, 2 * C, 2 * C + 30), plainRuns(2 * C, 2 * C + 30, kept));
  t.deepEqual(calls, [0, 1, 2, 3, 2], 'window after window of one cycle: derived once');
});

test('concurrent asks for cycles are derived one at a time, each once', async (t) => {
  const { keep, calls } = keepMap();
  const got = await Promise.all([keep.cycle(2), keep.cycle(2), keep.cycle(3), keep.cycle(2)]);
  t.deepEqual(calls, [2, 3]);
  t.is(got[0], got[1]);
  t.is(got[0], got[3]);
  t.is(got[2].count, (C - 1000) / 2);
});

test('a cycle past the budget that runs() is still reading keeps its bits while later cycles are derived', async (t) => {
  const { keep, calls } = keepMap();
  for (let c = 0; c < 4; c++) await keep.cycle(c);
  // Cycle 2 again, read slowly: cycles 3, 2 and 3 are derived meanwhile, into the spare buffers.
  const reader = keep.runs(2 * C, 2 * C + 12);
  const first = await reader.next();
  await keep.cycle(3);
  await keep.bitmap(2);
  const later = await keep.bitmap(3);
  t.is(popcount(later), (C - 1000) / 2);
  const rest = [first.value];
  for await (const run of { [Symbol.asyncIterator]: () => reader }) rest.push(run);
  t.deepEqual(rest, plainRuns(2 * C, 2 * C + 12, kept));
  t.deepEqual(calls, [0, 1, 2, 3, 2, 3, 2, 3]);
});
