// Final stage: turns header and data events into output bytes, padding between segments, and checks completeness.

import { flushable, many } from 'stream-chain/defs.js';
import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { OutputLayout } from '../dump/layout.js';
import type { DumpEvent } from '../stream/events.js';
import { zeroRuns } from '../stream/zeros.js';
import type { ChunkPool } from '../stream/chunk-pool.js';


export interface SerializerProgress {
  /** Output bytes emitted so far. */
  written: number;
  layout?: OutputLayout;
  onProgress?: (written: number, total: number) => void;
  /** Told which output offset each data view goes to, so that read buffers can be reused once written. */
  pool?: ChunkPool;
}

export function dumpSerializer(progress: SerializerProgress = { written: 0 }) {
  let outOffsets: Float64Array = new Float64Array(0);
  return flushable(
    (event: DumpEvent) => {
      if (event.kind === 'header') {
        progress.layout = event.layout;
        outOffsets = event.layout.outOffsets;
        progress.written = event.bytes.length;
        return event.bytes;
      }
      if (event.kind !== 'data') throw new Error(`serializer: unexpected ${event.kind} event before the header`);
      const outOffset = outOffsets[event.segment];
      if (outOffset === undefined || Number.isNaN(outOffset)) throw new Error(`serializer: data for program header ${event.segment}, which has no place in the output`);
      const target = outOffset + event.offset;
      if (target < progress.written) throw new Error(`serializer: data for output offset ${hex(target)} arrived after ${hex(progress.written)}`);
      progress.pool?.passing(event.chunk ?? event.bytes, target);
      const gap = target - progress.written;
      progress.written = target + event.bytes.length;
      progress.onProgress?.(progress.written, progress.layout!.totalSize);
      return gap === 0 ? event.bytes : many([...zeroRuns(gap), event.bytes]);
    },
    () => {
      const layout = progress.layout;
      if (!layout) throw new BadInputError('input ended before the headers and notes were complete');
      if (progress.written < layout.totalSize) {
        const missing = layout.totalSize - progress.written;
        const { segments } = layout;
        const seg = segments.findIndex((i) => layout.outOffsets[segments.index(i)] + segments.size(i) > progress.written);
        const where = seg >= 0 ? ` in program header ${segments.index(seg)}` : '';
        throw new BadInputError(`input ended early${where}: ${missing} bytes of segment data missing`);
      }
      return many<Buffer>([]);
    },
  );
}
