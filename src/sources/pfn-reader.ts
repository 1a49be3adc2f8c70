// Reads pages by page frame number from a seekable vmcore, each physical page from one segment only (the kernel-text PT_LOAD aliases RAM).

import type { SegmentList } from '../dump/segment-list.js';
import type { ByteSource } from './byte-source.js';
import { readRange, threadPoolPread, type FailedPage } from './chunk-reader.js';
import type { ReadErrorLog } from './read-errors.js';

/**
 * Extent i: physical bytes [starts[i], lasts[i]] found in segments[picks[i]] from where its paddr says. Columns, not
 * an object or a sorted copy of the list: 128 Ki segments would cost megabytes so. Last bytes, not ends: an end may be 2^64.
 */
interface Extents {
  picks: Uint32Array;
  starts: BigUint64Array;
  lasts: BigUint64Array;
}

/** Disjoint extents in address order: where two segments hold the same physical bytes, the first one by address wins. */
export function physicalExtents(segments: SegmentList): Extents {
  const order = new Uint32Array(segments.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // Sorted on doubles, which keep the order of the bigints they round (ties then compared exactly): a bigint read per
  // comparison would make millions of them at the cap.
  const key = new Float64Array(segments.length);
  let sorted = true;
  for (let i = 0; i < key.length; i++) {
    key[i] = Number(segments.paddr(i));
    if (i > 0 && key[i] < key[i - 1]) sorted = false;
  }
  if (!sorted || hasTies(key)) {
    order.sort((x, y) => {
      if (key[x] !== key[y]) return key[x] - key[y];
      const a = segments.paddr(x);
      const b = segments.paddr(y);
      return a < b ? -1 : a > b ? 1 : segments.index(x) - segments.index(y);
    });
  }
  const starts = new BigUint64Array(order.length);
  const lasts = new BigUint64Array(order.length);
  let n = 0;
  let covered = -1n;
  for (const k of order) {
    const paddr = segments.paddr(k);
    const end = paddr + BigInt(segments.size(k));
    if (end <= covered) continue;
    starts[n] = paddr > covered ? paddr : covered;
    lasts[n] = end - 1n;
    // The picks overwrite the order behind the loop: n never passes the entry being read.
    order[n++] = k;
    covered = end;
  }
  return { picks: order.subarray(0, n), starts: starts.subarray(0, n), lasts: lasts.subarray(0, n) };
}

/** Equal neighbours in an ascending array: the order among them needs the exact comparison. */
function hasTies(ascending: Float64Array): boolean {
  for (let i = 1; i < ascending.length; i++) if (ascending[i] === ascending[i - 1]) return true;
  return false;
}

export interface PfnReader {
  (firstPfn: number, count: number, buf: Buffer): Promise<void>;
}

/** Bytes that no segment holds read as zeros; pages that fail to read are zero-filled and recorded in `errors`. */
export function pfnReader(source: ByteSource, segments: SegmentList, pageSize: number, errors: ReadErrorLog): PfnReader {
  const { picks, starts, lasts } = physicalExtents(segments);
  const page = BigInt(pageSize);
  let hint = 0;
  return async (firstPfn, count, buf) => {
    const from = BigInt(firstPfn) * page;
    const to = from + BigInt(count) * page;
    // Calls come in ascending order: start from where the last one ended.
    if (hint >= picks.length || starts[hint] > from) hint = 0;
    while (hint < picks.length && lasts[hint] < from) hint++;
    const failed: FailedPage[] = [];
    // Only the gaps between extents are zeroed: a read fills the rest, or zero-fills the pages that fail.
    let filled = 0;
    for (let i = hint; i < picks.length && starts[i] < to; i++) {
      const seg = segments.at(picks[i]);
      const start = starts[i] > from ? starts[i] : from;
      const end = lasts[i] + 1n < to ? lasts[i] + 1n : to;
      if (end <= start) continue;
      const at = Number(start - from);
      buf.fill(0, filled, at);
      await readRange({ source, seg, offset: Number(start - seg.paddr), buf: buf.subarray(at, at + Number(end - start)), pageSize, pread: threadPoolPread, failed });
      filled = at + Number(end - start);
    }
    buf.fill(0, filled, count * pageSize);
    for (const f of failed) errors.record(f.segmentIndex, f.paddr, f.length, f.fileOffset, f.error);
  };
}
