// Reads a flattened file by plain-file offset: one pass builds a table of records, then reads find them by binary search.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { FlatDecoder } from './decoder.js';

/** Reads of the flattened file itself: short at its end. */
export type ReadAt = (fileOffset: number, length: number) => Buffer;

/** 4 Mi records of 64 KiB: 256 GiB of plain file, in 96 MiB of table. */
export const MAX_FLAT_RECORDS = 4 << 20;
const SCAN_CHUNK = 4 << 20;

export interface FlatIndex {
  /** One past the last byte any record writes. */
  size: number;
  records: number;
  /** Plain-file bytes [offset, offset + length); gaps read as zeros, reads past `size` come back short. */
  readAt: ReadAt;
}

export function indexFlatFile(readFlat: ReadAt): FlatIndex {
  const decoder = new FlatDecoder(MAX_FLAT_RECORDS);
  const starts: number[] = [];
  const sizes: number[] = [];
  const ats: number[] = [];
  for (let position = 0; !decoder.ended; position += SCAN_CHUNK) {
    const chunk = readFlat(position, SCAN_CHUNK);
    if (chunk.length === 0) break;
    for (const e of decoder.push(chunk)) {
      if (e.kind !== 'record') continue;
      starts.push(e.offset);
      sizes.push(e.size);
      ats.push(e.at);
    }
    if (chunk.length < SCAN_CHUNK) break;
  }
  decoder.finish();
  const order = starts.map((_, i) => i).sort((a, b) => starts[a] - starts[b] || a - b);
  const start = Float64Array.from(order, (i) => starts[i]);
  const end = Float64Array.from(order, (i) => starts[i] + sizes[i]);
  const at = Float64Array.from(order, (i) => ats[i]);
  for (let i = 1; i < start.length; i++) {
    if (start[i] < end[i - 1]) throw new BadInputError(`flattened dump: two records write plain-file offset ${hex(start[i])}`);
  }
  // Records are disjoint and sorted: the last one ends furthest.
  const size = end.length > 0 ? end[end.length - 1] : 0;
  return {
    size,
    records: start.length,
    readAt(offset, length) {
      const stop = Math.min(offset + length, size);
      if (stop <= offset) return Buffer.alloc(0);
      const out = Buffer.alloc(stop - offset);
      let lo = 0;
      let hi = start.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (end[mid] <= offset) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < start.length && start[i] < stop; i++) {
        const from = Math.max(start[i], offset);
        const to = Math.min(end[i], stop);
        const piece = readFlat(at[i] + (from - start[i]), to - from);
        if (piece.length < to - from) throw new BadInputError(`flattened dump: the record for plain-file offset ${hex(start[i])} runs past the end of the file`);
        piece.copy(out, from - offset);
      }
      return out;
    },
  };
}

