// Writes a kdump-compressed file as positioned writes: header, bitmaps, descriptors and pages cycle by cycle, then sub-header and notes.

import type { Endian } from '../elf/byte-order.js';
import type { PageSelection } from '../mm/page-selection.js';
import { encodeHeader, encodeSubHeader, KDUMP_HEADER_VERSION } from './header.js';
import { kdumpLayout, PAGE_DESC_SIZE, type KdumpLayout } from './layout.js';
import { writePageDesc, type PageDesc } from './page-desc.js';
import type { PackedBatch, PageCompressor } from './page-pack.js';

/** Where the bytes go; once a write resolves, the output is done with its buffer, which the writer reuses. */
export interface PositionedOutput {
  write(offset: number, bytes: Buffer): Promise<void>;
}

/** Fills `buf` with `count` pages from `firstPfn` on; every one of them is dumpable. */
export type PageReader = (firstPfn: number, count: number, buf: Buffer) => Promise<void>;

export interface KdumpMetadata {
  endian: Endian;
  utsname: Buffer;
  crashTime: bigint;
  nrCpus: number;
  physBase: bigint;
  /** The notes as they go in the file: the input's, then slim-core's. */
  notes: Buffer;
  /** The VMCOREINFO descriptor inside `notes`, or undefined. */
  vmcoreinfo?: { offset: number; size: number };
}

export interface KdumpWriteOptions {
  meta: KdumpMetadata;
  selection: PageSelection;
  readPages: PageReader;
  compressor: PageCompressor;
  dumpLevel: number;
  output: PositionedOutput;
  /** Pages read and compressed at once. */
  batchPages?: number;
  /** Bytes of batches (pages and packed output) read but not yet written: what bounds memory, whatever the threads. */
  inFlightBytes?: number;
  onProgress?: (written: number) => void;
  /** The notes as they go out once the pages are written (the same length as meta.notes), given what the writer found. */
  finalNotes?: (found: { zeroPages: number }) => Buffer;
}

export interface KdumpWriteResult {
  layout: KdumpLayout;
  /** The file's size: the end of the page data. */
  size: number;
  zeroPages: number;
  rawPages: number;
  compressedPages: number;
}

const DEFAULT_BATCH_PAGES = 128;
const DEFAULT_IN_FLIGHT_BYTES = 8 << 20;
const DESC_BATCH = 2730;
const DATA_CHUNK = 1 << 20;
const DUMP_LEVEL_EXCLUDE_ZERO = 1;

export async function writeKdump(options: KdumpWriteOptions): Promise<KdumpWriteResult> {
  const { meta, selection, compressor, output } = options;
  const { endian } = meta;
  const ps = selection.pageSize;
  const layout = kdumpLayout(ps, meta.notes.length, selection.maxMapnr, selection.dumpableCount);
  const header = encodeHeader(
    {
      version: KDUMP_HEADER_VERSION,
      utsname: meta.utsname,
      timestampSec: meta.crashTime,
      status: compressor.flag,
      blockSize: ps,
      subHdrSize: layout.subHdrSize,
      bitmapBlocks: layout.bitmapBlocks,
      maxMapnr32: Math.min(selection.maxMapnr, 0xffffffff),
      nrCpus: meta.nrCpus,
    },
    endian,
  );
  const sub = encodeSubHeader(
    {
      physBase: meta.physBase,
      dumpLevel: options.dumpLevel,
      offsetVmcoreinfo: meta.vmcoreinfo ? BigInt(layout.notesOffset + meta.vmcoreinfo.offset) : 0n,
      sizeVmcoreinfo: BigInt(meta.vmcoreinfo?.size ?? 0),
      offsetNote: BigInt(layout.notesOffset),
      sizeNote: BigInt(meta.notes.length),
      maxMapnr64: BigInt(selection.maxMapnr),
    },
    endian,
  );
  await output.write(0, header);
  for await (const cycle of selection.cycles()) {
    await output.write(layout.bitmap1Offset + cycle.start / 8, bufferView(cycle.present));
  }

  const stats = { zeroPages: 0, rawPages: 0, compressedPages: 0 };
  const pages = new PageSink(layout, output, endian, options.onProgress);
  const findZeroPages = (options.dumpLevel & DUMP_LEVEL_EXCLUDE_ZERO) !== 0;
  const zeroDesc = findZeroPages ? await pages.addData(Buffer.alloc(ps), 0) : undefined;
  const batchPages = options.batchPages ?? DEFAULT_BATCH_PAGES;
  const batchBytes = batchPages * ps;
  // A slot is a batch's pages and its packed output, shared with the workers and reused.
  const slotCount = Math.max(2, Math.floor((options.inFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES) / (2 * batchBytes)));
  const free: Slot[] = Array.from({ length: slotCount }, () => ({ pages: new SharedArrayBuffer(batchBytes), out: new SharedArrayBuffer(batchBytes) }));
  const inFlight: Packing[] = [];
  /** The oldest batch, once packed: rather than wait for a worker, this thread packs what no worker has started. */
  const oldest = async (): Promise<PackedBatch> => {
    const head = inFlight.shift()!;
    // A microtask lets the head's `done` catch up with a batch packed just now.
    while (!head.done && compressor.packWaiting?.()) await null;
    return head.packed;
  };

  const store = async (packed: PackedBatch) => {
    let offset = await pages.addBytes(Buffer.from(packed.out, 0, packed.total));
    for (const size of packed.sizes) {
      if (size === 0) {
        stats.zeroPages++;
        await pages.addDesc(zeroDesc!);
        continue;
      }
      const raw = size === ps;
      if (raw) stats.rawPages++;
      else stats.compressedPages++;
      await pages.addDesc({ offset, size, flags: raw ? 0 : compressor.flag });
      offset += size;
    }
    free.push({ pages: packed.pages, out: packed.out });
  };

  try {
    for await (const cycle of selection.cycles()) {
      await output.write(layout.bitmap2Offset + cycle.start / 8, bufferView(cycle.dumpable));
      for (const runs of pageBatches(cycle.dumpable, cycle.start, batchPages)) {
        if (free.length === 0) await store(await oldest());
        const slot = free.pop()!;
        let count = 0;
        for (const [first, n] of runs) {
          await options.readPages(first, n, Buffer.from(slot.pages, count * ps, n * ps));
          count += n;
        }
        const packing: Packing = { packed: compressor.pack({ pages: slot.pages, out: slot.out, count, pageSize: ps, findZeroPages }), done: false };
        // Settled in order below, or abandoned when an earlier batch failed: never an unhandled rejection.
        packing.packed.then(
          () => void (packing.done = true),
          () => void (packing.done = true),
        );
        inFlight.push(packing);
      }
    }
    while (inFlight.length > 0) await store(await oldest());
  } finally {
    await Promise.allSettled(inFlight.map((p) => p.packed));
  }
  await pages.flush();
  if (pages.descriptors !== selection.dumpableCount) {
    throw new Error(`kdump writer: ${pages.descriptors} pages written, but the selection counted ${selection.dumpableCount}`);
  }
  // Last, so that counts found while writing (zero pages) are in the notes on any output, flattened ones included.
  const notes = options.finalNotes?.({ zeroPages: stats.zeroPages }) ?? meta.notes;
  if (notes.length !== meta.notes.length) throw new Error(`kdump writer: final notes of ${notes.length} bytes, but ${meta.notes.length} were laid out`);
  await output.write(layout.subHeaderOffset, Buffer.concat([sub, notes]));
  return { layout, size: pages.dataEnd, ...stats };
}

/** The bitmap's bytes without a copy: the output copies what it keeps past the write. */
function bufferView(bitmap: Uint8Array): Buffer {
  return Buffer.from(bitmap.buffer, bitmap.byteOffset, bitmap.byteLength);
}

/** Runs of set bits, each cut to at most `max` pfns: [first pfn, count]. */
export function* dumpableRuns(bitmap: Uint8Array, base: number, max: number): Generator<[number, number]> {
  const bits = bitmap.length * 8;
  let i = 0;
  while (i < bits) {
    if (bitmap[i >>> 3] === 0 && (i & 7) === 0) {
      i += 8;
      continue;
    }
    if (!(bitmap[i >>> 3] & (1 << (i & 7)))) {
      i++;
      continue;
    }
    const start = i;
    while (i < bits && i - start < max && bitmap[i >>> 3] & (1 << (i & 7))) i++;
    yield [base + start, i - start];
  }
}

/** Dumpable pages in pfn order, cut into batches of at most `max` pages: each a list of runs [first pfn, count]. */
export function* pageBatches(bitmap: Uint8Array, base: number, max: number): Generator<Array<[number, number]>> {
  let batch: Array<[number, number]> = [];
  let fill = 0;
  for (let [first, count] of dumpableRuns(bitmap, base, max)) {
    while (count > 0) {
      const take = Math.min(count, max - fill);
      batch.push([first, take]);
      fill += take;
      first += take;
      count -= take;
      if (fill === max) {
        yield batch;
        batch = [];
        fill = 0;
      }
    }
  }
  if (fill > 0) yield batch;
}

interface Slot {
  pages: ArrayBuffer | SharedArrayBuffer;
  out: ArrayBuffer | SharedArrayBuffer;
}

interface Packing {
  packed: Promise<PackedBatch>;
  done: boolean;
}

/** Descriptors and page data, each batched into large positioned writes. */
class PageSink {
  descriptors = 0;
  dataEnd: number;
  private readonly descBuf = Buffer.alloc(DESC_BATCH * PAGE_DESC_SIZE);
  private descFill = 0;
  private descStart: number;
  // Reused after each write: a fresh 1 MiB per write is memory outside V8's heap, which it collects only late.
  private readonly chunk = Buffer.allocUnsafeSlow(DATA_CHUNK);
  private dataBytes = 0;
  private dataStart: number;

  constructor(layout: KdumpLayout, private readonly output: PositionedOutput, private readonly endian: Endian, private readonly onProgress?: (written: number) => void) {
    this.dataEnd = layout.dataOffset;
    this.dataStart = layout.dataOffset;
    this.descStart = layout.descOffset;
  }

  async addData(bytes: Buffer, flags: number): Promise<PageDesc> {
    return { offset: await this.addBytes(bytes), size: bytes.length, flags };
  }

  /** Copies `bytes` (the caller reuses its buffers) into the one data buffer; returns their offset. */
  async addBytes(bytes: Buffer): Promise<number> {
    const offset = this.dataEnd;
    this.dataEnd += bytes.length;
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, DATA_CHUNK - this.dataBytes);
      bytes.copy(this.chunk, this.dataBytes, at, at + n);
      this.dataBytes += n;
      at += n;
      if (this.dataBytes === DATA_CHUNK) await this.flushData();
    }
    return offset;
  }

  async addDesc(desc: PageDesc): Promise<void> {
    writePageDesc(this.descBuf, this.descFill * PAGE_DESC_SIZE, desc, this.endian);
    this.descFill++;
    this.descriptors++;
    if (this.descFill === DESC_BATCH) await this.flushDescs();
  }

  async flush(): Promise<void> {
    await this.flushData();
    await this.flushDescs();
  }

  private async flushData(): Promise<void> {
    if (this.dataBytes === 0) return;
    const bytes = this.chunk.subarray(0, this.dataBytes);
    const at = this.dataStart;
    this.dataStart += this.dataBytes;
    this.dataBytes = 0;
    await this.output.write(at, bytes);
    this.onProgress?.(this.dataStart);
  }

  private async flushDescs(): Promise<void> {
    if (this.descFill === 0) return;
    const bytes = this.descBuf.subarray(0, this.descFill * PAGE_DESC_SIZE);
    const at = this.descStart;
    this.descStart += bytes.length;
    this.descFill = 0;
    await this.output.write(at, bytes);
  }
}
