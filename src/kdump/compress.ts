// Page compressors for the kdump format: each returns a page's compressed bytes, or null when they are not strictly smaller.

import { deflateSync, inflateSync, constants as zlibConstants } from 'node:zlib';
import { BadInputError, UsageError } from '../errors.js';
import { DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD } from './header.js';

/** No LZO: no maintained npm package ships it without a build step that downloads (docs/kdump-format.md). */
export type CompressionName = 'zlib' | 'zstd' | 'snappy' | 'none';
export const COMPRESSION_NAMES: readonly CompressionName[] = ['zlib', 'zstd', 'snappy', 'none'];

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
  snappy: DUMP_DH_COMPRESSED_SNAPPY,
  zstd: DUMP_DH_COMPRESSED_ZSTD,
  none: 0,
};

/** One page: makedumpfile's zlib is a whole zlib stream at Z_BEST_SPEED. */
export type PageCodec = (page: Buffer) => Buffer;

type Snappy = typeof import('snappy');
type Zstd = typeof import('@bokuweb/zstd-wasm');
let snappy: Snappy | undefined;
let zstd: Zstd | undefined;
const loadErrors = new Map<string, string>();
let loaded: Promise<void> | undefined;

/**
 * snappy (a native binding) and zstd (WebAssembly) are loaded once, and only by the kdump format: an ELF capture never
 * pays for them, and a codec that cannot load fails only when it is used.
 */
export function loadCodecs(): Promise<void> {
  loaded ??= Promise.all([
    import('snappy').then((m) => void (snappy = m)).catch((err: Error) => void loadErrors.set('snappy', err.message.split('\n')[0])),
    import('@bokuweb/zstd-wasm')
      .then(async (m) => {
        await m.init();
        zstd = m;
      })
      .catch((err: Error) => void loadErrors.set('zstd', err.message.split('\n')[0])),
  ]).then(() => undefined);
  return loaded;
}

function need<T>(codec: T | undefined, name: string, error: (message: string) => Error): T {
  if (!codec) throw error(`${name} is not available here: ${loadErrors.get(name) ?? 'not loaded'}`);
  return codec;
}

/** The codec for a method; call loadCodecs() first. Levels as makedumpfile's: zlib and zstd at 1. */
export function pageCodec(name: CompressionName): PageCodec | undefined {
  switch (name) {
    case 'zlib':
      return (page) => deflateSync(page, { level: zlibConstants.Z_BEST_SPEED });
    case 'snappy': {
      const { compressSync } = need(snappy, 'snappy', (m) => new UsageError(`--compress snappy: ${m}`));
      return (page) => compressSync(page);
    }
    case 'zstd': {
      const { compress } = need(zstd, 'zstd', (m) => new UsageError(`--compress zstd: ${m}`));
      return (page) => Buffer.from(compress(page, 1));
    }
    case 'none':
      return undefined;
  }
}

/** A stored page back to its `pageSize` bytes, by its descriptor's flags; call loadCodecs() first. */
export function decompressPage(flags: number, data: Buffer, pageSize: number, where: string): Buffer {
  let page: Buffer;
  try {
    if (flags & DUMP_DH_COMPRESSED_ZLIB) page = inflateSync(data, { maxOutputLength: pageSize });
    else if (flags & DUMP_DH_COMPRESSED_SNAPPY) page = need(snappy, 'snappy', (m) => new BadInputError(`${where}: a snappy page, but ${m}`)).uncompressSync(data) as Buffer;
    else if (flags & DUMP_DH_COMPRESSED_ZSTD) page = Buffer.from(need(zstd, 'zstd', (m) => new BadInputError(`${where}: a zstd page, but ${m}`)).decompress(data));
    else throw new BadInputError(`${where}: compressed with flags 0x${flags.toString(16)}, which this reader cannot decompress (zlib, snappy, zstd)`);
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`${where}: the compressed data does not decompress: ${(err as Error).message}`);
  }
  if (page.length !== pageSize) throw new BadInputError(`${where}: decompresses to ${page.length} bytes, not ${pageSize}`);
  return page;
}

/** Keeps a compressed page only when it is strictly smaller than the page, as makedumpfile does. */
export function compressSmaller(codec: PageCodec, page: Buffer): Buffer | null {
  const out = codec(page);
  return out.length < page.length ? out : null;
}

/** Compresses on the calling thread. */
export async function inlineCompressor(name: CompressionName): Promise<PageCompressor> {
  await loadCodecs();
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
