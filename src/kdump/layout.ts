// Where each part of a kdump-compressed file goes: header, sub-header and notes, both bitmaps, descriptors, page data.

import { KDUMP_SUB_HEADER_SIZE } from './header.js';

export const PAGE_DESC_SIZE = 24;

export interface KdumpLayout {
  blockSize: number;
  /** Sub-header and notes, in blocks. */
  subHdrSize: number;
  /** Both bitmaps, in blocks. */
  bitmapBlocks: number;
  subHeaderOffset: number;
  notesOffset: number;
  bitmap1Offset: number;
  bitmap2Offset: number;
  /** Bytes of one bitmap's area (half of bitmapBlocks). */
  bitmapAreaSize: number;
  descOffset: number;
  /** First byte of page data: the shared zero block when the dump level has bit 1. */
  dataOffset: number;
}

export function kdumpLayout(blockSize: number, notesSize: number, maxMapnr: number, dumpableCount: number): KdumpLayout {
  const subHdrSize = Math.ceil((KDUMP_SUB_HEADER_SIZE + notesSize) / blockSize);
  const bitmapBlocks = 2 * Math.ceil(Math.ceil(maxMapnr / 8) / blockSize);
  const bitmap1Offset = (1 + subHdrSize) * blockSize;
  const bitmapAreaSize = (bitmapBlocks / 2) * blockSize;
  const descOffset = (1 + subHdrSize + bitmapBlocks) * blockSize;
  return {
    blockSize,
    subHdrSize,
    bitmapBlocks,
    subHeaderOffset: blockSize,
    notesOffset: blockSize + KDUMP_SUB_HEADER_SIZE,
    bitmap1Offset,
    bitmap2Offset: bitmap1Offset + bitmapAreaSize,
    bitmapAreaSize,
    descOffset,
    dataOffset: descOffset + PAGE_DESC_SIZE * dumpableCount,
  };
}
