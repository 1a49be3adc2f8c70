// Reads a seekable input by offset: the prefix ranges, then each segment's bytes in large chunks.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { DataSegment } from '../dump/layout.js';
import type { RangeReader } from '../dump/prefix.js';
import type { DataEvent } from '../pipeline/events.js';
import { readFully, type ByteSource } from './byte-source.js';

export function positionalRangeReader(source: ByteSource): RangeReader {
  return async (offset, length, what) => {
    if (source.size !== undefined && offset + length > source.size) {
      throw new BadInputError(`input ends at offset ${hex(source.size)}, inside ${what} (which needs bytes up to ${hex(offset + length)})`);
    }
    const buf = Buffer.alloc(length);
    const got = await readFully(source, buf, 0, length, offset);
    if (got < length) {
      throw new BadInputError(`input ends at offset ${hex(offset + got)}, inside ${what} (${length - got} bytes missing)`);
    }
    return buf;
  };
}

/** Yields each segment's bytes in file order; a segment may be read wherever it lies. */
export async function* readSegmentsAt(source: ByteSource, segments: readonly DataSegment[], chunkSize: number): AsyncGenerator<DataEvent> {
  for (const seg of segments) {
    for (let offset = 0; offset < seg.size; offset += chunkSize) {
      const length = Math.min(chunkSize, seg.size - offset);
      const bytes = Buffer.allocUnsafe(length);
      const got = await readFully(source, bytes, 0, length, seg.inOffset + offset);
      if (got < length) {
        const missing = seg.size - offset - got;
        throw new BadInputError(
          `input ends at offset ${hex(seg.inOffset + offset + got)}, inside program header ${seg.index} (${missing} bytes of that segment missing)`,
        );
      }
      yield { kind: 'data', segment: seg.index, offset, bytes };
    }
  }
}
