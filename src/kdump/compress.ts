// The kdump format's page codecs: loading them, compressing one page into a batch's output, decompressing a stored page.

import { inflateSync } from 'node:zlib';
import { BadInputError, UsageError } from '../errors.js';
import { zlibPageCodec } from './zlib-page.js';
import { DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD } from './header.js';

import { COMPRESSION_NAMES, type CompressionName } from './choices.js';

export { COMPRESSION_NAMES, type CompressionName } from './choices.js';

export const COMPRESSION_FLAGS: Record<CompressionName, number> = {
  zlib: DUMP_DH_COMPRESSED_ZLIB,
  snappy: DUMP_DH_COMPRESSED_SNAPPY,
  zstd: DUMP_DH_COMPRESSED_ZSTD,
  none: 0,
};

/**
 * Compresses one page into `out` at `at` (room for a whole page there): the compressed length when it is strictly
 * smaller than the page, else 0 (the page is stored raw).
 */
export type PageCodec = (page: Buffer, out: Buffer, at: number) => number;

type Snappy = typeof import('snappy');
type Zstd = typeof import('@bokuweb/zstd-wasm');
let snappy: Snappy | undefined;
let zstd: Zstd | undefined;
const loadErrors = new Map<string, string>();
const loading = new Map<'snappy' | 'zstd', Promise<void>>();

const loaders = {
  snappy: () => import('snappy').then((m) => void (snappy = m)),
  zstd: () =>
    import('@bokuweb/zstd-wasm').then(async (m) => {
      await m.init();
      zstd = m;
    }),
};

/**
 * snappy (a native binding) and zstd (WebAssembly) are loaded once, and only by the kdump format: an ELF capture never
 * pays for them, a zlib one (and each of its workers) neither, and a codec that cannot load fails only when it is used.
 */
export function loadCodecs(names: readonly CompressionName[] = COMPRESSION_NAMES): Promise<void> {
  const wanted = names.filter((n): n is 'snappy' | 'zstd' => n === 'snappy' || n === 'zstd');
  return Promise.all(
    wanted.map((name) => {
      let done = loading.get(name);
      if (!done) {
        done = loaders[name]().catch((err: Error) => void loadErrors.set(name, err.message.split('\n')[0]));
        loading.set(name, done);
      }
      return done;
    }),
  ).then(() => undefined);
}

function need<T>(codec: T | undefined, name: string, error: (message: string) => Error): T {
  if (!codec) throw error(`${name} is not available here: ${loadErrors.get(name) ?? 'not loaded'}`);
  return codec;
}

function copyIfSmaller(packed: Uint8Array, page: Buffer, out: Buffer, at: number): number {
  if (packed.length >= page.length) return 0;
  out.set(packed, at);
  return packed.length;
}

/** The codec for a method; call loadCodecs() first. Levels as makedumpfile's: zlib and zstd at 1. */
export function pageCodec(name: CompressionName): PageCodec | undefined {
  switch (name) {
    case 'zlib':
      return zlibPageCodec();
    case 'snappy': {
      const { compressSync } = need(snappy, 'snappy', (m) => new UsageError(`--compress snappy: ${m}`));
      // A copy in the V8 heap: external buffers, one per page, pile up to 64 MiB a thread before V8 collects them.
      return (page, out, at) => copyIfSmaller(compressSync(page, { copyOutputData: true }), page, out, at);
    }
    case 'zstd': {
      const { compress } = need(zstd, 'zstd', (m) => new UsageError(`--compress zstd: ${m}`));
      return (page, out, at) => copyIfSmaller(compress(page, 1), page, out, at);
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
