// Input segment checks and the output layout: where headers, notes and each segment's bytes go.

import { BadInputError } from '../errors.js';
import { alignUp, classLayout, hex } from '../elf/byte-order.js';
import { PN_XNUM, PT_LOAD } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { writeProgramHeader, type ProgramHeader } from '../elf/program-header.js';
import { encodeSectionHeaderZero } from '../elf/section-header.js';
import { toSafeNumber, type DumpPrefix } from './prefix.js';
import { fileExtents } from './file-extents.js';
import { SegmentListBuilder, type SegmentList } from './segment-list.js';

export type { DataSegment } from './segment-list.js';

export type DumpMode = 'slim' | 'full';

/** Data segments sorted by file offset, checked against each other and against the input size when known. */
export function dataSegments(prefix: Pick<DumpPrefix, 'phdrs' | 'noteIndex'>, inputSize?: number): SegmentList {
  const out = new SegmentListBuilder();
  const { phdrs } = prefix;
  for (let index = 0; index < phdrs.length; index++) {
    if (index === prefix.noteIndex) continue;
    const filesz = phdrs.filesz(index);
    if (phdrs.type(index) === PT_LOAD && filesz > phdrs.memsz(index)) {
      throw new BadInputError(`program header ${index}: p_filesz ${hex(filesz)} is larger than p_memsz ${hex(phdrs.memsz(index))}`);
    }
    if (filesz === 0n) continue;
    const inOffset = toSafeNumber(phdrs.offset(index), `program header ${index}: p_offset`);
    const size = toSafeNumber(filesz, `program header ${index}: p_filesz`);
    if (inOffset + size > Number.MAX_SAFE_INTEGER) {
      throw new BadInputError(`program header ${index}: p_offset ${hex(inOffset)} + p_filesz ${hex(size)} overflows`);
    }
    out.push(index, inOffset, size, phdrs.paddr(index));
  }
  const segments = out.build();
  checkInsideInput(segments, inputSize);
  return segments.sortedByOffset();
}

/**
 * Segments to be copied must lie inside the input when its size is known. Checked on what gets copied, not on every
 * PT_LOAD: a slim dump of a truncated file needs only the headers, the notes and the log, as from a pipe.
 */
export function checkInsideInput(segments: SegmentList, inputSize: number | undefined): void {
  if (inputSize === undefined) return;
  for (let i = 0; i < segments.length; i++) {
    if (segments.inEnd(i) > inputSize) {
      throw new BadInputError(
        `program header ${segments.index(i)}: p_offset ${hex(segments.inOffset(i))} + p_filesz ${hex(segments.size(i))} is past the end of the file (${hex(inputSize)})`,
      );
    }
  }
}

/** Why the segments can't be read in one forward pass, or undefined when they can. */
/** Segments before the end of the notes are fine: the forward reader still holds those bytes. */
export function forwardPassObstacle(sorted: SegmentList): string | undefined {
  for (let i = 1; i < sorted.length; i++) {
    if (sorted.inOffset(i) < sorted.inEnd(i - 1)) {
      return `program headers ${sorted.index(i - 1)} and ${sorted.index(i)} share file bytes at offset ${hex(sorted.inOffset(i))}`;
    }
  }
  return undefined;
}

/** Where everything goes in the output: what the serializer and the patching after the copy need. */
export interface OutputLayout {
  header: ElfHeader;
  /** Section header 0, present only when the program header count needs PN_XNUM. */
  sectionZero?: Buffer;
  notesOffset: number;
  notesSize: number;
  /** Bytes before the first segment's data: headers, notes and alignment padding. */
  headerBlockSize: number;
  /** The data segments copied, in input file order (none for a slim dump that keeps no pages). */
  segments: SegmentList;
  /** Output file offset of each program header's data, by index; NaN for those not copied. File-aliased segments share output bytes. */
  outOffsets: Float64Array;
  totalSize: number;
}

/** The layout with its header block, before that goes out (kept no longer: 7 MiB of program headers at the cap). */
export interface PlannedLayout extends OutputLayout {
  /**
   * headerBlockSize bytes: the program headers (and section header 0) already in place, encoded straight into it
   * (one object per entry would cost four times its 56 bytes); encodeHeaderBlock adds the rest.
   */
  headerBlock: Buffer;
  /** The output's program header table: a view of headerBlock. */
  programHeaders: Buffer;
}

/** The smallest offset at or after `from` with the same remainder as `like` modulo the page size. */
function congruentOffset(from: number, like: number, pageSize: number): number {
  const want = like % pageSize;
  const base = from - (from % pageSize) + want;
  return base >= from ? base : base + pageSize;
}

/** Places the header block, then every data segment in `sorted`; any other segment gets p_filesz 0. */
export function planOutputLayout(prefix: DumpPrefix, sorted: SegmentList, notesSize: number): PlannedLayout {
  const L = classLayout(prefix.format);
  const extended = prefix.phnum >= PN_XNUM;
  const sectionZero = extended ? encodeSectionHeaderZero(prefix.phnum, prefix.format) : undefined;
  const phoff = L.ehsize + (sectionZero?.length ?? 0);
  const notesOffset = alignUp(phoff + prefix.phnum * L.phentsize, 8);
  const notesEnd = notesOffset + notesSize;

  const outOffsets = new Float64Array(prefix.phnum).fill(NaN);
  let cursor = sorted.length > 0 ? alignUp(notesEnd, prefix.pageSize) : notesEnd;
  const headerBlockSize = cursor;
  // Segments over the same input bytes share their output bytes too: each run of file bytes is written once.
  const files = fileExtents(sorted);
  const { extents } = files;
  for (let e = 0; e < extents.length; e++) {
    const extentOut = congruentOffset(cursor, extents.inOffset(e), prefix.pageSize);
    const members = files.shared.get(extents.index(e));
    if (members) for (const seg of members) outOffsets[seg.index] = extentOut + (seg.inOffset - extents.inOffset(e));
    else outOffsets[extents.index(e)] = extentOut;
    cursor = extentOut + extents.size(e);
  }
  const headerBlock = Buffer.alloc(headerBlockSize);
  sectionZero?.copy(headerBlock, L.ehsize);
  const programHeaders = headerBlock.subarray(phoff, phoff + prefix.phnum * L.phentsize);
  for (let index = 0; index < prefix.phnum; index++) {
    const ph = prefix.phdrs.get(index);
    const at = outOffsets[index];
    const out: ProgramHeader =
      index === prefix.noteIndex
        ? { ...ph, offset: BigInt(notesOffset), filesz: BigInt(notesSize), memsz: BigInt(notesSize) }
        : !Number.isNaN(at)
          ? { ...ph, offset: BigInt(at) }
          : { ...ph, offset: BigInt(notesEnd), filesz: 0n };
    checkClassFits(prefix, out, index);
    writeProgramHeader(programHeaders, index * L.phentsize, out, prefix.format);
  }
  const header: ElfHeader = {
    ...prefix.header,
    phoff: BigInt(phoff),
    phnum: extended ? PN_XNUM : prefix.phnum,
    shoff: extended ? BigInt(L.ehsize) : 0n,
    shnum: extended ? 1 : 0,
    shentsize: extended ? L.shentsize : 0,
    shstrndx: 0,
    ehsize: L.ehsize,
  };
  return { header, headerBlock, programHeaders, sectionZero, notesOffset, notesSize, headerBlockSize, segments: sorted, outOffsets, totalSize: cursor };
}

const ELF32_LIMIT = 1n << 32n;

/** ELF32 fields are 32 bits wide: a layout that grew past 4 GiB (our notes, alignment) must be refused, not cut. */
function checkClassFits(prefix: DumpPrefix, ph: ProgramHeader, index: number): void {
  if (prefix.format.elfClass !== 32 || ph.filesz === 0n || ph.offset + ph.filesz <= ELF32_LIMIT) return;
  throw new BadInputError(
    `program header ${index}: in the output its data would lie at offset ${hex(ph.offset)} to ${hex(ph.offset + ph.filesz)}, past the 4 GiB that an ELF32 p_offset can reach; capture it with --mode slim, or convert the input to ELF64 first`,
  );
}
