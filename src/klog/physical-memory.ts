// Physical memory of a vmcore: reads by physical address through the PT_LOAD segments' file data.

import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BadInputError, IoError } from '../errors.js';
import { hex, type Format } from '../elf/byte-order.js';
import { PN_XNUM, PT_LOAD, PT_NOTE } from '../elf/constants.js';
import { decodeHeader, decodeIdent, headerSize, IDENT_SIZE, validateCoreHeader } from '../elf/header.js';
import { decodeProgramHeaders, type ProgramHeader } from '../elf/program-header.js';
import { decodeSectionHeaderZero, sectionHeaderSize } from '../elf/section-header.js';
import { parseNotes } from '../elf/note.js';
import { isVmcoreinfo, parseVmcoreinfo } from '../elf/vmcoreinfo.js';

export interface PhysicalMemory {
  /** The bytes at [paddr, paddr + length), or undefined when any of them lies outside every PT_LOAD's file data. */
  read(paddr: bigint, length: number): Buffer | undefined;
}

/** Far more program headers than any machine has RAM ranges; past this a count is corrupt, not big. */
const MAX_PROGRAM_HEADERS = 1 << 20;
const MAX_NOTE_SEGMENT_BYTES = 64 << 20;
/** Largest single read; callers cap what they ask for well below this. */
const MAX_READ_BYTES = 1 << 30;

interface Segment {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
}

/**
 * Pure: the caller supplies the positional reader. Overlapping segments (such as a kernel-text
 * PT_LOAD over a RAM range) hold the same bytes, so any one that covers an address will do.
 */
export function memoryFromSegments(
  phdrs: readonly ProgramHeader[],
  readAt: (fileOffset: number, length: number) => Buffer,
): PhysicalMemory {
  const segments: Segment[] = phdrs
    .filter((ph) => ph.type === PT_LOAD && ph.filesz > 0n)
    .map((ph) => ({ start: ph.paddr, end: ph.paddr + ph.filesz, fileOffset: ph.offset }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  // maxEndUpTo[i] bounds how far back a covering segment can start, so lookups stay logarithmic.
  const maxEndUpTo: bigint[] = [];
  segments.forEach((s, i) => maxEndUpTo.push(i === 0 || s.end > maxEndUpTo[i - 1] ? s.end : maxEndUpTo[i - 1]));

  function covering(addr: bigint): Segment | undefined {
    let lo = 0;
    let hi = segments.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segments[mid].start <= addr) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = last; i >= 0 && maxEndUpTo[i] > addr; i--) {
      if (segments[i].end > addr) return segments[i];
    }
    return undefined;
  }

  return {
    read(paddr, length) {
      if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ_BYTES || paddr < 0n) return undefined;
      const parts: Buffer[] = [];
      let at = paddr;
      let left = length;
      while (left > 0) {
        const seg = covering(at);
        if (!seg) return undefined;
        const take = Number(seg.end - at < BigInt(left) ? seg.end - at : BigInt(left));
        const fileOffset = seg.fileOffset + (at - seg.start);
        if (fileOffset + BigInt(take) > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
        const got = readAt(Number(fileOffset), take);
        if (got.length < take) return undefined;
        parts.push(got.length === take ? got : got.subarray(0, take));
        at += BigInt(take);
        left -= take;
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
    },
  };
}

export interface OpenedMemory {
  memory: PhysicalMemory;
  phdrs: ProgramHeader[];
  /** Empty when the first PT_NOTE holds no VMCOREINFO note. */
  vmcoreinfo: Map<string, string>;
  format: Format;
  /** e_machine, for buildAddressMap. */
  machine: number;
  /** Pointer size as vmcore-dmesg sees it: the ELF class, except 4 for EM_386 (i386 PAE dumps are ELF64). */
  wordSize: 4 | 8;
  close(): Promise<void>;
}

const EM_386 = 3;

/** The only I/O here: positional reads of an ELF vmcore file. */
export async function openFileMemory(path: string): Promise<OpenedMemory> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new IoError(`${path}: cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    const fileSize = (await handle.stat()).size;
    const fd = handle.fd;
    const readAt = (fileOffset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      let done = 0;
      try {
        while (done < length) {
          const n = readSync(fd, buf, done, length - done, fileOffset + done);
          if (n === 0) break;
          done += n;
        }
      } catch (err) {
        throw new IoError(`${path}: read of ${length} bytes at file offset ${hex(fileOffset)} failed: ${(err as Error).message}`, { cause: err });
      }
      return done === length ? buf : buf.subarray(0, done);
    };
    const opened = readLayout(path, fileSize, readAt);
    return { ...opened, memory: memoryFromSegments(opened.phdrs, readAt), close: () => handle.close() };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function readLayout(path: string, fileSize: number, readAt: (offset: number, length: number) => Buffer) {
  const header = decodeHeader(readAt(0, headerSize(decodeIdent(readAt(0, IDENT_SIZE)))));
  validateCoreHeader(header);
  const format: Format = { elfClass: header.elfClass, endian: header.endian };
  let phnum = header.phnum;
  if (phnum === PN_XNUM) {
    const shSize = sectionHeaderSize(format);
    if (header.shoff === 0n || header.shoff + BigInt(shSize) > BigInt(fileSize)) {
      throw new BadInputError(`${path}: e_phnum is PN_XNUM but section header 0 (e_shoff ${hex(header.shoff)}) is not in the file`);
    }
    phnum = decodeSectionHeaderZero(readAt(Number(header.shoff), shSize), 0, format).info;
  }
  if (phnum > MAX_PROGRAM_HEADERS) throw new BadInputError(`${path}: ${phnum} program headers, more than the cap of ${MAX_PROGRAM_HEADERS}`);
  const tableBytes = phnum * header.phentsize;
  if (header.phoff + BigInt(tableBytes) > BigInt(fileSize)) {
    throw new BadInputError(`${path}: program header table (${phnum} entries at ${hex(header.phoff)}) runs past the end of the ${fileSize}-byte file`);
  }
  const phdrs = decodeProgramHeaders(readAt(Number(header.phoff), tableBytes), phnum, format);
  return { phdrs, format, machine: header.machine, wordSize: wordSizeOf(header.machine, format), vmcoreinfo: readVmcoreinfo(path, fileSize, phdrs, format, readAt) };
}

function wordSizeOf(machine: number, format: Format): 4 | 8 {
  return machine === EM_386 || format.elfClass === 32 ? 4 : 8;
}

function readVmcoreinfo(
  path: string,
  fileSize: number,
  phdrs: readonly ProgramHeader[],
  format: Format,
  readAt: (offset: number, length: number) => Buffer,
): Map<string, string> {
  const noteSeg = phdrs.find((ph) => ph.type === PT_NOTE);
  if (!noteSeg) return new Map();
  if (noteSeg.filesz > BigInt(MAX_NOTE_SEGMENT_BYTES) || noteSeg.offset + noteSeg.filesz > BigInt(fileSize)) {
    throw new BadInputError(`${path}: PT_NOTE of ${noteSeg.filesz} bytes at file offset ${hex(noteSeg.offset)} is past the end of the file or over the ${MAX_NOTE_SEGMENT_BYTES}-byte cap`);
  }
  const { notes } = parseNotes(readAt(Number(noteSeg.offset), Number(noteSeg.filesz)), format.endian, 'PT_NOTE', Number(noteSeg.offset));
  const note = notes.find(isVmcoreinfo);
  return note ? parseVmcoreinfo(note.desc) : new Map();
}
