// Stage: replaces the bytes of faulty pages with zeros, passing clean bytes through as views.

import { many } from 'stream-chain/defs.js';
import type { DataEvent, DumpEvent } from '../src/stream/events.js';
import { zeroRuns } from '../src/stream/zeros.js';

/**
 * `faultsBySegment` maps a program header index to sorted, disjoint [start, end) offsets within
 * that segment. Data for each segment arrives in increasing offset order, so a cursor per
 * segment finds the next fault without searching.
 */
export function poisonPageSkipper(faultsBySegment: ReadonlyMap<number, Float64Array>) {
  const cursors = new Map<number, number>();
  return (event: DumpEvent) => {
    if (event.kind !== 'data' || event.zeroFilled) return event;
    const ranges = faultsBySegment.get(event.segment);
    if (ranges === undefined) return event;
    const start = event.offset;
    const end = start + event.bytes.length;
    let i = cursors.get(event.segment) ?? 0;
    while (i < ranges.length && ranges[i + 1] <= start) i += 2;
    cursors.set(event.segment, i);
    if (i >= ranges.length || ranges[i] >= end) return event;

    const pieces: DataEvent[] = [];
    let at = start;
    const emit = (from: number, bytes: Buffer) => pieces.push({ kind: 'data', segment: event.segment, offset: from, bytes, chunk: event.chunk });
    for (; i < ranges.length && ranges[i] < end; i += 2) {
      const faultStart = Math.max(ranges[i], start);
      const faultEnd = Math.min(ranges[i + 1], end);
      if (faultStart > at) emit(at, event.bytes.subarray(at - start, faultStart - start));
      let zeroAt = faultStart;
      for (const run of zeroRuns(faultEnd - faultStart)) {
        emit(zeroAt, run);
        zeroAt += run.length;
      }
      at = faultEnd;
      if (ranges[i + 1] > end) break;
    }
    if (at < end) emit(at, event.bytes.subarray(at - start));
    return many(pieces);
  };
}
