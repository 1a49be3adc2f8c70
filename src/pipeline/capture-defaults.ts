// The capture's defaults, apart from the pipeline so that the CLI can show them without loading it.

import type { CompressionName } from '../kdump/compress.js';

export const DEFAULT_CHUNK_SIZE = 4 << 20;
export const DEFAULT_COMPRESSION: CompressionName = 'zlib';
