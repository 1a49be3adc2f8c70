// Program header codec: one entry or a whole table, in the dump's class and byte order.

import { classLayout, readU32, readWord, writeU32, writeWord, type Format } from './byte-order.js';
import { PT_LOAD, PT_NOTE } from './constants.js';

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

export function decodeProgramHeader(buf: Buffer, at: number, format: Format): ProgramHeader {
  const P = classLayout(format).ph;
  return {
    type: readU32(buf, at + P.type, format.endian),
    flags: readU32(buf, at + P.flags, format.endian),
    offset: readWord(buf, at + P.offset, format),
    vaddr: readWord(buf, at + P.vaddr, format),
    paddr: readWord(buf, at + P.paddr, format),
    filesz: readWord(buf, at + P.filesz, format),
    memsz: readWord(buf, at + P.memsz, format),
    align: readWord(buf, at + P.align, format),
  };
}

export function decodeProgramHeaders(buf: Buffer, count: number, format: Format): ProgramHeader[] {
  const size = classLayout(format).phentsize;
  const out: ProgramHeader[] = [];
  for (let i = 0; i < count; i++) out.push(decodeProgramHeader(buf, i * size, format));
  return out;
}

/** Writes one entry at byte `at` of a table. */
export function writeProgramHeader(buf: Buffer, at: number, ph: ProgramHeader, format: Format): void {
  const P = classLayout(format).ph;
  writeU32(buf, at + P.type, ph.type, format.endian);
  writeU32(buf, at + P.flags, ph.flags, format.endian);
  writeWord(buf, at + P.offset, ph.offset, format);
  writeWord(buf, at + P.vaddr, ph.vaddr, format);
  writeWord(buf, at + P.paddr, ph.paddr, format);
  writeWord(buf, at + P.filesz, ph.filesz, format);
  writeWord(buf, at + P.memsz, ph.memsz, format);
  writeWord(buf, at + P.align, ph.align, format);
}

export function encodeProgramHeaders(phdrs: readonly ProgramHeader[], format: Format): Buffer {
  const size = classLayout(format).phentsize;
  const buf = Buffer.alloc(phdrs.length * size);
  phdrs.forEach((ph, i) => writeProgramHeader(buf, i * size, ph, format));
  return buf;
}

export function programHeaderTypeName(type: number): string {
  if (type === PT_LOAD) return 'LOAD';
  if (type === PT_NOTE) return 'NOTE';
  if (type === 0) return 'NULL';
  return '0x' + type.toString(16);
}

const U64_LIMIT = 1n << 64n;
const LAST_GENERIC_TYPE = 7;
const PT_LOOS = 0x60000000;

/**
 * The first entry of a raw table that no vmcore has, as a message, or undefined: checked before decoding, so that a
 * count from a broken header costs no more than its bytes: a type outside the generic ones (0 to 7) and the OS and
 * processor ranges, or a PT_LOAD whose p_filesz is above its p_memsz, or whose file or physical range wraps past 2^64.
 */
export function insaneProgramHeader(buf: Buffer, count: number, format: Format): string | undefined {
  const L = classLayout(format);
  const P = L.ph;
  for (let i = 0; i < count; i++) {
    const at = i * L.phentsize;
    const type = readU32(buf, at + P.type, format.endian);
    if (type > LAST_GENERIC_TYPE && type < PT_LOOS) return `program header ${i}: type 0x${type.toString(16)} is no segment type (a broken table or count?)`;
    if (type !== PT_LOAD) continue;
    const offset = readWord(buf, at + P.offset, format);
    const paddr = readWord(buf, at + P.paddr, format);
    const filesz = readWord(buf, at + P.filesz, format);
    const memsz = readWord(buf, at + P.memsz, format);
    if (filesz > memsz) return `program header ${i}: p_filesz 0x${filesz.toString(16)} is larger than p_memsz 0x${memsz.toString(16)}`;
    if (offset + filesz > U64_LIMIT) return `program header ${i}: p_offset 0x${offset.toString(16)} + p_filesz 0x${filesz.toString(16)} wraps past 2^64`;
    if (paddr + memsz > U64_LIMIT) return `program header ${i}: p_paddr 0x${paddr.toString(16)} + p_memsz 0x${memsz.toString(16)} wraps past 2^64`;
  }
  return undefined;
}
