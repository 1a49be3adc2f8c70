// Final stage: turns header and data events into output bytes, padding between segments, and checks completeness.

import { flushable, many } from 'stream-chain/defs.js';
import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { OutputLayout, PlacedSegment } from '../dump/layout.js';
import type { DumpEvent } from './events.js';

const PADDING = Buffer.alloc(1 << 16);

function padding(length: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = length; left > 0; left -= PADDING.length) out.push(PADDING.subarray(0, Math.min(left, PADDING.length)));
  return out;
}

export interface SerializerProgress {
  /** Output bytes emitted so far. */
  written: number;
  layout?: OutputLayout;
}

export function dumpSerializer(progress: SerializerProgress = { written: 0 }) {
  let placed = new Map<number, PlacedSegment>();
  return flushable(
    (event: DumpEvent) => {
      if (event.kind === 'header') {
        progress.layout = event.layout;
        placed = new Map(event.layout.segments.map((s) => [s.index, s]));
        progress.written = event.bytes.length;
        return event.bytes;
      }
      if (event.kind !== 'data') throw new Error(`serializer: unexpected ${event.kind} event before the header`);
      const seg = placed.get(event.segment);
      if (!seg) throw new Error(`serializer: data for program header ${event.segment}, which has no place in the output`);
      const target = seg.outOffset + event.offset;
      if (target < progress.written) throw new Error(`serializer: data for output offset ${hex(target)} arrived after ${hex(progress.written)}`);
      const gap = target - progress.written;
      progress.written = target + event.bytes.length;
      return gap === 0 ? event.bytes : many([...padding(gap), event.bytes]);
    },
    () => {
      const layout = progress.layout;
      if (!layout) throw new BadInputError('input ended before the headers and notes were complete');
      if (progress.written < layout.totalSize) {
        const missing = layout.totalSize - progress.written;
        const seg = layout.segments.find((s) => s.outOffset + s.size > progress.written);
        const where = seg ? ` in program header ${seg.index}` : '';
        throw new BadInputError(`input ended early${where}: ${missing} bytes of segment data missing`);
      }
      return many<Buffer>([]);
    },
  );
}
