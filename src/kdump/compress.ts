// Page compressors for the kdump format: each returns a page's compressed bytes, or null when they are not strictly smaller.

import { deflateSync, constants as zlibConstants } from 'node:zlib';
import { UsageError } from '../errors.js';
import { DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD } from './header.js';

export type CompressionName = 'zlib' | 'zstd' | 'snappy' | 'lzo' | 'none';
export const COMPRESSION_NAMES: readonly CompressionName[] = ['zlib', 'zstd', 'snappy', 'lzo', 'none'];

export interface PageCompressor {
  name: CompressionName;
  /** The header's status bit and a compressed page's flags; 0 for none. */
  flag: number;
  /** Compresses `count` pages of `pageSize` bytes laid end to end in `pages`. */
  compressPages(pages: Buffer, count: number, pageSize: number): Promise<(Buffer | null)[]>;
  close(): Promise<void>;
}

export const COMPRESSION_FLAGS: Record<CompressionName, number> = {
  zlib: DUMP_DH_COMPRESSED_ZLIB,
  lzo: DUMP_DH_COMPRESSED_LZO,
  snappy: DUMP_DH_COMPRESSED_SNAPPY,
  zstd: DUMP_DH_COMPRESSED_ZSTD,
  none: 0,
};

/** One page: makedumpfile's zlib is a whole zlib stream at Z_BEST_SPEED. */
export type PageCodec = (page: Buffer) => Buffer;

export function pageCodec(name: CompressionName): PageCodec | undefined {
  switch (name) {
    case 'zlib':
      return (page) => deflateSync(page, { level: zlibConstants.Z_BEST_SPEED });
    case 'none':
      return undefined;
    default:
      throw new UsageError(`--compress ${name} is not available in this build of slim-core (zlib or none)`);
  }
}

/** Keeps a compressed page only when it is strictly smaller than the page, as makedumpfile does. */
export function compressSmaller(codec: PageCodec, page: Buffer): Buffer | null {
  const out = codec(page);
  return out.length < page.length ? out : null;
}

/** Compresses on the calling thread. */
export function inlineCompressor(name: CompressionName): PageCompressor {
  const codec = pageCodec(name);
  return {
    name,
    flag: COMPRESSION_FLAGS[name],
    async compressPages(pages, count, pageSize) {
      const out: (Buffer | null)[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = codec ? compressSmaller(codec, pages.subarray(i * pageSize, (i + 1) * pageSize)) : null;
      return out;
    },
    async close() {},
  };
}
