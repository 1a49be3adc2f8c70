// The 24-byte page descriptor: where a dumpable page's bytes are, how long, and how they are compressed.

import { readU32, readU64, writeU32, writeU64, type Endian } from '../elf/byte-order.js';
import { PAGE_DESC_SIZE } from './layout.js';

export interface PageDesc {
  /** Absolute file offset of the page's bytes. */
  offset: number;
  size: number;
  /** 0 for a raw page, else the compression bit (DUMP_DH_COMPRESSED_*). */
  flags: number;
}

export function writePageDesc(out: Buffer, at: number, desc: PageDesc, endian: Endian): void {
  writeU64(out, at, BigInt(desc.offset), endian);
  writeU32(out, at + 8, desc.size, endian);
  writeU32(out, at + 12, desc.flags, endian);
  writeU64(out, at + 16, 0n, endian);
}

export function readPageDesc(buf: Buffer, at: number, endian: Endian): { offset: bigint; size: number; flags: number } {
  return { offset: BigInt.asIntN(64, readU64(buf, at, endian)), size: readU32(buf, at + 8, endian), flags: readU32(buf, at + 12, endian) };
}

export { PAGE_DESC_SIZE };
