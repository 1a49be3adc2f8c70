// ELF file header codec (ELF32/ELF64, either byte order); validation of what a vmcore needs.

import { BadInputError } from '../errors.js';
import { ELF_MAGIC, EI_CLASS, EI_DATA, EI_NIDENT, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ET_CORE, ELF32, ELF64 } from './constants.js';
import { classLayout, readU16, readU32, readWord, writeU16, writeU32, writeWord, type Format } from './byte-order.js';

export interface ElfHeader extends Format {
  /** The 16 identification bytes, kept as given (OS/ABI and padding included). */
  ident: Buffer;
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  phoff: bigint;
  shoff: bigint;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

/** Bytes needed to know the class: the identification block. */
export const IDENT_SIZE = EI_NIDENT;

/** Reads the class and byte order from the identification bytes. */
export function decodeIdent(buf: Buffer): Format {
  if (buf.length < EI_NIDENT) throw new BadInputError(`ELF header: input ends after ${buf.length} bytes, inside the identification bytes`);
  if (!buf.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new BadInputError(`ELF header: wrong magic ${buf.subarray(0, 4).toString('hex')} at offset 0 (want 7f454c46): not an ELF file`);
  }
  const cls = buf[EI_CLASS];
  const data = buf[EI_DATA];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new BadInputError(`ELF header: unknown class ${cls} at offset ${EI_CLASS}`);
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw new BadInputError(`ELF header: unknown byte order ${data} at offset ${EI_DATA}`);
  return { elfClass: cls === ELFCLASS64 ? 64 : 32, endian: data === ELFDATA2LSB ? 'le' : 'be' };
}

export function headerSize(format: Format): number {
  return classLayout(format).ehsize;
}

export function decodeHeader(buf: Buffer): ElfHeader {
  const format = decodeIdent(buf);
  const L = classLayout(format);
  if (buf.length < L.ehsize) throw new BadInputError(`ELF header: input ends after ${buf.length} bytes, inside the ${L.ehsize}-byte ELF${format.elfClass} header`);
  const e = format.endian;
  return {
    ...format,
    ident: Buffer.from(buf.subarray(0, EI_NIDENT)),
    type: readU16(buf, L.eh.type, e),
    machine: readU16(buf, L.eh.machine, e),
    version: readU32(buf, L.eh.version, e),
    entry: readWord(buf, L.eh.entry, format),
    phoff: readWord(buf, L.eh.phoff, format),
    shoff: readWord(buf, L.eh.shoff, format),
    flags: readU32(buf, L.eh.flags, e),
    ehsize: readU16(buf, L.eh.ehsize, e),
    phentsize: readU16(buf, L.eh.phentsize, e),
    phnum: readU16(buf, L.eh.phnum, e),
    shentsize: readU16(buf, L.eh.shentsize, e),
    shnum: readU16(buf, L.eh.shnum, e),
    shstrndx: readU16(buf, L.eh.shstrndx, e),
  };
}

export function encodeHeader(h: ElfHeader): Buffer {
  const L = classLayout(h);
  const buf = Buffer.alloc(L.ehsize);
  h.ident.copy(buf, 0, 0, EI_NIDENT);
  buf[EI_CLASS] = h.elfClass === 64 ? ELFCLASS64 : ELFCLASS32;
  buf[EI_DATA] = h.endian === 'le' ? ELFDATA2LSB : ELFDATA2MSB;
  const e = h.endian;
  writeU16(buf, L.eh.type, h.type, e);
  writeU16(buf, L.eh.machine, h.machine, e);
  writeU32(buf, L.eh.version, h.version, e);
  writeWord(buf, L.eh.entry, h.entry, h);
  writeWord(buf, L.eh.phoff, h.phoff, h);
  writeWord(buf, L.eh.shoff, h.shoff, h);
  writeU32(buf, L.eh.flags, h.flags, e);
  writeU16(buf, L.eh.ehsize, h.ehsize, e);
  writeU16(buf, L.eh.phentsize, h.phentsize, e);
  writeU16(buf, L.eh.phnum, h.phnum, e);
  writeU16(buf, L.eh.shentsize, h.shentsize, e);
  writeU16(buf, L.eh.shnum, h.shnum, e);
  writeU16(buf, L.eh.shstrndx, h.shstrndx, e);
  return buf;
}

/** Checks what every later step relies on: a core file whose header sizes match its class. */
export function validateCoreHeader(h: ElfHeader): void {
  const L = h.elfClass === 64 ? ELF64 : ELF32;
  if (h.type !== ET_CORE) throw new BadInputError(`ELF header: e_type is ${h.type}, not ET_CORE (4): not a core dump`);
  if (h.phentsize !== L.phentsize) {
    throw new BadInputError(`ELF header: e_phentsize is ${h.phentsize}, want ${L.phentsize} for ELF${h.elfClass}`);
  }
  if (h.phnum === 0) throw new BadInputError('ELF header: e_phnum is 0: a vmcore needs a PT_NOTE and PT_LOADs');
  if (h.phoff < BigInt(L.ehsize)) throw new BadInputError(`ELF header: e_phoff ${h.phoff} overlaps the ELF header`);
}
