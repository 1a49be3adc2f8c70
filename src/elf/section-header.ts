// Section header 0 codec: where extended numbering (PN_XNUM) keeps the real program header count.

import { classLayout, readU32, readWord, writeU32, writeWord, type Format } from './byte-order.js';

/** The fields of section header 0 that extended numbering uses; the rest are zero. */
export interface SectionHeaderZero {
  /** The real e_shnum when it does not fit, else 0. */
  size: bigint;
  /** The real e_shstrndx when it does not fit, else 0. */
  link: number;
  /** The real e_phnum when e_phnum is PN_XNUM. */
  info: number;
}

export function sectionHeaderSize(format: Format): number {
  return classLayout(format).shentsize;
}

export function decodeSectionHeaderZero(buf: Buffer, at: number, format: Format): SectionHeaderZero {
  const S = classLayout(format).sh;
  return {
    size: readWord(buf, at + S.size, format),
    link: readU32(buf, at + S.link, format.endian),
    info: readU32(buf, at + S.info, format.endian),
  };
}

/** Encodes a section header 0 whose only job is to carry the program header count. */
export function encodeSectionHeaderZero(phnum: number, format: Format): Buffer {
  const S = classLayout(format).sh;
  const buf = Buffer.alloc(sectionHeaderSize(format));
  writeWord(buf, S.size, 0n, format);
  writeU32(buf, S.link, 0, format.endian);
  writeU32(buf, S.info, phnum, format.endian);
  return buf;
}
