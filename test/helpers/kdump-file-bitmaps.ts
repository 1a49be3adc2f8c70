// Test helper: the two bitmaps of a plain kdump-compressed file (ours or makedumpfile's), as sets of pfns.

import { open } from 'node:fs/promises';
import { decodeHeader, decodeSubHeader, DISK_DUMP_HEADER_SIZE, KDUMP_SUB_HEADER_SIZE } from '../../src/kdump/header.js';

export interface KdumpBitmaps {
  maxMapnr: number;
  present: Set<number>;
  dumpable: Set<number>;
  status: number;
  dumpLevel: number;
}

function bitsOf(bytes: Buffer, limit: number): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < limit; i++) if (bytes[i >>> 3] & (1 << (i & 7))) out.add(i);
  return out;
}

export async function kdumpBitmaps(file: string): Promise<KdumpBitmaps> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(DISK_DUMP_HEADER_SIZE);
    await fh.read(head, 0, head.length, 0);
    const { header, endian } = decodeHeader(head);
    const subBuf = Buffer.alloc(KDUMP_SUB_HEADER_SIZE);
    await fh.read(subBuf, 0, subBuf.length, header.blockSize);
    const sub = decodeSubHeader(subBuf, endian, header.blockSize);
    const half = (header.bitmapBlocks / 2) * header.blockSize;
    const bitmaps = Buffer.alloc(2 * half);
    await fh.read(bitmaps, 0, bitmaps.length, (1 + header.subHdrSize) * header.blockSize);
    const maxMapnr = Number(sub.maxMapnr64);
    return { maxMapnr, present: bitsOf(bitmaps.subarray(0, half), maxMapnr), dumpable: bitsOf(bitmaps.subarray(half), maxMapnr), status: header.status, dumpLevel: sub.dumpLevel };
  } finally {
    await fh.close();
  }
}

/** Members of `a` not in `b`. */
export function minus(a: Set<number>, b: Set<number>): number[] {
  return [...a].filter((x) => !b.has(x)).sort((x, y) => x - y);
}
