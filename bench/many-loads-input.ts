// Benchmark input: a vmcore with as many one-page PT_LOADs as slim-core accepts, for peak RSS with the largest table.

import { open } from 'node:fs/promises';
import { makeSyntheticVmcore } from '../test/helpers/synthetic-vmcore.js';

const PAGE = 4096;
// ELF64 little-endian program header fields, as the generator writes them.
const E_PHOFF = 0x20;
const E_PHENTSIZE = 0x36;
const P_TYPE = 0;
const P_OFFSET = 8;
const P_VADDR = 16;
const P_PADDR = 24;
const P_FILESZ = 32;
const P_MEMSZ = 40;
const PT_LOAD = 1;
const DIRECT_MAP = 0xffff888000000000n;

/**
 * `loads` PT_LOADs of one page each, a page apart in physical memory (so no two merge), their data pages sparse but
 * for an 8-byte stamp, so that -d 31 keeps every one and writes as many output PT_LOADs.
 */
export async function writeManyLoadsInput(path: string, loads: number): Promise<void> {
  const probe = makeSyntheticVmcore({ cpus: 4, extendedNumbering: loads + 1 >= 0xffff, segments: Array.from({ length: loads }, (_, i) => ({ paddr: BigInt(i * 2 * PAGE), size: 0 })) });
  const prefix = probe.bytes;
  const phoff = Number(prefix.readBigUInt64LE(E_PHOFF));
  const phentsize = prefix.readUInt16LE(E_PHENTSIZE);
  const dataStart = Math.ceil(prefix.length / PAGE) * PAGE;
  const fh = await open(path, 'w');
  try {
    let load = 0;
    const stamps = Buffer.alloc(loads * 8);
    for (let at = phoff; load < loads; at += phentsize) {
      if (prefix.readUInt32LE(at + P_TYPE) !== PT_LOAD) continue;
      const paddr = BigInt(load * 2 * PAGE);
      prefix.writeBigUInt64LE(BigInt(dataStart + load * PAGE), at + P_OFFSET);
      prefix.writeBigUInt64LE(BigInt(PAGE), at + P_FILESZ);
      prefix.writeBigUInt64LE(BigInt(PAGE), at + P_MEMSZ);
      prefix.writeBigUInt64LE(paddr, at + P_PADDR);
      prefix.writeBigUInt64LE(DIRECT_MAP + paddr, at + P_VADDR);
      stamps.writeBigUInt64LE(paddr | 1n, load * 8);
      load++;
    }
    await fh.write(prefix, 0, prefix.length, 0);
    for (let i = 0; i < loads; i++) await fh.write(stamps, i * 8, 8, dataStart + i * PAGE);
    await fh.truncate(dataStart + loads * PAGE);
  } finally {
    await fh.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count] = process.argv.slice(2);
  await writeManyLoadsInput(path, Number(count));
}
