// ELF note codec: Linux rules (name and descriptor each padded to 4 bytes, in ELF32 and ELF64 alike).

import { BadInputError } from '../errors.js';
import { alignUp, hex, readU32, writeU32, type Endian } from './byte-order.js';

export const NOTE_HEADER_SIZE = 12;

export interface Note {
  /** Owner name without its terminating NUL. */
  name: string;
  type: number;
  /** A view into the note segment, not a copy. */
  desc: Buffer;
  /** Offset of the note header inside the note segment. */
  offset: number;
  /** Header, name and descriptor with their padding. */
  size: number;
}

export interface NoteList {
  notes: Note[];
  /** Offset just past the last real note: what to keep byte for byte. */
  end: number;
  /** What followed the last real note, if anything: an empty terminator note, or padding. */
  trailer: 'none' | 'terminator' | 'padding';
}

/**
 * Parses the notes of one PT_NOTE segment. `where` names the segment in error messages, and
 * `baseOffset` is its file offset, so messages say where in the file a bad note starts.
 */
export function parseNotes(seg: Buffer, endian: Endian, where = 'PT_NOTE', baseOffset = 0): NoteList {
  const notes: Note[] = [];
  let at = 0;
  while (at + NOTE_HEADER_SIZE <= seg.length) {
    const namesz = readU32(seg, at, endian);
    const descsz = readU32(seg, at + 4, endian);
    const type = readU32(seg, at + 8, endian);
    if (namesz === 0) {
      return { notes, end: at, trailer: 'terminator' };
    }
    const nameAt = at + NOTE_HEADER_SIZE;
    const descAt = nameAt + alignUp(namesz, 4);
    const next = descAt + alignUp(descsz, 4);
    // Plain numbers here are exact: each term is below 2^34, far from 2^53.
    if (descAt + descsz > seg.length) {
      throw new BadInputError(
        `${where}: note ${notes.length} at file offset ${hex(baseOffset + at)}: n_namesz ${namesz} + n_descsz ${descsz} run past the end of the segment (${hex(seg.length)} bytes)`,
      );
    }
    let nameEnd = nameAt + namesz;
    while (nameEnd > nameAt && seg[nameEnd - 1] === 0) nameEnd--;
    notes.push({
      name: seg.toString('latin1', nameAt, nameEnd),
      type,
      desc: seg.subarray(descAt, descAt + descsz),
      offset: at,
      size: Math.min(next, seg.length) - at,
    });
    at = Math.min(next, seg.length);
  }
  return { notes, end: at, trailer: at < seg.length ? 'padding' : 'none' };
}

export function noteSize(name: string, descLength: number): number {
  return NOTE_HEADER_SIZE + alignUp(Buffer.byteLength(name, 'latin1') + 1, 4) + alignUp(descLength, 4);
}

export function encodeNote(name: string, type: number, desc: Buffer, endian: Endian): Buffer {
  return encodeNoteWith(name, type, desc.length, endian, undefined, (room) => desc.copy(room));
}

/**
 * A note whose descriptor of `descSize` zero bytes `fill` writes in place: a large descriptor is not copied. `into`:
 * noteSize() zero bytes to write it in (else a new buffer).
 */
export function encodeNoteWith(name: string, type: number, descSize: number, endian: Endian, into: Buffer | undefined, fill: (desc: Buffer) => void): Buffer {
  const nameBytes = Buffer.byteLength(name, 'latin1') + 1;
  const size = noteSize(name, descSize);
  if (into && into.length !== size) throw new RangeError(`note ${name}: ${into.length} bytes given for a note of ${size}`);
  const buf = into ?? Buffer.alloc(size);
  writeU32(buf, 0, nameBytes, endian);
  writeU32(buf, 4, descSize, endian);
  writeU32(buf, 8, type, endian);
  buf.write(name, NOTE_HEADER_SIZE, 'latin1');
  const descAt = NOTE_HEADER_SIZE + alignUp(nameBytes, 4);
  fill(buf.subarray(descAt, descAt + descSize));
  return buf;
}
