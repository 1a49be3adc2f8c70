// Reads and checks a dump's prefix (ELF header, program headers, section header 0, first PT_NOTE) through a range reader.

import { BadInputError } from '../errors.js';
import { hex, type Format } from '../elf/byte-order.js';
import { PN_XNUM, PT_NOTE } from '../elf/constants.js';
import { decodeHeader, decodeIdent, headerSize, validateCoreHeader, type ElfHeader } from '../elf/header.js';
import { parseNotes, type NoteList } from '../elf/note.js';
import { insaneProgramHeader } from '../elf/program-header.js';
import { ProgramHeaderTable } from '../elf/program-header-table.js';
import { decodeSectionHeaderZero, sectionHeaderSize } from '../elf/section-header.js';
import { MAX_FILTERED_LOADS } from './filtered-table.js';
import { DEFAULT_PAGE_SIZE, isVmcoreinfo, parseVmcoreinfo, vmcoreinfoPageSize } from '../elf/vmcoreinfo.js';

/**
 * Largest program header count accepted: 128 Ki entries (7 MiB of ELF64 headers), as many PT_LOADs as a filtered
 * table may have; checked before the table is read, so that a count from a broken header costs nothing.
 */
export const MAX_PROGRAM_HEADERS = MAX_FILTERED_LOADS;
/** Largest PT_NOTE segment accepted. */
export const MAX_NOTE_SEGMENT = 64 << 20;

/** Returns exactly `length` bytes at `offset`, or throws a BadInputError that names `what`. */
export type RangeReader = (offset: number, length: number, what: string) => Promise<Buffer>;

export interface DumpPrefix {
  format: Format;
  header: ElfHeader;
  /** The real program header count (from section header 0 under PN_XNUM). */
  phnum: number;
  phdrs: ProgramHeaderTable;
  /** Index of the PT_NOTE whose notes we parse and grow (crash reads only phdr[0]). */
  noteIndex: number;
  noteOffset: number;
  /** The whole PT_NOTE segment as read. */
  noteSegment: Buffer;
  notes: NoteList;
  vmcoreinfo?: Map<string, string>;
  pageSize: number;
  /** PAGESIZE was present but unusable. */
  badPageSize?: string;
  /** One past the highest byte the prefix needed. */
  prefixEnd: number;
}

export function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadInputError(`${what} ${hex(value)} is too large`);
  return Number(value);
}

export async function readDumpPrefix(read: RangeReader): Promise<DumpPrefix> {
  const ident = await read(0, 16, 'the ELF identification bytes');
  const format = decodeIdent(ident);
  const header = decodeHeader(await read(0, headerSize(format), `the ELF${format.elfClass} header`));
  validateCoreHeader(header);
  let prefixEnd = header.ehsize;

  let phnum = header.phnum;
  if (phnum === PN_XNUM) {
    if (header.shoff === 0n) {
      throw new BadInputError('ELF header: e_phnum is 0xffff (PN_XNUM) but there is no section header 0 (e_shoff is 0) to hold the real count');
    }
    const shoff = toSafeNumber(header.shoff, 'ELF header: e_shoff');
    const sh0 = await read(shoff, sectionHeaderSize(format), `section header 0 at offset ${hex(shoff)} (e_phnum is PN_XNUM)`);
    phnum = decodeSectionHeaderZero(sh0, 0, format).info;
    prefixEnd = Math.max(prefixEnd, shoff + sh0.length);
    if (phnum === 0) throw new BadInputError('section header 0: sh_info is 0, but e_phnum (PN_XNUM) says it holds the program header count');
  }
  if (phnum > MAX_PROGRAM_HEADERS) {
    throw new BadInputError(`ELF header: ${phnum} program headers exceed the limit of ${MAX_PROGRAM_HEADERS}`);
  }
  const phoff = toSafeNumber(header.phoff, 'ELF header: e_phoff');
  const table = await read(phoff, phnum * header.phentsize, `the ${phnum} program headers at offset ${hex(phoff)}`);
  const insane = insaneProgramHeader(table, phnum, format);
  if (insane) throw new BadInputError(insane);
  const phdrs = ProgramHeaderTable.decode(table, phnum, format);
  prefixEnd = Math.max(prefixEnd, phoff + table.length);

  const noteIndex = phdrs.indexOfType(PT_NOTE);
  if (noteIndex < 0) throw new BadInputError('program headers: no PT_NOTE segment, so there are no CPU notes and no VMCOREINFO');
  const notePh = phdrs.get(noteIndex);
  if (notePh.filesz > BigInt(MAX_NOTE_SEGMENT)) {
    throw new BadInputError(`program header ${noteIndex}: PT_NOTE p_filesz ${hex(notePh.filesz)} exceeds the limit of ${hex(MAX_NOTE_SEGMENT)}`);
  }
  const noteOffset = toSafeNumber(notePh.offset, `program header ${noteIndex}: PT_NOTE p_offset`);
  const noteSize = Number(notePh.filesz);
  const noteSegment = await read(noteOffset, noteSize, `program header ${noteIndex} (PT_NOTE, ${hex(noteSize)} bytes at offset ${hex(noteOffset)})`);
  prefixEnd = Math.max(prefixEnd, noteOffset + noteSize);
  const notes = parseNotes(noteSegment, format.endian, `program header ${noteIndex} (PT_NOTE)`, noteOffset);

  const infoNote = notes.notes.find(isVmcoreinfo);
  const vmcoreinfo = infoNote ? parseVmcoreinfo(infoNote.desc) : undefined;
  const givenPageSize = vmcoreinfoPageSize(vmcoreinfo);
  const rawPageSize = vmcoreinfo?.get('PAGESIZE');
  return {
    format,
    header,
    phnum,
    phdrs,
    noteIndex,
    noteOffset,
    noteSegment,
    notes,
    vmcoreinfo,
    pageSize: givenPageSize ?? DEFAULT_PAGE_SIZE,
    badPageSize: rawPageSize !== undefined && givenPageSize === undefined ? rawPageSize : undefined,
    prefixEnd,
  };
}
