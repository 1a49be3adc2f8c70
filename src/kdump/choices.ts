// The kdump format's choices as the command line shows them (codecs, compression threads), without loading any codec.

import { availableParallelism } from 'node:os';

/** No LZO: no maintained npm package ships it without a build step that downloads (docs/kdump-format.md). */
export type CompressionName = 'zlib' | 'zstd' | 'snappy' | 'none';
export const COMPRESSION_NAMES: readonly CompressionName[] = ['zlib', 'zstd', 'snappy', 'none'];

export const MAX_THREADS = 256;

/** One worker per core; on one core none (the calling thread packs): a worker would add its memory and no speed. */
export const defaultThreads = (): number => {
  const cores = availableParallelism();
  return cores > 1 ? Math.min(cores, MAX_THREADS) : 0;
};
