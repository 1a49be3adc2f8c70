// Test helpers: range readers and forward pulls over an in-memory dump, with chosen chunk splits.

import { BadInputError } from '../../src/errors.js';
import type { RangeReader } from '../../src/dump/prefix.js';
import type { ForwardPull } from '../../src/sources/forward-reader.js';

export function bufferRangeReader(bytes: Buffer): RangeReader {
  return async (offset, length, what) => {
    if (offset + length > bytes.length) throw new BadInputError(`input ends at offset ${bytes.length}, inside ${what}`);
    return bytes.subarray(offset, offset + length);
  };
}

/** Hands out `bytes` in pieces whose sizes cycle through `splits` (each at least 1). */
export function splitPull(bytes: Buffer, splits: readonly number[]): ForwardPull {
  let at = 0;
  let turn = 0;
  return async (buf, offset, length) => {
    const piece = Math.max(1, splits.length > 0 ? splits[turn++ % splits.length] : length);
    const n = Math.min(piece, length, bytes.length - at);
    bytes.copy(buf, offset, at, at + n);
    at += n;
    return n;
  };
}
