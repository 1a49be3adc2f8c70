// slim-core's FILTER note: the dump level applied and the pages left out per class (docs/note-format.md).

import { BadInputError } from '../errors.js';
import { readU32, readU64, writeU32, writeU64, type Endian } from '../elf/byte-order.js';
import { encodeNote, parseNotes } from '../elf/note.js';
import { SLIMCORE_NOTE_NAME } from './slimcore-notes.js';

export const NT_SLIMCORE_FILTER = 0x534c4304;
export const FILTER_NOTE_VERSION = 1;
export const FILTER_HEADER_SIZE = 16;
export const FILTER_ENTRY_SIZE = 16;
/** A reader refuses more entries than this: there are nine classes today. */
const MAX_FILTER_ENTRIES = 1024;

/** Header flags. */
export const FilterFlag = {
  /** The crashed kernel's page descriptors were read: poisoned and offline pages were found and left out. */
  PAGE_FLAGS_CHECKED: 1,
  /** Page descriptors could not be read (another architecture, a pipe, ...): nothing was left out by class. */
  NOT_FILTERED: 2,
} as const;

/** Page classes, numbered as in the note; each counts pages left out of the dump (or, KEPT, kept in it). */
export const PageClassCode = {
  ZERO: 1,
  CACHE: 2,
  CACHE_PRIVATE: 3,
  USER: 4,
  FREE: 5,
  HWPOISON: 6,
  OFFLINE: 7,
  UNCLASSIFIED: 8,
  KEPT: 9,
} as const;

const CLASS_NAMES: Record<number, string> = {
  [PageClassCode.ZERO]: 'zero pages',
  [PageClassCode.CACHE]: 'page cache without PG_private',
  [PageClassCode.CACHE_PRIVATE]: 'page cache with PG_private',
  [PageClassCode.USER]: 'user data',
  [PageClassCode.FREE]: 'free pages',
  [PageClassCode.HWPOISON]: 'poisoned (PG_hwpoison)',
  [PageClassCode.OFFLINE]: 'logically offline',
  [PageClassCode.UNCLASSIFIED]: 'kept, page descriptor unreadable',
  [PageClassCode.KEPT]: 'kept',
};

export function pageClassName(code: number): string {
  return CLASS_NAMES[code] ?? `class ${code}`;
}

export interface FilterSummary {
  dumpLevel: number;
  flags: number;
  /** Pages per class code. */
  pages: Map<number, number>;
}

/** u32 version, u32 dump_level, u32 flags, u32 count; then count × {u32 class, u32 reserved, u64 pages}. */
export function encodeFilterNote(summary: FilterSummary, endian: Endian): Buffer {
  const entries = [...summary.pages.entries()].sort((a, b) => a[0] - b[0]);
  const desc = Buffer.alloc(FILTER_HEADER_SIZE + entries.length * FILTER_ENTRY_SIZE);
  writeU32(desc, 0, FILTER_NOTE_VERSION, endian);
  writeU32(desc, 4, summary.dumpLevel, endian);
  writeU32(desc, 8, summary.flags, endian);
  writeU32(desc, 12, entries.length, endian);
  entries.forEach(([code, pages], i) => {
    const at = FILTER_HEADER_SIZE + i * FILTER_ENTRY_SIZE;
    writeU32(desc, at, code, endian);
    writeU64(desc, at + 8, BigInt(pages), endian);
  });
  return encodeNote(SLIMCORE_NOTE_NAME, NT_SLIMCORE_FILTER, desc, endian);
}

export function decodeFilterNote(desc: Buffer, endian: Endian): FilterSummary {
  const what = 'SLIMCORE FILTER note';
  if (desc.length < FILTER_HEADER_SIZE) throw new BadInputError(`${what}: descriptor of ${desc.length} bytes is shorter than its ${FILTER_HEADER_SIZE}-byte header`);
  const version = readU32(desc, 0, endian);
  if (version !== FILTER_NOTE_VERSION) throw new BadInputError(`${what}: version ${version} at descriptor offset 0 is not ${FILTER_NOTE_VERSION}`);
  const count = readU32(desc, 12, endian);
  if (count > MAX_FILTER_ENTRIES || FILTER_HEADER_SIZE + count * FILTER_ENTRY_SIZE > desc.length) {
    throw new BadInputError(`${what}: count ${count} at descriptor offset 12 does not fit its ${desc.length}-byte descriptor`);
  }
  const pages = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const at = FILTER_HEADER_SIZE + i * FILTER_ENTRY_SIZE;
    pages.set(readU32(desc, at, endian), Number(readU64(desc, at + 8, endian)));
  }
  return { dumpLevel: readU32(desc, 4, endian), flags: readU32(desc, 8, endian), pages };
}

/**
 * A copy of `notes` (a note segment) whose FILTER note counts `zeroPages` zero pages: for writers that find them while
 * writing, after the note was encoded with a ZERO entry of 0. Notes without such an entry come back unchanged.
 */
export function withZeroPageCount(notes: Buffer, endian: Endian, zeroPages: number): Buffer {
  const filter = parseNotes(notes, endian, 'our notes').notes.find((n) => n.name === SLIMCORE_NOTE_NAME && n.type === NT_SLIMCORE_FILTER);
  if (!filter || filter.desc.length < FILTER_HEADER_SIZE) return notes;
  const count = Math.min(readU32(filter.desc, 12, endian), Math.floor((filter.desc.length - FILTER_HEADER_SIZE) / FILTER_ENTRY_SIZE));
  const out = Buffer.from(notes);
  const descStart = filter.desc.byteOffset - notes.byteOffset;
  for (let i = 0; i < count; i++) {
    const at = descStart + FILTER_HEADER_SIZE + i * FILTER_ENTRY_SIZE;
    if (readU32(out, at, endian) === PageClassCode.ZERO) writeU64(out, at + 8, BigInt(zeroPages), endian);
  }
  return out;
}
