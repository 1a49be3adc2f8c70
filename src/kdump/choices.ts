// The kdump format's choices as the command line shows them (codecs, compression threads), without loading any codec.

import { availableParallelism } from 'node:os';

/** No LZO: no maintained npm package ships it without a build step that downloads (docs/kdump-format.md). */
export type CompressionName = 'zlib' | 'zstd' | 'snappy' | 'none';
export const COMPRESSION_NAMES: readonly CompressionName[] = ['zlib', 'zstd', 'snappy', 'none'];

export const MAX_THREADS = 256;

/**
 * One worker per core but the one the main thread reads and writes on; on one core none (the calling thread packs).
 * On 2 cores, two workers beside the main thread were slower than one (bench/README.md, the kdump format).
 */
export const defaultThreads = (): number => Math.min(Math.max(availableParallelism() - 1, 0), MAX_THREADS);
