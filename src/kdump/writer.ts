// Writes a kdump-compressed file as positioned writes: header, sub-header and notes, bitmaps, then descriptors and pages cycle by cycle.

import type { Endian } from '../elf/byte-order.js';
import type { PageSelection } from '../mm/page-selection.js';
import { encodeHeader, encodeSubHeader, KDUMP_HEADER_VERSION } from './header.js';
import { kdumpLayout, PAGE_DESC_SIZE, type KdumpLayout } from './layout.js';
import { writePageDesc, type PageDesc } from './page-desc.js';
import type { PageCompressor } from './compress.js';

/** Where the bytes go; the output owns every buffer handed to it. */
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
  onProgress?: (written: number) => void;
}

export interface KdumpWriteResult {
  layout: KdumpLayout;
  /** The file's size: the end of the page data. */
  size: number;
  zeroPages: number;
  rawPages: number;
  compressedPages: number;
}

const DEFAULT_BATCH_PAGES = 256;
const DESC_BATCH = 2730;
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
  await output.write(layout.subHeaderOffset, Buffer.concat([sub, meta.notes]));
  for await (const cycle of selection.cycles()) {
    await output.write(layout.bitmap1Offset + cycle.start / 8, Buffer.from(cycle.present));
  }

  const stats = { zeroPages: 0, rawPages: 0, compressedPages: 0 };
  const pages = new PageSink(layout, output, endian, options.onProgress);
  const zeroPage = Buffer.alloc(ps);
  let zeroDesc: PageDesc | undefined;
  if (options.dumpLevel & DUMP_LEVEL_EXCLUDE_ZERO) zeroDesc = await pages.addData(zeroPage, 0);
  const batchPages = options.batchPages ?? DEFAULT_BATCH_PAGES;
  for await (const cycle of selection.cycles()) {
    await output.write(layout.bitmap2Offset + cycle.start / 8, Buffer.from(cycle.dumpable));
    for (const [first, count] of dumpableRuns(cycle.dumpable, cycle.start, batchPages)) {
      const buf = Buffer.allocUnsafe(count * ps);
      await options.readPages(first, count, buf);
      const compressed = await compressor.compressPages(buf, count, ps);
      for (let i = 0; i < count; i++) {
        const page = buf.subarray(i * ps, (i + 1) * ps);
        if (zeroDesc && page.equals(zeroPage)) {
          stats.zeroPages++;
          await pages.addDesc(zeroDesc);
          continue;
        }
        const packed = compressed[i];
        if (packed) stats.compressedPages++;
        else stats.rawPages++;
        await pages.addDesc(await pages.addData(packed ?? page, packed ? compressor.flag : 0));
      }
    }
  }
  await pages.flush();
  if (pages.descriptors !== selection.dumpableCount) {
    throw new Error(`kdump writer: ${pages.descriptors} pages written, but the selection counted ${selection.dumpableCount}`);
  }
  return { layout, size: pages.dataEnd, ...stats };
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

/** Descriptors and page data, each batched into large positioned writes. */
class PageSink {
  descriptors = 0;
  dataEnd: number;
  private descBuf = Buffer.alloc(DESC_BATCH * PAGE_DESC_SIZE);
  private descFill = 0;
  private descStart: number;
  private data: Buffer[] = [];
  private dataBytes = 0;
  private dataStart: number;

  constructor(layout: KdumpLayout, private readonly output: PositionedOutput, private readonly endian: Endian, private readonly onProgress?: (written: number) => void) {
    this.dataEnd = layout.dataOffset;
    this.dataStart = layout.dataOffset;
    this.descStart = layout.descOffset;
  }

  async addData(bytes: Buffer, flags: number): Promise<PageDesc> {
    const desc = { offset: this.dataEnd, size: bytes.length, flags };
    this.data.push(bytes);
    this.dataBytes += bytes.length;
    this.dataEnd += bytes.length;
    if (this.dataBytes >= 1 << 20) await this.flushData();
    return desc;
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
    const bytes = Buffer.concat(this.data, this.dataBytes);
    const at = this.dataStart;
    this.data = [];
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
    this.descBuf = Buffer.alloc(DESC_BATCH * PAGE_DESC_SIZE);
    await this.output.write(at, bytes);
  }
}
