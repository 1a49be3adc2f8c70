// Benchmark inputs: synthetic vmcores with real-looking notes and many PT_LOADs, filled with data or sparse, and fault lists.

import { open, writeFile } from 'node:fs/promises';
import { makeSyntheticVmcore, segmentByte, type SyntheticSegment } from '../test/helpers/synthetic-vmcore.js';

const PAGE = 4096;
const SEGMENT_COUNT = 64;
const CPU_COUNT = 16;
const WRITE_CHUNK = 1 << 20;
// ELF64 offsets; the generator writes ELF64 little-endian by default.
const E_PHOFF = 0x20;
const E_PHENTSIZE = 0x36;
const P_TYPE = 0;
const P_OFFSET = 8;
const P_VADDR = 16;
const P_PADDR = 24;
const P_FILESZ = 32;
const P_MEMSZ = 40;
const PT_LOAD = 1;
/** x86-64's direct map, where a kdump kernel's RAM segments have their virtual addresses. */
const DIRECT_MAP = 0xffff888000000000n;

export interface BenchSegment {
  paddr: bigint;
  fileOffset: number;
  size: number;
  /** p_memsz when above p_filesz (`size`): a zero-fill tail. */
  memsz?: number;
}

export interface BenchInput {
  path: string;
  bytes: number;
  sparse: boolean;
  segments: BenchSegment[];
}

/** Uneven segment sizes with holes between them in physical memory, as on a real machine's e820 map. */
function segmentSizes(dataBytes: number): number[] {
  const pages = Math.floor(dataBytes / PAGE);
  const weights = Array.from({ length: SEGMENT_COUNT }, (_, i) => 1 + ((i * 7919) % 13));
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((pages * w) / total)));
  sizes[sizes.length - 1] += pages - sizes.reduce((a, b) => a + b, 0);
  return sizes.map((p) => p * PAGE);
}

/**
 * The generator writes every data byte, far too slow for 1 TiB, so the headers and notes come from it with empty
 * segments and this file patches in the real offsets and sizes.
 */
function buildPrefix(totalBytes: number): { prefix: Buffer; segments: BenchSegment[] } {
  const probe = makeSyntheticVmcore({ cpus: CPU_COUNT, segments: Array.from({ length: SEGMENT_COUNT }, (_, i) => ({ paddr: BigInt((i + 1) * PAGE), size: 0 })) });
  const prefix = probe.bytes;
  const dataStart = Math.ceil(prefix.length / PAGE) * PAGE;
  const sizes = segmentSizes(totalBytes - dataStart);
  const segments: BenchSegment[] = [];
  let paddr = 0x1000n;
  let fileOffset = dataStart;
  for (const [i, size] of sizes.entries()) {
    segments.push({ paddr, fileOffset, size });
    paddr += BigInt(size) + BigInt(((i % 5) + 1) * 2 * 1024 * 1024);
    fileOffset += size;
  }
  placeLoads(prefix, segments);
  return { prefix, segments };
}

/**
 * Rewrites a generated prefix's PT_LOADs, in table order, to describe `segments` (file offset, size, physical and
 * direct-map address). The table is read entry by entry, so extended numbering (e_phnum PN_XNUM) needs no care here.
 */
export function placeLoads(prefix: Buffer, segments: readonly BenchSegment[]): void {
  const phoff = Number(prefix.readBigUInt64LE(E_PHOFF));
  const phentsize = prefix.readUInt16LE(E_PHENTSIZE);
  let load = 0;
  for (let at = phoff; load < segments.length; at += phentsize) {
    if (at + phentsize > prefix.length) throw new Error(`synthetic prefix has ${load} PT_LOADs, expected ${segments.length}`);
    if (prefix.readUInt32LE(at + P_TYPE) !== PT_LOAD) continue;
    const seg = segments[load++];
    prefix.writeBigUInt64LE(BigInt(seg.fileOffset), at + P_OFFSET);
    prefix.writeBigUInt64LE(BigInt(seg.size), at + P_FILESZ);
    prefix.writeBigUInt64LE(BigInt(seg.memsz ?? seg.size), at + P_MEMSZ);
    prefix.writeBigUInt64LE(seg.paddr, at + P_PADDR);
    prefix.writeBigUInt64LE(DIRECT_MAP + seg.paddr, at + P_VADDR);
  }
}

/** Non-zero bytes; each page is stamped with its file offset so that no two pages are alike. */
function fillChunk(chunk: Buffer, fileOffset: number): void {
  for (let page = 0; page < chunk.length; page += PAGE) chunk.writeBigUInt64LE(BigInt(fileOffset + page) | 1n, page);
}

export async function writeBenchInput(path: string, totalBytes: number, sparse: boolean): Promise<BenchInput> {
  const { prefix, segments } = buildPrefix(totalBytes);
  const fh = await open(path, 'w');
  try {
    await fh.write(prefix, 0, prefix.length, 0);
    if (!sparse) {
      const pattern: SyntheticSegment = { paddr: 0x1000n, size: WRITE_CHUNK };
      const chunk = Buffer.alloc(WRITE_CHUNK);
      for (let i = 0; i < WRITE_CHUNK; i++) chunk[i] = segmentByte(pattern, i);
      for (const seg of segments) {
        for (let done = 0; done < seg.size; done += WRITE_CHUNK) {
          const part = chunk.subarray(0, Math.min(WRITE_CHUNK, seg.size - done));
          fillChunk(part, seg.fileOffset + done);
          await fh.write(part, 0, part.length, seg.fileOffset + done);
        }
      }
    }
    await fh.truncate(totalBytes);
  } finally {
    await fh.close();
  }
  return { path, bytes: totalBytes, sparse, segments };
}

/** One page address per line, spread evenly over all the input's pages; returns how many were written. */
export async function writeFaultsFile(path: string, input: BenchInput, wanted: number): Promise<number> {
  const totalPages = input.segments.reduce((n, s) => n + s.size / PAGE, 0);
  // At most every other page, else "faults" would be most of the dump on small --quick inputs.
  const count = Math.min(wanted, Math.floor(totalPages / 2));
  const lines: string[] = [];
  let seg = 0;
  let pagesBefore = 0;
  for (let k = 0; k < count; k++) {
    const page = Math.floor(((k + 0.5) * totalPages) / count);
    while (page >= pagesBefore + input.segments[seg].size / PAGE) pagesBefore += input.segments[seg++].size / PAGE;
    lines.push(`0x${(input.segments[seg].paddr + BigInt((page - pagesBefore) * PAGE)).toString(16)}`);
  }
  await writeFile(path, `${lines.join('\n')}\n`);
  return count;
}
