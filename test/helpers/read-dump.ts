// Test helper: reads back a dump we wrote (headers, notes, our notes, segment bytes) with the project's codecs.

import { readFile } from 'node:fs/promises';
import { readDumpPrefix, type DumpPrefix } from '../../src/dump/prefix.js';
import {
  decodeCauseNote,
  decodeMceNote,
  decodeOmittedNote,
  NT_SLIMCORE_CAUSE,
  NT_SLIMCORE_MCE,
  NT_SLIMCORE_OMITTED,
  SLIMCORE_NOTE_NAME,
  type OmittedList,
} from '../../src/notes/slimcore-notes.js';
import type { MceRecord } from '../../src/mce/record.js';
import { bufferRangeReader } from './buffer-readers.js';

export interface ReadBack {
  bytes: Buffer;
  prefix: DumpPrefix;
  causes: string[];
  mce: MceRecord[];
  omitted?: OmittedList;
  /** File bytes of program header `index`. */
  segment(index: number): Buffer;
}

export async function readBack(file: string): Promise<ReadBack> {
  const bytes = await readFile(file);
  const prefix = await readDumpPrefix(bufferRangeReader(bytes));
  const ours = prefix.notes.notes.filter((n) => n.name === SLIMCORE_NOTE_NAME);
  const endian = prefix.format.endian;
  const omittedNote = ours.find((n) => n.type === NT_SLIMCORE_OMITTED);
  return {
    bytes,
    prefix,
    causes: ours.filter((n) => n.type === NT_SLIMCORE_CAUSE).map((n) => decodeCauseNote(n.desc)),
    mce: ours.filter((n) => n.type === NT_SLIMCORE_MCE).flatMap((n) => decodeMceNote(n.desc, endian)),
    omitted: omittedNote ? decodeOmittedNote(omittedNote.desc, endian) : undefined,
    segment(index) {
      const ph = prefix.phdrs.toArray()[index];
      return bytes.subarray(Number(ph.offset), Number(ph.offset + ph.filesz));
    },
  };
}
