// Reads the pieces of a window between faults: in one call to the native addon, off the main thread; else one readSync each.

import { getSystemErrorMap } from 'node:util';
import type { DataSegment } from '../dump/segment-list.js';
import type { ByteSource } from './byte-source.js';
import { readPiecesOnMainThread, recoverPiece, type FailedPage } from './chunk-reader.js';
import { loadMmapAddon, type ReadRuns } from './mmap-addon.js';

export class PieceReader {
  /** `readRuns`: the addon's, or undefined for the main thread's readSync per piece. */
  constructor(private readonly readRuns?: ReadRuns) {}

  /**
   * Fills buf (buf[0] at segment offset `offset`) from the pieces, flat [start, end) pairs of buf offsets, sorted, and
   * zero-fills the bytes between them, which are never read. A piece that fails or comes back short goes on page by
   * page, as readRange does; its failing pages are zero and pushed onto `failed`.
   */
  async read(source: ByteSource, seg: DataSegment, offset: number, buf: Buffer, pieces: Float64Array, pageSize: number, failed: FailedPage[]): Promise<void> {
    if (!this.readRuns) return readPiecesOnMainThread(source, seg, offset, buf, pieces, pageSize, failed);
    const short = await this.readRuns(source.fd, buf, seg.inOffset + offset, pieces);
    for (let i = 0; i < short.length; i += 3) {
      const [start, end, result] = [short[i], short[i + 1], short[i + 2]];
      await recoverPiece(source, seg, offset + start, buf.subarray(start, end), pageSize, failed, result < 0 ? -1 : result, result < 0 ? errnoError(-result) : undefined);
    }
  }
}

/** An error as readSync would throw it, for the errno that a native read returned. */
function errnoError(errno: number): NodeJS.ErrnoException {
  const [code, message] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
  return Object.assign(new Error(`${code}: ${message}, read`), { errno: -errno, code, syscall: 'read' });
}

/**
 * The piece reader for a capture whose reads skip faults: the native one when the addon loads (and has readRuns),
 * else the main thread's, with one notice saying why, as the mmap reader's fallback does.
 */
export function openPieceReader(onNotice?: (line: string) => void): PieceReader {
  const loaded = loadMmapAddon();
  if ('problem' in loaded) {
    onNotice?.(`native reader unavailable: ${loaded.problem}; reading around the faults with one read(2) each on the main thread`);
    return new PieceReader();
  }
  if (typeof loaded.addon.readRuns !== 'function') {
    onNotice?.('native reader unavailable: the addon predates readRuns (npm install rebuilds it); reading around the faults with one read(2) each on the main thread');
    return new PieceReader();
  }
  return new PieceReader(loaded.addon.readRuns);
}
