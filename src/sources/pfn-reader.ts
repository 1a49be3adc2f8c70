// Reads pages by page frame number from a seekable vmcore, each physical page from one segment only (the kernel-text PT_LOAD aliases RAM).

import type { DataSegment } from '../dump/layout.js';
import type { ByteSource } from './byte-source.js';
import { readRange, threadPoolPread, type FailedPage } from './chunk-reader.js';
import type { ReadErrorLog } from './read-errors.js';

/** Physical bytes [start, end) found in `seg` from segment offset `segOffset` on. */
interface Extent {
  start: bigint;
  end: bigint;
  seg: DataSegment;
  segOffset: number;
}

/** Disjoint extents in address order: where two segments hold the same physical bytes, the first one by address wins. */
export function physicalExtents(segments: readonly DataSegment[]): Extent[] {
  const sorted = [...segments].sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : a.index - b.index));
  const out: Extent[] = [];
  let covered = -1n;
  for (const seg of sorted) {
    const end = seg.paddr + BigInt(seg.size);
    if (end <= covered) continue;
    const start = seg.paddr > covered ? seg.paddr : covered;
    out.push({ start, end, seg, segOffset: Number(start - seg.paddr) });
    covered = end;
  }
  return out;
}

export interface PfnReader {
  (firstPfn: number, count: number, buf: Buffer): Promise<void>;
}

/** Bytes that no segment holds read as zeros; pages that fail to read are zero-filled and recorded in `errors`. */
export function pfnReader(source: ByteSource, segments: readonly DataSegment[], pageSize: number, errors: ReadErrorLog): PfnReader {
  const extents = physicalExtents(segments);
  const page = BigInt(pageSize);
  let hint = 0;
  return async (firstPfn, count, buf) => {
    const from = BigInt(firstPfn) * page;
    const to = from + BigInt(count) * page;
    // Calls come in ascending order: start from where the last one ended.
    if (hint >= extents.length || extents[hint].start > from) hint = 0;
    while (hint < extents.length && extents[hint].end <= from) hint++;
    const failed: FailedPage[] = [];
    // Only the gaps between extents are zeroed: a read fills the rest, or zero-fills the pages that fail.
    let filled = 0;
    for (let i = hint; i < extents.length && extents[i].start < to; i++) {
      const e = extents[i];
      const start = e.start > from ? e.start : from;
      const end = e.end < to ? e.end : to;
      if (end <= start) continue;
      const at = Number(start - from);
      buf.fill(0, filled, at);
      await readRange({ source, seg: e.seg, offset: e.segOffset + Number(start - e.start), buf: buf.subarray(at, at + Number(end - start)), pageSize, pread: threadPoolPread, failed });
      filled = at + Number(end - start);
    }
    buf.fill(0, filled, count * pageSize);
    for (const f of failed) errors.record(f.segmentIndex, f.paddr, f.length, f.fileOffset, f.error);
  };
}
