// Decides what to write before the header goes out: the mode, the pages to skip, and our notes.

import { BadInputError, type WarningHandler } from '../errors.js';
import { hex, type Endian } from '../elf/byte-order.js';
import { dataSegments, type DumpMode } from '../dump/layout.js';
import { SegmentList } from '../dump/segment-list.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { dropFileAliasedEntries, fileExtents } from '../dump/file-extents.js';
import { keptRangesFromPages, slimProgramHeaders, type KeepCheck } from '../dump/slim-table.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';
import { describeFault, FaultList, mapFaults, normalizeFaults, type FaultMap, type NormalizedFaults } from '../faults/fault-map.js';
import type { UserFault } from '../faults/fault-input.js';
import type { MceRecord } from '../mce/record.js';
import { describeMceCause, judgeMce, type MceVerdict, type RecordOrigin } from '../mce/rules.js';
import {
  decodeMceNoteWithProvenance,
  encodeCauseNote,
  encodeMceNote,
  encodeOmittedNote,
  omittedNoteSize,
  MCE_PROVENANCE_CRASH_OWN,
  MCE_PROVENANCE_FATAL,
  MceOrigin,
  NT_SLIMCORE_MCE,
  OMITTED_FLAG_MAY_BE_INCOMPLETE,
  OmitReason,
  SLIMCORE_NOTE_NAME,
  type MceProvenance,
} from '../notes/slimcore-notes.js';
import { OmittedRanges } from '../notes/omitted-ranges.js';

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
  /** --fault and --faults pages: objects (the library API), or the typed list the CLI parses files into. */
  userFaults: readonly UserFault[] | FaultList;
  /** MCE records from outside the dump (--faults files), and from the crashed kernel's log. */
  extraRecords: readonly SourcedRecord[];
  /** Spare OMITTED entries reserved for ranges found while copying (read errors), for a sink that can patch. */
  omittedReserve: number;
  /** Pages may fail to read, and the sink cannot patch the list in later: flag the list as maybe incomplete. */
  readErrorsUnlisted?: boolean;
  /** Spare CAUSE bytes so that a sink that can patch may restate the cause after the copy. */
  causeReserve?: number;
  /** Spare MCE records in our MCE note (written even when empty), for records found after the copy. */
  mceReserve?: number;
  onWarning: WarningHandler;
  /** Informational lines for the summary (records judged, pages skipped). */
  onNotice?: (line: string) => void;
  panicLine?: string;
  /** Physical pages a slim dump keeps (the kernel log's) in every PT_LOAD that holds them, and whether a segment's bytes can be had to keep them. */
  keepPages?: readonly bigint[];
  /** Physical pages a slim dump keeps once, in the first PT_LOAD that holds them. */
  keepPagesOnce?: readonly bigint[];
  canKeep?: KeepCheck;
  /** What the page filter found (a seekable input, a full dump): its faults, its note, and a filtered ELF table. */
  filter?: PlanFilter;
}

export interface PlanFilter {
  /** Poisoned and offline pages (page flags), and pages that failed to read in the first pass. */
  faults: FaultList;
  /** The FILTER note, appended after OMITTED. */
  note: Buffer;
  /** For a dump level other than 0: the filtered table, and the input's data segments, where faults are listed. */
  table?: { phdrs: ProgramHeaderTable; noteIndex: number; copy: SegmentList };
  sourceSegments?: SegmentList;
}

export interface CapturePlan {
  mode: DumpMode;
  /** The output's program header table: the input's, or for a slim dump its PT_LOADs split around kept pages. */
  outputPhdrs: ProgramHeaderTable;
  outputNoteIndex: number;
  /** What gets copied, keyed by output program header index, in input file order. */
  copySegments: SegmentList;
  /** Why that mode, in a few words. */
  modeReason: string;
  records: JudgedRecord[];
  faultMap: FaultMap;
  /** The OMITTED note's entries, in columns (a full dump with 100,000 faults has 100,000). */
  omitted: OmittedRanges;
  cause: string;
  /** Our notes, encoded in the dump's byte order, ready to append. */
  noteBytes: Buffer;
  /** Offset of the OMITTED note inside noteBytes (for later patching); the CAUSE note is at offset 0. */
  omittedNoteOffset: number;
  omittedCapacity: number;
  omittedFlags: number;
  causeDescSize: number;
  /** Offset of our MCE note inside noteBytes, and its descriptor size (0 when there is none). */
  mceNoteOffset: number;
  mceDescSize: number;
  /** The CAUSE text once the copy is done, given how many pages failed to read. */
  causeAfterCopy(readErrorPages: number): string;
}

/**
 * Records of the input's MCE notes. A note slim-core wrote says where each record came from, and is judged as it was
 * then; one without that (an older slim-core, a crashing kernel) counts as the crash's own. A malformed note is
 * optional metadata: a warning, and the note is still kept byte for byte with the others.
 */
function recordsFromDump(prefix: DumpPrefix, warn: WarningHandler): SourcedRecord[] {
  return prefix.notes.notes
    .filter((n) => n.name === SLIMCORE_NOTE_NAME && n.type === NT_SLIMCORE_MCE)
    .flatMap((n) => {
      let decoded: ReturnType<typeof decodeMceNoteWithProvenance>;
      try {
        decoded = decodeMceNoteWithProvenance(n.desc, prefix.format.endian);
      } catch (err) {
        if (!(err instanceof BadInputError)) throw err;
        warn({ code: 'MCE_NOTE_MALFORMED', message: `${err.message}: its records are not used; the note is kept as it is` });
        return [];
      }
      return decoded.records.map((record, i): SourcedRecord => {
        const p = decoded.provenance?.[i];
        if (!p) return { record, origin: 'dump-note', from: 'the input MCE note' };
        const crashOwn = (p.flags & MCE_PROVENANCE_CRASH_OWN) !== 0;
        return { record, origin: 'dump-note', from: `the input MCE note (${originName(p.origin)})`, judgeAs: crashOwn ? 'dump-note' : 'user-records' };
      });
    });
}

const ORIGIN_CODES: Record<RecordOrigin, number> = { 'kernel-log': MceOrigin.KERNEL_LOG, 'user-records': MceOrigin.USER_RECORDS, 'dump-note': MceOrigin.DUMP_NOTE };
const ORIGIN_NAMES: Record<number, string> = {
  [MceOrigin.KERNEL_LOG]: "first read from the crashed kernel's log",
  [MceOrigin.USER_RECORDS]: "first given by the user's records",
  [MceOrigin.DUMP_NOTE]: 'first read from an MCE note',
};
function originName(code: number): string {
  return ORIGIN_NAMES[code] ?? `origin ${code}`;
}

/** What the MCE note says of a record it carries: its origin, and how it was judged. */
export function provenanceOf(r: JudgedRecord): MceProvenance {
  const crashOwn = (r.judgeAs ?? r.origin) !== 'user-records';
  return { origin: ORIGIN_CODES[r.origin], flags: (r.verdict.fatal ? MCE_PROVENANCE_FATAL : 0) | (crashOwn ? MCE_PROVENANCE_CRASH_OWN : 0) };
}

function reasonForRecord(origin: RecordOrigin): number {
  return origin === 'kernel-log' ? OmitReason.KERNEL_LOG : OmitReason.MCE;
}

interface CauseFacts {
  mode: DumpMode;
  modeReason: string;
  fatal?: JudgedRecord;
  records: readonly JudgedRecord[];
  /** The zero-filled entries (all but a slim dump's): how many, and the first few as text. */
  zeroed: { count: number; first: string[] };
  panicLine?: string;
}

/** Counted and sampled once, without a copy of the list: it may hold 100,000 entries. */
function zeroedSummary(omitted: OmittedRanges): CauseFacts['zeroed'] {
  let count = 0;
  const first: string[] = [];
  for (let i = 0; i < omitted.count; i++) {
    if (omitted.reason(i) === OmitReason.SLIM) continue;
    if (count++ < 4) first.push(`${hex(omitted.paddr(i))}+${hex(omitted.size(i))}`);
  }
  return { count, first };
}

/** The CAUSE text; `readErrorPages` counts pages zero-filled because they failed to read during the copy. */
function causeText(facts: CauseFacts, readErrorPages = 0, readErrorsUnlisted = false): string {
  const { mode, modeReason, fatal, records, zeroed, panicLine } = facts;
  const panic = panicLine ? `; the kernel said "${panicLine}"` : '';
  if (mode === 'slim') {
    if (fatal) return `unrecoverable memory error: ${describeMceCause(fatal.record)}${panic}; memory omitted (slim dump)`;
    return `slim dump (${modeReason})${records.length ? `; ${records.length} MCE record(s) attached` : ''}; memory omitted`;
  }
  const parts: string[] = [];
  if (zeroed.count > 0) parts.push(`${zeroed.count} range(s) zero-filled: ${zeroed.first.join(', ')}${zeroed.count > 4 ? ', ...' : ''}`);
  if (readErrorPages > 0) parts.push(`${readErrorPages} unreadable page(s) zero-filled (read errors)`);
  // Where read errors cannot be listed in the dump, this text is final before the copy: it must not promise "none".
  if (parts.length === 0) parts.push(readErrorsUnlisted ? 'no known faulty pages' : 'no pages were omitted');
  if (readErrorsUnlisted) parts.push('pages that fail to read are listed only in the capture report');
  const first = records[0];
  const error = first ? `memory error: ${describeMceCause(first.record)}${panic}; ` : panicLine ? `${panicLine}; ` : '';
  return `${error}full dump; ${parts.join('; ')}`;
}

/** Records that leave pages at risk in a full dump, or that the user gave for nothing: warnings (--strict refuses). */
function warnAboutRecords(records: readonly JudgedRecord[], warn: WarningHandler): void {
  for (const { record, verdict, from, origin } of records) {
    if (!verdict.valid) continue;
    const which = `MCE record from ${from} (bank ${record.bank}, addr ${hex(record.addr)})`;
    if (verdict.tooCoarse) {
      warn({ code: 'MCE_COARSE_GRANULARITY', message: `${which}: granularity 2^${verdict.granularityBits} is coarser than 1 GiB: address refused, nothing skipped` });
    } else if (verdict.uncorrected && !verdict.addressUsable) {
      warn({ code: 'MCE_ADDRESS_NOT_USABLE', message: `${which}: uncorrected error without a usable address: its page cannot be skipped` });
    }
    if (!verdict.uncorrected && origin === 'user-records') {
      warn({ code: 'MCE_CORRECTED', message: `${which}: a corrected error: nothing skipped` });
    }
  }
}

/** The slim table, or the input's own table for a full dump, with the segments whose bytes get copied. */
interface OutputTable {
  phdrs: ProgramHeaderTable;
  noteIndex: number;
  copy: SegmentList;
  leftOut: OmittedRanges;
}

function outputTable(prefix: DumpPrefix, segments: SegmentList, mode: DumpMode, input: PlanInput): OutputTable {
  const filtered = input.filter?.table;
  if (mode === 'full' && filtered) return { phdrs: filtered.phdrs, noteIndex: filtered.noteIndex, copy: filtered.copy, leftOut: new OmittedRanges() };
  if (mode === 'full') return { phdrs: prefix.phdrs, noteIndex: prefix.noteIndex, copy: segments, leftOut: new OmittedRanges() };
  const kept = keptRangesFromPages(input.keepPages ?? [], prefix.pageSize);
  const once = keptRangesFromPages(input.keepPagesOnce ?? [], prefix.pageSize);
  const table = slimProgramHeaders(prefix.phdrs, prefix.noteIndex, kept, input.canKeep ?? (() => true), once);
  const copy = dataSegments({ phdrs: table.phdrs, noteIndex: table.noteIndex });
  return { phdrs: table.phdrs, noteIndex: table.noteIndex, copy, leftOut: table.leftOut };
}

/**
 * What the page filter must know before it runs: the mode, and (only once it is sure to run) the known-bad pages, as
 * sorted page frame ranges.
 */
export function draftPlan(prefix: DumpPrefix, input: PlanInput): { mode: DumpMode; knownBad: () => NormalizedFaults } {
  const quiet = { ...input, onNotice: undefined, onWarning: () => undefined };
  const { records, mode } = judgedMode(prefix, quiet);
  return { mode, knownBad: () => normalizeFaults(faultList(records, mode, quiet), prefix.pageSize) };
}

/** Every fault of the plan, in one typed list: records' pages, the user's, the page filter's. */
function faultList(records: readonly JudgedRecord[], mode: DumpMode, input: PlanInput): FaultList {
  const filterFaults = mode === 'full' ? (input.filter?.faults.count ?? 0) : 0;
  // The user's list alone is used as it is: no copy of 100,000 faults.
  if (input.userFaults instanceof FaultList && filterFaults === 0 && !records.some((r) => r.verdict.skip)) return input.userFaults;
  const faults = new FaultList();
  for (const r of records) if (r.verdict.skip) faults.add(r.verdict.skip.paddr, r.verdict.skip.length, reasonForRecord(r.origin), `MCE record from ${r.from}`);
  if (input.userFaults instanceof FaultList) faults.append(input.userFaults);
  else for (const f of input.userFaults) faults.add(f.paddr, f.length, OmitReason.USER, f.origin);
  if (mode === 'full' && input.filter) faults.append(input.filter.faults);
  return faults;
}

function judgedMode(prefix: DumpPrefix, input: PlanInput) {
  const records: JudgedRecord[] = [...recordsFromDump(prefix, input.onWarning), ...input.extraRecords].map((r) => ({
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

  return { records, fatal, mode, modeReason };
}

function modeAndFaults(prefix: DumpPrefix, segments: SegmentList, input: PlanInput) {
  const { records, fatal, mode, modeReason } = judgedMode(prefix, input);
  if (mode === 'full') warnAboutRecords(records, input.onWarning);
  const table = outputTable(prefix, segments, mode, input);
  const normalized = normalizeFaults(faultList(records, mode, input), prefix.pageSize);
  const faultMap = mapFaults(normalized, table.copy);
  // A filtered dump lists its faults in every input PT_LOAD that holds them, copied or left out by the level.
  const listed = mode === 'full' && input.filter?.table && input.filter.sourceSegments ? mapFaults(normalized, input.filter.sourceSegments) : faultMap;
  if (mode === 'full') {
    for (const f of listed.outside) {
      input.onWarning({ code: 'FAULT_OUTSIDE_SEGMENTS', message: `fault ${describeFault(f)} lies in no PT_LOAD's file data: nothing to skip there` });
    }
  }
  return { records, fatal, mode, modeReason, table, faultMap, listed };
}

export function planCapture(prefix: DumpPrefix, segments: SegmentList, input: PlanInput): CapturePlan {
  const endian: Endian = prefix.format.endian;
  const { records, fatal, mode, modeReason, table, faultMap, listed } = modeAndFaults(prefix, segments, input);

  const zeroFilled = dropFileAliasedEntries(listed.entries, fileExtents(listed === faultMap ? table.copy : (input.filter?.sourceSegments ?? SegmentList.EMPTY)));
  const omitted = table.leftOut.length === 0 ? zeroFilled : table.leftOut;
  if (omitted !== zeroFilled) omitted.append(zeroFilled);
  const facts: CauseFacts = { mode, modeReason, fatal, records, zeroed: zeroedSummary(omitted), panicLine: input.panicLine };
  // Read errors can only happen where memory is copied: a full dump, or a slim one that keeps some pages.
  const copies = table.copy.length > 0;
  const readErrorsUnlisted = copies && (input.readErrorsUnlisted ?? false);
  const cause = causeText(facts, 0, readErrorsUnlisted);
  // Each page that fails to read adds one entry at most, so a slim dump that keeps few pages needs little room.
  const copiedPages = table.copy.sumOfSizes((size) => Math.ceil(size / prefix.pageSize) + 1);
  const omittedCapacity = omitted.length + Math.min(input.omittedReserve, copiedPages);
  const omittedFlags = readErrorsUnlisted ? OMITTED_FLAG_MAY_BE_INCOMPLETE : 0;

  const causeNote = encodeCauseNote(cause, endian, copies ? (input.causeReserve ?? 0) : 0);
  // Records from an MCE note in the input are already there, kept byte for byte with the other notes.
  const newRecords = records.filter((r) => r.origin !== 'dump-note');
  const mceReserve = input.mceReserve ?? 0;
  const mceNote =
    newRecords.length + mceReserve > 0
      ? encodeMceNote(newRecords.map((r) => r.record), endian, newRecords.map(provenanceOf), newRecords.length + mceReserve)
      : Buffer.alloc(0);
  const filterNote = mode === 'full' ? (input.filter?.note ?? Buffer.alloc(0)) : Buffer.alloc(0);
  // One buffer for our notes, the OMITTED note (megabytes with 100,000 faults) encoded straight into it.
  const omittedAt = causeNote.length + mceNote.length;
  const omittedSize = omittedNoteSize(omittedCapacity);
  const noteBytes = Buffer.alloc(omittedAt + omittedSize + filterNote.length);
  causeNote.copy(noteBytes, 0);
  mceNote.copy(noteBytes, causeNote.length);
  encodeOmittedNote({ entries: omitted, capacity: omittedCapacity, flags: omittedFlags }, endian, noteBytes.subarray(omittedAt, omittedAt + omittedSize));
  filterNote.copy(noteBytes, omittedAt + omittedSize);
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
    noteBytes,
    omittedNoteOffset: omittedAt,
    omittedCapacity,
    omittedFlags,
    causeDescSize: endian === 'le' ? causeNote.readUInt32LE(4) : causeNote.readUInt32BE(4),
    mceNoteOffset: causeNote.length,
    mceDescSize: mceNote.length === 0 ? 0 : endian === 'le' ? mceNote.readUInt32LE(4) : mceNote.readUInt32BE(4),
    causeAfterCopy: (readErrorPages) => causeText(facts, readErrorPages, readErrorsUnlisted),
  };
}
