// Benchmark and test input: a vmcore with as many PT_LOADs as slim-core accepts, for peak RSS with the largest table.

import { open } from 'node:fs/promises';
import { makeSyntheticVmcore } from '../test/helpers/synthetic-vmcore.js';

import { placeLoads } from './synthetic-inputs.js';

const PAGE = 4096;

/**
 * `loads` PT_LOADs of `loadBytes` each (a page by default), a page apart in physical memory (so no two merge), each
 * starting with an 8-byte stamp (its paddr | 1), so that -d 31 keeps every one and writes as many output PT_LOADs.
 * Page-sized loads lie a page apart in the file (sparse but for the stamps); smaller ones lie back to back, so that
 * the file stays small (2 MiB of data for 128 Ki loads of 16 bytes), each still a page in memory (p_memsz), its
 * tail zero-filled: a whole page that the kdump format dumps, as makedumpfile would.
 */
export async function writeManyLoadsInput(path: string, loads: number, loadBytes = PAGE): Promise<{ paddr: bigint; fileOffset: number; size: number }[]> {
  const probe = makeSyntheticVmcore({ cpus: 4, extendedNumbering: loads + 1 >= 0xffff, segments: Array.from({ length: loads }, (_, i) => ({ paddr: BigInt(i * 2 * PAGE), size: 0 })) });
  const prefix = probe.bytes;
  const dataStart = Math.ceil(prefix.length / PAGE) * PAGE;
  const stride = loadBytes >= PAGE ? PAGE : loadBytes;
  const segments = Array.from({ length: loads }, (_, i) => ({ paddr: BigInt(i * 2 * PAGE), fileOffset: dataStart + i * stride, size: loadBytes, memsz: Math.max(loadBytes, PAGE) }));
  placeLoads(prefix, segments);
  const fh = await open(path, 'w');
  try {
    const stamps = Buffer.alloc(loads * 8);
    segments.forEach((seg, i) => stamps.writeBigUInt64LE(seg.paddr | 1n, i * 8));
    await fh.write(prefix, 0, prefix.length, 0);
    if (stride === PAGE) for (let i = 0; i < loads; i++) await fh.write(stamps, i * 8, 8, dataStart + i * PAGE);
    else {
      const data = Buffer.alloc(loads * stride);
      for (let i = 0; i < loads; i++) stamps.copy(data, i * stride, i * 8, i * 8 + 8);
      await fh.write(data, 0, data.length, dataStart);
    }
    await fh.truncate(dataStart + (loads - 1) * stride + loadBytes);
  } finally {
    await fh.close();
  }
  return segments;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count, bytes] = process.argv.slice(2);
  await writeManyLoadsInput(path, Number(count), bytes === undefined ? PAGE : Number(bytes));
}
