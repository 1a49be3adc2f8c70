// Benchmark input: a vmcore with as many one-page PT_LOADs as slim-core accepts, for peak RSS with the largest table.

import { open } from 'node:fs/promises';
import { makeSyntheticVmcore } from '../test/helpers/synthetic-vmcore.js';

import { placeLoads } from './synthetic-inputs.js';

const PAGE = 4096;

/**
 * `loads` PT_LOADs of one page each, a page apart in physical memory (so no two merge), their data pages sparse but
 * for an 8-byte stamp, so that -d 31 keeps every one and writes as many output PT_LOADs.
 */
export async function writeManyLoadsInput(path: string, loads: number): Promise<void> {
  const probe = makeSyntheticVmcore({ cpus: 4, extendedNumbering: loads + 1 >= 0xffff, segments: Array.from({ length: loads }, (_, i) => ({ paddr: BigInt(i * 2 * PAGE), size: 0 })) });
  const prefix = probe.bytes;
  const dataStart = Math.ceil(prefix.length / PAGE) * PAGE;
  const segments = Array.from({ length: loads }, (_, i) => ({ paddr: BigInt(i * 2 * PAGE), fileOffset: dataStart + i * PAGE, size: PAGE }));
  placeLoads(prefix, segments);
  const fh = await open(path, 'w');
  try {
    const stamps = Buffer.alloc(loads * 8);
    segments.forEach((seg, i) => stamps.writeBigUInt64LE(seg.paddr | 1n, i * 8));
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
