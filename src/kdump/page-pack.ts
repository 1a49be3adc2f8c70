// Packs a batch of pages as the kdump file stores them: each compressed when strictly smaller, else raw; zero pages take no bytes.

import { COMPRESSION_FLAGS, loadCodecs, pageCodec, type CompressionName } from './compress.js';

/**
 * A batch on its way to be packed. Shared buffers are shared with a worker (and the calling thread may pack a batch
 * a worker has not started); plain ones are transferred, not copied, to a worker and back.
 */
export interface PackJob {
  /** `count` pages laid end to end. */
  pages: ArrayBuffer | SharedArrayBuffer;
  /** Room for `count` pages: the packed data, page after page. */
  out: ArrayBuffer | SharedArrayBuffer;
  count: number;
  pageSize: number;
  /** Dump level bit 1: zero pages are found and share one block. */
  findZeroPages: boolean;
}

export interface PackedBatch {
  pages: ArrayBuffer | SharedArrayBuffer;
  out: ArrayBuffer | SharedArrayBuffer;
  /** Per page, its bytes in `out`: 0 for a zero page, the page size for a raw page, fewer for a compressed one. */
  sizes: Int32Array;
  /** Bytes of `out` used. */
  total: number;
}

/** Takes a batch of shared buffers for this thread (a worker or the calling one): false when another already has. */
export function takeBatch(claim: Int32Array): boolean {
  return Atomics.compareExchange(claim, 0, 0, 1) === 0;
}

/** Packs jobs; what a worker runs, and what the calling thread runs with no workers. */
export type BatchPacker = (job: PackJob) => PackedBatch;

/** A page of one byte repeated (zeros, 0xcc padding, 0xff): page[1..] equals page[..-1]. */
function repeatedByte(page: Buffer): number {
  return page.compare(page, 0, page.length - 1, 1, page.length) === 0 ? page[0] : -1;
}

/** Call loadCodecs() first. */
export function batchPacker(method: CompressionName): BatchPacker {
  const codec = pageCodec(method);
  let pageSize = 0;
  // A codec gives the same bytes for the same page: a page of one repeated byte is compressed once per byte value.
  // At -d 0 most pages are zero pages, and each deflate of one costs more than the memcmp that finds it.
  let filled: Array<Buffer | undefined> = [];
  const packFilled = (byte: number, page: Buffer): Buffer => {
    let packed = filled[byte];
    if (!packed) {
      const room = Buffer.alloc(pageSize);
      const size = codec ? codec(page, room, 0) : 0;
      packed = size === 0 ? Buffer.from(page) : room.subarray(0, size);
      filled[byte] = packed;
    }
    return packed;
  };
  return (job) => {
    if (job.pageSize !== pageSize) {
      pageSize = job.pageSize;
      filled = [];
    }
    const pages = Buffer.from(job.pages, 0, job.count * pageSize);
    const out = Buffer.from(job.out);
    if (out.length < pages.length) throw new Error(`a batch of ${job.count} pages with ${out.length} bytes for its output`);
    const sizes = new Int32Array(job.count);
    let total = 0;
    for (let i = 0; i < job.count; i++) {
      const page = pages.subarray(i * pageSize, (i + 1) * pageSize);
      const byte = repeatedByte(page);
      if (byte === 0 && job.findZeroPages) continue;
      let size: number;
      if (byte >= 0) {
        const packed = packFilled(byte, page);
        out.set(packed, total);
        size = packed.length;
      } else {
        size = codec ? codec(page, out, total) : 0;
        if (size === 0) {
          out.set(page, total);
          size = pageSize;
        }
      }
      sizes[i] = size;
      total += size;
    }
    return { pages: job.pages, out: job.out, sizes, total };
  };
}

/** Packs batches of pages; `pack` may resolve out of order, the writer keeps the file's. */
export interface PageCompressor {
  name: CompressionName;
  /** The header's status bit and a compressed page's flags; 0 for none. */
  flag: number;
  pack(job: PackJob): Promise<PackedBatch>;
  /** Packs here the oldest batch of shared buffers that no worker has started; false when there is none. */
  packWaiting?(): boolean;
  close(): Promise<void>;
}

/** Packs on the calling thread (`--threads 0`). */
export async function inlineCompressor(name: CompressionName): Promise<PageCompressor> {
  await loadCodecs([name]);
  const pack = batchPacker(name);
  return { name, flag: COMPRESSION_FLAGS[name], pack: async (job) => pack(job), async close() {} };
}
