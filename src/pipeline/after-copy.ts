// After the data: list pages that failed to read in the dump (patching the notes in place) or in a report.

import { writeFile } from 'node:fs/promises';
import { IoError } from '../errors.js';
import { hex, type Endian } from '../elf/byte-order.js';
import {
  causeDescOffset,
  encodeCauseDesc,
  encodeOmittedEntries,
  encodeOmittedHeader,
  omittedDescOffset,
  OMITTED_HEADER_SIZE,
  OMITTED_ENTRY_SIZE,
  OmitReason,
} from '../notes/slimcore-notes.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import type { FailedRange, ReadErrorLog } from '../sources/read-errors.js';
import type { CapturePlan } from './plan.js';

export interface ReadErrorOutcome {
  pages: number;
  ranges: FailedRange[];
  /** Every failed page is listed in the dump's OMITTED note. */
  listedInDump: boolean;
}

/** Writes the read-error entries and the restated cause into the notes already written at `notesOffset` (a sink that can patch). */
export async function patchReadErrors(sink: DumpSink, notesOffset: number, plan: CapturePlan, originalNotesLength: number, endian: Endian, errors: ReadErrorLog): Promise<void> {
  const ourNotes = notesOffset + originalNotesLength;
  const omittedDesc = ourNotes + plan.omittedNoteOffset + omittedDescOffset();
  const entries = errors.ranges.map((r) => ({ paddr: r.paddr, length: r.length, reason: OmitReason.READ_ERROR, flags: 0 }));
  const count = plan.omitted.length + entries.length;
  await sink.patch(omittedDesc + OMITTED_HEADER_SIZE + plan.omitted.length * OMITTED_ENTRY_SIZE, encodeOmittedEntries(entries, endian));
  await sink.patch(omittedDesc, encodeOmittedHeader(count, plan.omittedCapacity, plan.omittedFlags, endian));
  await sink.patch(ourNotes + causeDescOffset(), encodeCauseDesc(plan.causeAfterCopy(errors.pages), plan.causeDescSize));
}

export interface CaptureReport {
  version: 1;
  input: string;
  output: string;
  mode: string;
  cause: string;
  /** What read the segment data: mmap or read(2). */
  reader: 'mmap' | 'read';
  readErrors: { pages: number; listedInDump: boolean; ranges: { segment: number; paddr: string; length: string; fileOffset: string; error: string }[] };
  omitted: { paddr: string; length: string; reason: number }[];
  /** A kernel log read as a pipe streamed past: whether its ranges are zero in the dump and listed there. */
  kernelLogAfterCopy?: { listedInDump: boolean; records: number; ranges: { segment: number; paddr: string; length: string; reason: number }[] };
}

export async function writeReport(file: string, report: CaptureReport): Promise<void> {
  try {
    await writeFile(file, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  } catch (err) {
    throw new IoError(`cannot write --report ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function describeRange(r: FailedRange): string {
  return `${hex(r.paddr)}+${hex(r.length)} (program header ${r.segmentIndex}, file offset ${hex(r.fileOffset)}, ${r.error})`;
}
