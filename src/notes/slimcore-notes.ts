// slim-core's own ELF notes (owner "SLIMCORE"): CAUSE, MCE and OMITTED. Public format: docs/note-format.md.
// Every integer is in the dump's byte order; notes use Linux padding (name and descriptor each to 4 bytes).

import { BadInputError } from '../errors.js';
import { alignUp, hex, readU32, readU64, writeU32, writeU64, type Endian } from '../elf/byte-order.js';
import { encodeNote, encodeNoteWith, NOTE_HEADER_SIZE, noteSize, type Note } from '../elf/note.js';
import { decodeMceRecord, encodeMceRecord, MCE_MIN_RECORD_SIZE, MCE_RECORD_SIZE, type MceRecord } from '../mce/record.js';

export const SLIMCORE_NOTE_NAME = 'SLIMCORE';
/** "SLC" and a number: clear of the types crash gives meaning to (0 to 4, 0x70000001). */
export const NT_SLIMCORE_CAUSE = 0x534c4301;
export const NT_SLIMCORE_MCE = 0x534c4302;
export const NT_SLIMCORE_OMITTED = 0x534c4303;

export const OmitReason = { MCE: 1, USER: 2, READ_ERROR: 3, KERNEL_LOG: 4, PAGE_FLAG: 5, SLIM: 6 } as const;
export const OMITTED_FLAG_MAY_BE_INCOMPLETE = 1;

export const OMITTED_HEADER_SIZE = 16;
export const OMITTED_ENTRY_SIZE = 24;
export const MCE_NOTE_HEADER_SIZE = 8;

export interface OmittedEntry {
  paddr: bigint;
  length: bigint;
  reason: number;
  flags: number;
}

/** Entries already in columns (OmittedRanges): encoded in one go, in place. */
export interface EncodableEntries {
  readonly length: number;
  encodeInto(target: Buffer, offset: number, endian: Endian): void;
}

export interface OmittedList {
  /** The used entries, in order. */
  entries: OmittedEntry[];
  /** Entry slots in the note; slots past the entries are zero. */
  capacity: number;
  /** Header flags: bit 0 OMITTED_FLAG_MAY_BE_INCOMPLETE. */
  flags: number;
}

const REASON_NAMES: Record<number, string> = {
  [OmitReason.MCE]: 'MCE record',
  [OmitReason.USER]: 'user-given fault list',
  [OmitReason.READ_ERROR]: 'read error',
  [OmitReason.KERNEL_LOG]: "crashed kernel's log",
  [OmitReason.PAGE_FLAG]: 'page flag',
  [OmitReason.SLIM]: 'slim dump',
};

export function reasonName(reason: number): string {
  return REASON_NAMES[reason] ?? `unknown reason ${reason}`;
}

export function isSlimcoreNote(note: Pick<Note, 'name'>): boolean {
  return note.name === SLIMCORE_NOTE_NAME;
}

/** Largest descriptor a note can carry: n_descsz is a u32, and the padded note must stay addressable. */
const MAX_DESC = 0xffffffff - 3;

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${what} ${value} does not fit in a u32`);
}

// ---- CAUSE ----

/**
 * The CAUSE note: one line of UTF-8 ending in NUL. Line breaks and other control characters (NUL included) become
 * spaces, so that the note stays one line a person can read.
 */
export function encodeCauseNote(text: string, endian: Endian, reserve = 0): Buffer {
  const line = Buffer.from(oneLine(text), 'utf8');
  return encodeNote(SLIMCORE_NOTE_NAME, NT_SLIMCORE_CAUSE, encodeCauseDesc(text, line.length + 1 + reserve), endian);
}

function oneLine(text: string): string {
  return text.replace(/\r\n/g, ' ').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
}

/**
 * A CAUSE descriptor of exactly `size` bytes: the text, a NUL, zero padding. Text that does not fit is cut at a
 * character boundary and ends in "...". Lets a seekable sink rewrite the cause in place once the copy is done.
 */
export function encodeCauseDesc(text: string, size: number): Buffer {
  const desc = Buffer.alloc(size);
  let line = oneLine(text);
  if (Buffer.byteLength(line, 'utf8') + 1 > size) {
    let keep = line.length;
    while (keep > 0 && Buffer.byteLength(line.slice(0, keep), 'utf8') + 4 > size) keep--;
    line = size >= 4 ? line.slice(0, keep) + '...' : '';
  }
  desc.write(line, 0, 'utf8');
  return desc;
}

/** Byte offset of the descriptor inside a note from encodeCauseNote (the same name, so the same offset as OMITTED's). */
export function causeDescOffset(): number {
  return omittedDescOffset();
}

/** Text up to the first NUL (or the whole descriptor when it has none); malformed UTF-8 reads as U+FFFD. */
export function decodeCauseNote(desc: Buffer): string {
  const nul = desc.indexOf(0);
  return desc.toString('utf8', 0, nul >= 0 ? nul : desc.length);
}

// ---- MCE ----

/** Where a record in an MCE note came from: the provenance table's origin byte. */
export const MceOrigin = { UNKNOWN: 0, KERNEL_LOG: 1, USER_RECORDS: 2, DUMP_NOTE: 3 } as const;
/** Provenance flags: how slim-core judged the record when it wrote the note. */
export const MCE_PROVENANCE_FATAL = 1;
/** The record was judged as the crash's own (an input MCE note, or a log ending in a machine-check panic). */
export const MCE_PROVENANCE_CRASH_OWN = 2;
export const MCE_PROVENANCE_ENTRY_SIZE = 8;

export interface MceProvenance {
  origin: number;
  flags: number;
}

/**
 * The MCE note: u32 record_size (128), u32 count, then the records in `struct mce` layout; then, when `provenance`
 * is given (one per record), u32 entry_size (8) and per record u8 origin, u8 flags, 6 zero bytes. `roomFor` records
 * (at least the records given) are reserved, so that a sink that can patch may add records later in place.
 */
export function encodeMceNote(records: readonly MceRecord[], endian: Endian, provenance?: readonly MceProvenance[], roomFor = records.length): Buffer {
  const room = Math.max(roomFor, records.length);
  return encodeNote(SLIMCORE_NOTE_NAME, NT_SLIMCORE_MCE, encodeMceDesc(records, endian, provenance, mceDescSize(room, provenance !== undefined)), endian);
}

/** Descriptor bytes an MCE note needs for `records` records, with or without the provenance table. */
export function mceDescSize(records: number, withProvenance: boolean): number {
  return MCE_NOTE_HEADER_SIZE + records * MCE_RECORD_SIZE + (withProvenance ? 4 + records * MCE_PROVENANCE_ENTRY_SIZE : 0);
}

/** An MCE descriptor of exactly `size` bytes (zero after the table), to write or to patch in place. */
export function encodeMceDesc(records: readonly MceRecord[], endian: Endian, provenance: readonly MceProvenance[] | undefined, size: number): Buffer {
  if (provenance && provenance.length !== records.length) throw new RangeError(`MCE note: ${provenance.length} provenance entries for ${records.length} records`);
  if (size < mceDescSize(records.length, provenance !== undefined)) throw new RangeError(`MCE note: ${records.length} records do not fit in ${size} bytes`);
  if (size > MAX_DESC) throw new RangeError(`MCE note: ${records.length} records do not fit in one note`);
  const recordsEnd = MCE_NOTE_HEADER_SIZE + records.length * MCE_RECORD_SIZE;
  const desc = Buffer.alloc(size);
  writeU32(desc, 0, MCE_RECORD_SIZE, endian);
  writeU32(desc, 4, records.length, endian);
  records.forEach((rec, i) => encodeMceRecord(rec, endian).copy(desc, MCE_NOTE_HEADER_SIZE + i * MCE_RECORD_SIZE));
  if (provenance) {
    writeU32(desc, recordsEnd, MCE_PROVENANCE_ENTRY_SIZE, endian);
    provenance.forEach((p, i) => {
      desc[recordsEnd + 4 + i * MCE_PROVENANCE_ENTRY_SIZE] = p.origin;
      desc[recordsEnd + 5 + i * MCE_PROVENANCE_ENTRY_SIZE] = p.flags;
    });
  }
  return desc;
}

/**
 * Reads an MCE note's descriptor. Any record_size of at least 88 is accepted (fields it does not cover read as 0);
 * count is capped to the records that fit whole in the descriptor.
 */
export function decodeMceNote(desc: Buffer, endian: Endian): MceRecord[] {
  return decodeMceNoteWithProvenance(desc, endian).records;
}

/**
 * The records and, when the note has a whole provenance table after them (slim-core writes one since the second
 * layout), each record's provenance; older notes and notes of other writers have none.
 */
export function decodeMceNoteWithProvenance(desc: Buffer, endian: Endian): { records: MceRecord[]; provenance?: MceProvenance[] } {
  if (desc.length < MCE_NOTE_HEADER_SIZE) {
    throw new BadInputError(`SLIMCORE MCE note: descriptor of ${desc.length} bytes is shorter than its 8-byte header`);
  }
  const recordSize = readU32(desc, 0, endian);
  const count = readU32(desc, 4, endian);
  if (recordSize < MCE_MIN_RECORD_SIZE) {
    throw new BadInputError(`SLIMCORE MCE note: record_size ${recordSize} at descriptor offset 0 is below the minimum of ${MCE_MIN_RECORD_SIZE}`);
  }
  const fits = Math.floor((desc.length - MCE_NOTE_HEADER_SIZE) / recordSize);
  const n = Math.min(count, fits);
  const records: MceRecord[] = [];
  for (let i = 0; i < n; i++) {
    const at = MCE_NOTE_HEADER_SIZE + i * recordSize;
    records.push(decodeMceRecord(desc.subarray(at, at + recordSize), endian, recordSize));
  }
  const tableAt = MCE_NOTE_HEADER_SIZE + n * recordSize;
  if (n !== count || desc.length < tableAt + 4) return { records };
  const entrySize = readU32(desc, tableAt, endian);
  if (entrySize < 2 || desc.length < tableAt + 4 + n * entrySize) return { records };
  const provenance = records.map((_, i) => ({ origin: desc[tableAt + 4 + i * entrySize], flags: desc[tableAt + 5 + i * entrySize] }));
  return { records, provenance };
}

// ---- OMITTED ----

/** The OMITTED header: u32 entry_size (24), u32 count, u32 capacity, u32 flags. */
export function encodeOmittedHeader(count: number, capacity: number, flags: number, endian: Endian): Buffer {
  checkU32(count, 'OMITTED count');
  checkU32(capacity, 'OMITTED capacity');
  checkU32(flags, 'OMITTED flags');
  if (count > capacity) throw new RangeError(`OMITTED note: count ${count} exceeds capacity ${capacity}`);
  const buf = Buffer.alloc(OMITTED_HEADER_SIZE);
  writeU32(buf, 0, OMITTED_ENTRY_SIZE, endian);
  writeU32(buf, 4, count, endian);
  writeU32(buf, 8, capacity, endian);
  writeU32(buf, 12, flags, endian);
  return buf;
}

/** Entries of 24 bytes each: u64 paddr, u64 length, u32 reason, u32 flags. */
const fitsU64 = (v: bigint) => v >= 0n && v <= 0xffffffffffffffffn;
const fitsU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function checkU64(v: bigint, what: string): void {
  if (!fitsU64(v)) throw new RangeError(`${what} ${String(v)} does not fit in a u64`);
}

export function encodeOmittedEntries(entries: readonly OmittedEntry[], endian: Endian): Buffer {
  const buf = Buffer.alloc(entries.length * OMITTED_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const at = i * OMITTED_ENTRY_SIZE;
    // Messages only when a check fails: a list of 100,000 entries should not make 400,000 strings.
    if (!fitsU64(e.paddr)) checkU64(e.paddr, `OMITTED entry ${i}: paddr`);
    if (!fitsU64(e.length)) checkU64(e.length, `OMITTED entry ${i}: length`);
    if (!fitsU32(e.reason)) checkU32(e.reason, `OMITTED entry ${i}: reason`);
    if (!fitsU32(e.flags)) checkU32(e.flags, `OMITTED entry ${i}: flags`);
    writeU64(buf, at, e.paddr, endian);
    writeU64(buf, at + 8, e.length, endian);
    writeU32(buf, at + 16, e.reason, endian);
    writeU32(buf, at + 20, e.flags, endian);
  });
  return buf;
}

/** The whole OMITTED note; `capacity` slots, the first entries.length used, the rest zero. */
/** Bytes of an OMITTED note with `capacity` entry slots. */
export function omittedNoteSize(capacity: number): number {
  return noteSize(SLIMCORE_NOTE_NAME, OMITTED_HEADER_SIZE + capacity * OMITTED_ENTRY_SIZE);
}

/** `into`: where to write it, omittedNoteSize(capacity) zero bytes (else a new buffer). */
export function encodeOmittedNote(list: Omit<OmittedList, 'entries'> & { entries: readonly OmittedEntry[] | EncodableEntries }, endian: Endian, into?: Buffer): Buffer {
  const { entries, capacity, flags } = list;
  if (!Number.isInteger(capacity) || capacity < entries.length) {
    throw new RangeError(`OMITTED note: capacity ${capacity} is less than the ${entries.length} entries`);
  }
  const descSize = OMITTED_HEADER_SIZE + capacity * OMITTED_ENTRY_SIZE;
  if (descSize > MAX_DESC) throw new RangeError(`OMITTED note: capacity ${capacity} does not fit in one note`);
  return encodeNoteWith(SLIMCORE_NOTE_NAME, NT_SLIMCORE_OMITTED, descSize, endian, into, (desc) => {
    encodeOmittedHeader(entries.length, capacity, flags, endian).copy(desc, 0);
    if ('encodeInto' in entries) entries.encodeInto(desc, OMITTED_HEADER_SIZE, endian);
    else encodeOmittedEntries(entries, endian).copy(desc, OMITTED_HEADER_SIZE);
  });
}

/**
 * Byte offset of the descriptor inside a note from encodeOmittedNote (header 12 + name "SLIMCORE\0" padded to 12).
 * Entry i sits at omittedDescOffset() + OMITTED_HEADER_SIZE + i * OMITTED_ENTRY_SIZE.
 */
export function omittedDescOffset(): number {
  return NOTE_HEADER_SIZE + alignUp(Buffer.byteLength(SLIMCORE_NOTE_NAME, 'latin1') + 1, 4);
}

/**
 * Reads an OMITTED note's descriptor. entry_size may be larger than 24 (later fields are skipped); count must not
 * exceed capacity, and capacity entries must fit in the descriptor.
 */
export function decodeOmittedNote(desc: Buffer, endian: Endian): OmittedList {
  const what = 'SLIMCORE OMITTED note';
  if (desc.length < OMITTED_HEADER_SIZE) {
    throw new BadInputError(`${what}: descriptor of ${desc.length} bytes is shorter than its 16-byte header`);
  }
  const entrySize = readU32(desc, 0, endian);
  const count = readU32(desc, 4, endian);
  const capacity = readU32(desc, 8, endian);
  const flags = readU32(desc, 12, endian);
  if (entrySize < OMITTED_ENTRY_SIZE) {
    throw new BadInputError(`${what}: entry_size ${entrySize} at descriptor offset 0 is below the minimum of ${OMITTED_ENTRY_SIZE}`);
  }
  if (count > capacity) throw new BadInputError(`${what}: count ${count} at descriptor offset 4 exceeds capacity ${capacity}`);
  const room = Math.floor((desc.length - OMITTED_HEADER_SIZE) / entrySize);
  if (capacity > room) {
    throw new BadInputError(
      `${what}: capacity ${capacity} entries of ${entrySize} bytes need ${hex(OMITTED_HEADER_SIZE + capacity * entrySize)} bytes, but the descriptor holds ${hex(desc.length)}`,
    );
  }
  const entries: OmittedEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = OMITTED_HEADER_SIZE + i * entrySize;
    entries.push({
      paddr: readU64(desc, at, endian),
      length: readU64(desc, at + 8, endian),
      reason: readU32(desc, at + 16, endian),
      flags: readU32(desc, at + 20, endian),
    });
  }
  return { entries, capacity, flags };
}
