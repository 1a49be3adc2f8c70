// Decides what to write before the header goes out: the mode, the pages to skip, and our notes.

import type { WarningHandler } from '../errors.js';
import { hex, type Endian } from '../elf/byte-order.js';
import { dataSegments, type DataSegment, type DumpMode } from '../dump/layout.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { dropFileAliasedEntries, fileExtents } from '../dump/file-extents.js';
import { keptRangesFromPages, slimProgramHeaders, type KeepCheck } from '../dump/slim-table.js';
import type { ProgramHeader } from '../elf/program-header.js';
import { describeFault, mapFaults, normalizeFaults, type FaultMap, type FaultRange } from '../faults/fault-map.js';
import type { UserFault } from '../faults/fault-input.js';
import type { MceRecord } from '../mce/record.js';
import { describeMceCause, judgeMce, type MceVerdict, type RecordOrigin } from '../mce/rules.js';
import {
  decodeMceNote,
  encodeCauseNote,
  encodeMceNote,
  encodeOmittedNote,
  NT_SLIMCORE_MCE,
  OMITTED_FLAG_MAY_BE_INCOMPLETE,
  OmitReason,
  SLIMCORE_NOTE_NAME,
  type OmittedEntry,
} from '../notes/slimcore-notes.js';

export type RequestedMode = DumpMode | 'auto';

export interface SourcedRecord {
  record: MceRecord;
  origin: RecordOrigin;
  /** Where it came from, for messages: "input MCE note", "faults.json", ... */
  from: string;
  /**
   * The origin the fatal rule sees, when it differs: a record in the crashed kernel's log counts as the crash's cause
   * only when that log ends in a machine-check panic.
   */
  judgeAs?: RecordOrigin;
}

export interface JudgedRecord extends SourcedRecord {
  verdict: MceVerdict;
}

export interface PlanInput {
  mode: RequestedMode;
  userFaults: readonly UserFault[];
  /** MCE records from outside the dump (--faults files), and from the crashed kernel's log. */
  extraRecords: readonly SourcedRecord[];
  /** Spare OMITTED entries reserved for ranges found while copying (read errors), for a sink that can patch. */
  omittedReserve: number;
  /** Pages may fail to read, and the sink cannot patch the list in later: flag the list as maybe incomplete. */
  readErrorsUnlisted?: boolean;
  /** Spare CAUSE bytes so that a sink that can patch may restate the cause after the copy. */
  causeReserve?: number;
  onWarning: WarningHandler;
  /** Informational lines for the summary (records judged, pages skipped). */
  onNotice?: (line: string) => void;
  panicLine?: string;
  /** Physical pages a slim dump keeps (the kernel log's) in every PT_LOAD that holds them, and whether a segment's bytes can be had to keep them. */
  keepPages?: readonly bigint[];
  /** Physical pages a slim dump keeps once, in the first PT_LOAD that holds them. */
  keepPagesOnce?: readonly bigint[];
  canKeep?: KeepCheck;
}

export interface CapturePlan {
  mode: DumpMode;
  /** The output's program header table: the input's, or for a slim dump its PT_LOADs split around kept pages. */
  outputPhdrs: ProgramHeader[];
  outputNoteIndex: number;
  /** What gets copied, keyed by output program header index, in input file order. */
  copySegments: DataSegment[];
  /** Why that mode, in a few words. */
  modeReason: string;
  records: JudgedRecord[];
  faultMap: FaultMap;
  omitted: OmittedEntry[];
  cause: string;
  /** Our notes, encoded in the dump's byte order, ready to append. */
  noteBytes: Buffer;
  /** Offset of the OMITTED note inside noteBytes (for later patching); the CAUSE note is at offset 0. */
  omittedNoteOffset: number;
  omittedCapacity: number;
  omittedFlags: number;
  causeDescSize: number;
  /** The CAUSE text once the copy is done, given how many pages failed to read. */
  causeAfterCopy(readErrorPages: number): string;
}

function recordsFromDump(prefix: DumpPrefix): SourcedRecord[] {
  return prefix.notes.notes
    .filter((n) => n.name === SLIMCORE_NOTE_NAME && n.type === NT_SLIMCORE_MCE)
    .flatMap((n) => decodeMceNote(n.desc, prefix.format.endian).map((record) => ({ record, origin: 'dump-note' as const, from: 'the input MCE note' })));
}

function reasonForRecord(origin: RecordOrigin): number {
  return origin === 'kernel-log' ? OmitReason.KERNEL_LOG : OmitReason.MCE;
}

interface CauseFacts {
  mode: DumpMode;
  modeReason: string;
  fatal?: JudgedRecord;
  records: readonly JudgedRecord[];
  omitted: readonly OmittedEntry[];
  panicLine?: string;
}

/** The CAUSE text; `readErrorPages` counts pages zero-filled because they failed to read during the copy. */
function causeText(facts: CauseFacts, readErrorPages = 0, readErrorsUnlisted = false): string {
  const { mode, modeReason, fatal, records, omitted, panicLine } = facts;
  const panic = panicLine ? `; the kernel said "${panicLine}"` : '';
  if (mode === 'slim') {
    if (fatal) return `unrecoverable memory error: ${describeMceCause(fatal.record)}${panic}; memory omitted (slim dump)`;
    return `slim dump (${modeReason})${records.length ? `; ${records.length} MCE record(s) attached` : ''}; memory omitted`;
  }
  const zeroed = omitted.filter((e) => e.reason !== OmitReason.SLIM);
  const parts: string[] = [];
  if (zeroed.length > 0) {
    parts.push(`${zeroed.length} range(s) zero-filled: ${zeroed.slice(0, 4).map((e) => `${hex(e.paddr)}+${hex(e.length)}`).join(', ')}${zeroed.length > 4 ? ', ...' : ''}`);
  }
  if (readErrorPages > 0) parts.push(`${readErrorPages} unreadable page(s) zero-filled (read errors)`);
  if (parts.length === 0) parts.push('no pages were omitted');
  if (readErrorsUnlisted) parts.push('pages that fail to read are listed only in the capture report');
  const first = records[0];
  const error = first ? `memory error: ${describeMceCause(first.record)}${panic}; ` : panicLine ? `${panicLine}; ` : '';
  return `${error}full dump; ${parts.join('; ')}`;
}

/** The slim table, or the input's own table for a full dump, with the segments whose bytes get copied. */
function outputTable(prefix: DumpPrefix, segments: readonly DataSegment[], mode: DumpMode, input: PlanInput) {
  if (mode === 'full') return { phdrs: prefix.phdrs, noteIndex: prefix.noteIndex, copy: [...segments], leftOut: [] };
  const kept = keptRangesFromPages(input.keepPages ?? [], prefix.pageSize);
  const once = keptRangesFromPages(input.keepPagesOnce ?? [], prefix.pageSize);
  const table = slimProgramHeaders(prefix.phdrs, prefix.noteIndex, kept, input.canKeep ?? (() => true), once);
  const copy = dataSegments({ ...prefix, phdrs: table.phdrs, phnum: table.phdrs.length, noteIndex: table.noteIndex });
  return { phdrs: table.phdrs, noteIndex: table.noteIndex, copy, leftOut: table.leftOut };
}

export function planCapture(prefix: DumpPrefix, segments: readonly DataSegment[], input: PlanInput): CapturePlan {
  const endian: Endian = prefix.format.endian;
  const records: JudgedRecord[] = [...recordsFromDump(prefix), ...input.extraRecords].map((r) => ({
    ...r,
    verdict: judgeMce(r.record, r.judgeAs ?? r.origin, prefix.pageSize),
  }));
  const fatal = records.find((r) => r.verdict.fatal);
  const mode: DumpMode = input.mode === 'auto' ? (fatal ? 'slim' : 'full') : input.mode;
  // A slim dump copies no memory: what the rule would skip is worth saying, but nothing is being skipped.
  const told = (message: string) => (mode === 'slim' ? message.replace(/: skipping /, ': a full dump would skip ') : message);
  for (const r of records) {
    for (const message of r.verdict.messages) input.onNotice?.(`MCE record from ${r.from}: ${told(message)}`);
  }
  const modeReason =
    input.mode !== 'auto' ? `--mode ${input.mode}` : fatal ? `fatal memory error in ${fatal.from}` : 'no fatal memory error recorded';

  const faults: FaultRange[] = [
    ...records.flatMap((r) =>
      r.verdict.skip ? [{ paddr: r.verdict.skip.paddr, length: r.verdict.skip.length, reason: reasonForRecord(r.origin), origin: `MCE record from ${r.from}` }] : [],
    ),
    ...input.userFaults.map((f) => ({ paddr: f.paddr, length: f.length, reason: OmitReason.USER, origin: f.origin })),
  ];
  const table = outputTable(prefix, segments, mode, input);
  const normalized = normalizeFaults(faults, prefix.pageSize);
  const faultMap = mapFaults(normalized, table.copy);
  if (mode === 'full') {
    for (const f of faultMap.outside) {
      input.onWarning({ code: 'FAULT_OUTSIDE_SEGMENTS', message: `fault ${describeFault(f)} lies in no PT_LOAD's file data: nothing to skip there` });
    }
  }

  const omitted: OmittedEntry[] = [
    ...table.leftOut.map((r) => ({ paddr: r.paddr, length: r.length, reason: OmitReason.SLIM, flags: 0 })),
    ...dropFileAliasedEntries(faultMap.entries, fileExtents(table.copy)),
  ];
  const facts: CauseFacts = { mode, modeReason, fatal, records, omitted, panicLine: input.panicLine };
  // Read errors can only happen where memory is copied: a full dump, or a slim one that keeps some pages.
  const copies = table.copy.length > 0;
  const readErrorsUnlisted = copies && (input.readErrorsUnlisted ?? false);
  const cause = causeText(facts, 0, readErrorsUnlisted);
  // Each page that fails to read adds one entry at most, so a slim dump that keeps few pages needs little room.
  const copiedPages = table.copy.reduce((n, s) => n + Math.ceil(s.size / prefix.pageSize) + 1, 0);
  const omittedCapacity = omitted.length + Math.min(input.omittedReserve, copiedPages);
  const omittedFlags = readErrorsUnlisted ? OMITTED_FLAG_MAY_BE_INCOMPLETE : 0;

  const causeNote = encodeCauseNote(cause, endian, copies ? (input.causeReserve ?? 0) : 0);
  // Records from an MCE note in the input are already there, kept byte for byte with the other notes.
  const newRecords = records.filter((r) => r.origin !== 'dump-note').map((r) => r.record);
  const mceNote = newRecords.length > 0 ? encodeMceNote(newRecords, endian) : Buffer.alloc(0);
  const omittedNote = encodeOmittedNote({ entries: omitted, capacity: omittedCapacity, flags: omittedFlags }, endian);
  return {
    mode,
    outputPhdrs: table.phdrs,
    outputNoteIndex: table.noteIndex,
    copySegments: table.copy,
    modeReason,
    records,
    faultMap,
    omitted,
    cause,
    noteBytes: Buffer.concat([causeNote, mceNote, omittedNote]),
    omittedNoteOffset: causeNote.length + mceNote.length,
    omittedCapacity,
    omittedFlags,
    causeDescSize: endian === 'le' ? causeNote.readUInt32LE(4) : causeNote.readUInt32BE(4),
    causeAfterCopy: (readErrorPages) => causeText(facts, readErrorPages, readErrorsUnlisted),
  };
}
