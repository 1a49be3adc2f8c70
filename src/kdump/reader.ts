// Reads a kdump-compressed file: header, sub-header, notes, bitmap 2 with a rank index, and pages by physical address.

import { BadInputError } from '../errors.js';
import { hex, type Endian } from '../elf/byte-order.js';
import { parseNotes, type NoteList } from '../elf/note.js';
import { isVmcoreinfo, parseVmcoreinfo } from '../elf/vmcoreinfo.js';
import type { PhysicalMemory } from '../klog/physical-memory.js';
import { MAX_NOTE_SEGMENT } from '../dump/prefix.js';
import { POPCOUNT_BYTE } from '../mm/page-selection.js';
import {
  decodeHeader,
  decodeSubHeader,
  DISK_DUMP_HEADER_SIZE,
  KDUMP_SUB_HEADER_SIZE,
  type DiskDumpHeader,
  type KdumpSubHeader,
} from './header.js';
import { PAGE_DESC_SIZE } from './layout.js';
import { decompressPage } from './compress.js';
import { readPageDesc } from './page-desc.js';

/** Reads of the plain kdump file: short at its end. */
export type ReadAt = (fileOffset: number, length: number) => Buffer;

/** A 64 MiB bitmap 2: 2^29 pages, 2 TiB of 4 KiB pages. */
export const MAX_BITMAP_BYTES = 64 << 20;
/** Pfns per rank entry. */
const RANK_STEP = 4096;

export interface KdumpFile {
  header: DiskDumpHeader;
  sub: KdumpSubHeader;
  endian: Endian;
  maxMapnr: number;
  dumpablePages: number;
  noteSegment: Buffer;
  notes: NoteList;
  vmcoreinfo?: Map<string, string>;
  /** Reads kept pages; a page outside bitmap 2 (excluded) makes the read come back undefined. */
  memory: PhysicalMemory;
}

function readExactly(readAt: ReadAt, offset: number, length: number, what: string): Buffer {
  const got = readAt(offset, length);
  if (got.length < length) throw new BadInputError(`kdump file ends at offset ${hex(offset + got.length)}, inside ${what} (${length} bytes at ${hex(offset)})`);
  return got;
}

/** Call loadCodecs() first when the pages may be zstd. */
export function openKdump(readAt: ReadAt): KdumpFile {
  const { header, endian } = decodeHeader(readExactly(readAt, 0, DISK_DUMP_HEADER_SIZE, 'the kdump header'));
  const bs = header.blockSize;
  const sub = decodeSubHeader(readExactly(readAt, bs, KDUMP_SUB_HEADER_SIZE, 'the kdump sub-header'), endian, bs);
  const maxMapnr = header.version >= 6 ? Number(sub.maxMapnr64) : header.maxMapnr32;
  const bitmapBytes = (header.bitmapBlocks / 2) * bs;
  if (!Number.isSafeInteger(maxMapnr) || maxMapnr > bitmapBytes * 8) {
    throw new BadInputError(`kdump header: max_mapnr ${maxMapnr} does not fit bitmaps of ${header.bitmapBlocks} blocks`);
  }
  if (header.bitmapBlocks % 2 !== 0 || bitmapBytes > MAX_BITMAP_BYTES) {
    throw new BadInputError(`kdump header: bitmap_blocks ${header.bitmapBlocks} (${bitmapBytes} bytes per bitmap) is odd or over the limit of ${MAX_BITMAP_BYTES}`);
  }
  const bitmap1Offset = (1 + header.subHdrSize) * bs;
  const descOffset = bitmap1Offset + header.bitmapBlocks * bs;
  const sizeNote = Number(sub.sizeNote);
  const offsetNote = Number(sub.offsetNote);
  let noteSegment: Buffer = Buffer.alloc(0);
  if (header.version >= 4 && sizeNote > 0) {
    if (sizeNote > MAX_NOTE_SEGMENT || offsetNote < bs || offsetNote + sizeNote > bitmap1Offset) {
      throw new BadInputError(`kdump sub-header: notes of ${hex(sub.sizeNote)} bytes at ${hex(sub.offsetNote)} lie outside the sub-header blocks (before ${hex(bitmap1Offset)})`);
    }
    noteSegment = readExactly(readAt, offsetNote, sizeNote, 'the notes');
  }
  const notes = parseNotes(noteSegment, endian, 'kdump notes', offsetNote);
  const infoNote = notes.notes.find(isVmcoreinfo);
  const bitmap2 = readExactly(readAt, bitmap1Offset + bitmapBytes, Math.ceil(maxMapnr / 8), 'bitmap 2');
  const rank = new Float64Array(Math.ceil(maxMapnr / RANK_STEP) + 1);
  for (let i = 0, total = 0; i < bitmap2.length; i++) {
    if ((i * 8) % RANK_STEP === 0) rank[(i * 8) / RANK_STEP] = total;
    total += POPCOUNT_BYTE[bitmap2[i]];
    rank[rank.length - 1] = total;
  }
  const dumpablePages = rank[rank.length - 1];
  const isDumpable = (pfn: number) => pfn < maxMapnr && (bitmap2[pfn >>> 3] & (1 << (pfn & 7))) !== 0;
  const indexOf = (pfn: number) => {
    let k = rank[Math.floor(pfn / RANK_STEP)];
    for (let p = Math.floor(pfn / RANK_STEP) * RANK_STEP; p < pfn; p++) if (isDumpable(p)) k++;
    return k;
  };

  let cached: { pfn: number; bytes: Buffer } | undefined;
  const readPage = (pfn: number): Buffer => {
    if (cached?.pfn === pfn) return cached.bytes;
    const where = `kdump page ${hex(pfn)}`;
    const desc = readPageDesc(readExactly(readAt, descOffset + indexOf(pfn) * PAGE_DESC_SIZE, PAGE_DESC_SIZE, `the descriptor of ${where}`), 0, endian);
    if (desc.size > bs || desc.size === 0 || desc.offset < BigInt(descOffset) || desc.offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new BadInputError(`${where}: descriptor says ${desc.size} bytes at ${hex(desc.offset)}, not within one block after the descriptors`);
    }
    const data = readExactly(readAt, Number(desc.offset), desc.size, `the data of ${where}`);
    let page: Buffer;
    if (desc.flags === 0) {
      if (desc.size !== bs) throw new BadInputError(`${where}: stored raw in ${desc.size} bytes, not ${bs}`);
      page = data;
    } else {
      page = decompressPage(desc.flags, data, bs, where);
    }
    cached = { pfn, bytes: page };
    return page;
  };

  const memory: PhysicalMemory = {
    read(paddr, length) {
      if (!Number.isSafeInteger(length) || length < 0 || length > 1 << 30 || paddr < 0n) return undefined;
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const at = paddr + BigInt(done);
        const pfn = Number(at / BigInt(bs));
        if (!isDumpable(pfn)) return undefined;
        const inPage = Number(at % BigInt(bs));
        const take = Math.min(bs - inPage, length - done);
        readPage(pfn).copy(out, done, inPage, inPage + take);
        done += take;
      }
      return out;
    },
  };
  return { header, sub, endian, maxMapnr, dumpablePages, noteSegment, notes, vmcoreinfo: infoNote ? parseVmcoreinfo(infoNote.desc) : undefined, memory };
}
