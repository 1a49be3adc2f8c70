// The kdump-compressed (diskdump) header and sub-header, version 6, 64-bit layout, in the dumped machine's byte order.

import { BadInputError } from '../errors.js';
import { hex, readU32, readU64, writeU32, writeU64, type Endian } from '../elf/byte-order.js';

export const KDUMP_SIGNATURE = 'KDUMP   ';
export const KDUMP_HEADER_VERSION = 6;
export const DISK_DUMP_HEADER_SIZE = 464;
export const KDUMP_SUB_HEADER_SIZE = 104;
export const UTSNAME_FIELD = 65;
export const UTSNAME_SIZE = 6 * UTSNAME_FIELD;

/** Header status and page_desc.flags bits. */
export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

const OFF = {
  signature: 0,
  version: 8,
  utsname: 12,
  timestampSec: 408,
  timestampUsec: 416,
  status: 424,
  blockSize: 428,
  subHdrSize: 432,
  bitmapBlocks: 436,
  maxMapnr32: 440,
  nrCpus: 460,
} as const;

const SUB = {
  physBase: 0,
  dumpLevel: 8,
  split: 12,
  startPfn: 16,
  endPfn: 24,
  offsetVmcoreinfo: 32,
  sizeVmcoreinfo: 40,
  offsetNote: 48,
  sizeNote: 56,
  offsetEraseinfo: 64,
  sizeEraseinfo: 72,
  startPfn64: 80,
  endPfn64: 88,
  maxMapnr64: 96,
} as const;

export interface DiskDumpHeader {
  version: number;
  /** 390 bytes: sysname, nodename, release, version, machine, domainname, 65 bytes each. */
  utsname: Buffer;
  timestampSec: bigint;
  status: number;
  blockSize: number;
  /** In blocks. */
  subHdrSize: number;
  /** Both bitmaps together, in blocks. */
  bitmapBlocks: number;
  maxMapnr32: number;
  nrCpus: number;
}

export interface KdumpSubHeader {
  /** Two's complement when negative. */
  physBase: bigint;
  dumpLevel: number;
  offsetVmcoreinfo: bigint;
  sizeVmcoreinfo: bigint;
  offsetNote: bigint;
  sizeNote: bigint;
  maxMapnr64: bigint;
}

export function encodeHeader(h: DiskDumpHeader, endian: Endian): Buffer {
  const out = Buffer.alloc(DISK_DUMP_HEADER_SIZE);
  out.write(KDUMP_SIGNATURE, OFF.signature, 'latin1');
  writeU32(out, OFF.version, h.version, endian);
  h.utsname.copy(out, OFF.utsname, 0, Math.min(h.utsname.length, UTSNAME_SIZE));
  writeU64(out, OFF.timestampSec, h.timestampSec, endian);
  // tv_usec stays 0: libkdumpfile tries the 32-bit layout first, whose block_size falls here.
  writeU64(out, OFF.timestampUsec, 0n, endian);
  writeU32(out, OFF.status, h.status, endian);
  writeU32(out, OFF.blockSize, h.blockSize, endian);
  writeU32(out, OFF.subHdrSize, h.subHdrSize, endian);
  writeU32(out, OFF.bitmapBlocks, h.bitmapBlocks, endian);
  writeU32(out, OFF.maxMapnr32, h.maxMapnr32, endian);
  writeU32(out, OFF.nrCpus, h.nrCpus, endian);
  return out;
}

export function encodeSubHeader(s: KdumpSubHeader, endian: Endian): Buffer {
  const out = Buffer.alloc(KDUMP_SUB_HEADER_SIZE);
  writeU64(out, SUB.physBase, BigInt.asUintN(64, s.physBase), endian);
  writeU32(out, SUB.dumpLevel, s.dumpLevel, endian);
  writeU64(out, SUB.offsetVmcoreinfo, s.offsetVmcoreinfo, endian);
  writeU64(out, SUB.sizeVmcoreinfo, s.sizeVmcoreinfo, endian);
  writeU64(out, SUB.offsetNote, s.offsetNote, endian);
  writeU64(out, SUB.sizeNote, s.sizeNote, endian);
  writeU64(out, SUB.maxMapnr64, s.maxMapnr64, endian);
  return out;
}

/** The byte order of a kdump header: the one in which block_size is a plausible page size. */
export function detectEndian(buf: Buffer): Endian | undefined {
  if (buf.length < DISK_DUMP_HEADER_SIZE || buf.toString('latin1', 0, 8) !== KDUMP_SIGNATURE) return undefined;
  for (const endian of ['le', 'be'] as const) {
    const bs = readU32(buf, OFF.blockSize, endian);
    if (bs >= 4096 && bs <= 262144 && (bs & (bs - 1)) === 0) return endian;
  }
  return undefined;
}

export function isKdumpSignature(buf: Buffer): boolean {
  return buf.length >= 8 && buf.toString('latin1', 0, 8) === KDUMP_SIGNATURE;
}

export function decodeHeader(buf: Buffer): { header: DiskDumpHeader; endian: Endian } {
  if (!isKdumpSignature(buf)) throw new BadInputError('kdump header: no "KDUMP   " signature at offset 0');
  if (buf.length < DISK_DUMP_HEADER_SIZE) throw new BadInputError(`kdump header: ${buf.length} bytes, ${DISK_DUMP_HEADER_SIZE} needed`);
  const endian = detectEndian(buf);
  if (!endian) throw new BadInputError(`kdump header: block_size at offset ${OFF.blockSize} is not a power of two in [4096, 262144] in either byte order`);
  const header: DiskDumpHeader = {
    version: readU32(buf, OFF.version, endian),
    utsname: Buffer.from(buf.subarray(OFF.utsname, OFF.utsname + UTSNAME_SIZE)),
    timestampSec: readU64(buf, OFF.timestampSec, endian),
    status: readU32(buf, OFF.status, endian),
    blockSize: readU32(buf, OFF.blockSize, endian),
    subHdrSize: readU32(buf, OFF.subHdrSize, endian),
    bitmapBlocks: readU32(buf, OFF.bitmapBlocks, endian),
    maxMapnr32: readU32(buf, OFF.maxMapnr32, endian),
    nrCpus: readU32(buf, OFF.nrCpus, endian),
  };
  if (header.version < 1 || header.version > 64) throw new BadInputError(`kdump header: header_version ${header.version} is not one this reader knows (1 to 6)`);
  return { header, endian };
}

export function decodeSubHeader(buf: Buffer, endian: Endian, where: number): KdumpSubHeader {
  if (buf.length < KDUMP_SUB_HEADER_SIZE) throw new BadInputError(`kdump sub-header at offset ${hex(where)}: ${buf.length} bytes, ${KDUMP_SUB_HEADER_SIZE} needed`);
  return {
    physBase: BigInt.asIntN(64, readU64(buf, SUB.physBase, endian)),
    dumpLevel: readU32(buf, SUB.dumpLevel, endian),
    offsetVmcoreinfo: readU64(buf, SUB.offsetVmcoreinfo, endian),
    sizeVmcoreinfo: readU64(buf, SUB.sizeVmcoreinfo, endian),
    offsetNote: readU64(buf, SUB.offsetNote, endian),
    sizeNote: readU64(buf, SUB.sizeNote, endian),
    maxMapnr64: readU64(buf, SUB.maxMapnr64, endian),
  };
}

/** One utsname field, 65 bytes NUL-padded (longer text is cut). */
export function utsnameFields(fields: readonly string[]): Buffer {
  const out = Buffer.alloc(UTSNAME_SIZE);
  fields.slice(0, 6).forEach((text, i) => out.write(text.slice(0, UTSNAME_FIELD - 1), i * UTSNAME_FIELD, 'latin1'));
  return out;
}

export function utsnameField(utsname: Buffer, index: number): string {
  const field = utsname.subarray(index * UTSNAME_FIELD, (index + 1) * UTSNAME_FIELD);
  const nul = field.indexOf(0);
  return field.toString('latin1', 0, nul < 0 ? field.length : nul);
}
