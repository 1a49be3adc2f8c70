// After a pipe's copy: the machine checks of a log read late zero their pages already written, and restate our notes.

import { hex, type Endian } from '../elf/byte-order.js';
import type { OutputLayout } from '../dump/layout.js';
import { FaultList, mapFaults, normalizeFaults, type SegmentFault } from '../faults/fault-map.js';
import { MCE_RECORD_SIZE } from '../mce/record.js';
import { describeMceCause, judgeMce } from '../mce/rules.js';
import {
  causeDescOffset,
  encodeCauseDesc,
  encodeMceDesc,
  encodeOmittedEntries,
  encodeOmittedHeader,
  mceDescSize,
  omittedDescOffset,
  OMITTED_ENTRY_SIZE,
  OMITTED_HEADER_SIZE,
  OmitReason,
} from '../notes/slimcore-notes.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import type { KernelLogFindings } from './kernel-log-source.js';
import { provenanceOf, type CapturePlan, type JudgedRecord } from './plan.js';

/** Records and OMITTED entries a capture reserves for a log it could not read before the data. */
export const LATE_LOG_MCE_RESERVE = 8;
export const LATE_LOG_OMITTED_RESERVE = 64;
export const LATE_LOG_CAUSE_RESERVE = 224;
const ZEROS = Buffer.alloc(1 << 20);

export interface LateLogOutcome {
  records: JudgedRecord[];
  /** Ranges zero-filled (or, on a sink that cannot patch, that should have been), once per segment holding them. */
  entries: SegmentFault[];
  /** Every range is zero in the dump and listed in its OMITTED note. */
  listedInDump: boolean;
  cause: string;
}

/** Judges the late log's records and finds their pages in what was copied. */
export function judgeLateLog(findings: KernelLogFindings, plan: CapturePlan, pageSize: number): Omit<LateLogOutcome, 'listedInDump' | 'cause'> {
  const records = findings.records.map((r) => ({ ...r, verdict: judgeMce(r.record, r.judgeAs ?? r.origin, pageSize) }));
  const faults = new FaultList();
  for (const r of records) if (r.verdict.skip) faults.add(r.verdict.skip.paddr, r.verdict.skip.length, OmitReason.KERNEL_LOG, `MCE record from ${r.from}`);
  return { records, entries: mapFaults(normalizeFaults(faults, pageSize), plan.copySegments).entries.toArray() };
}

export function lateLogCause(plan: CapturePlan, late: Omit<LateLogOutcome, 'listedInDump' | 'cause'>, listedInDump: boolean): string {
  const first = late.records[0];
  if (!first) return plan.cause;
  const ranges = late.entries.map((e) => `${hex(e.paddr)}+${hex(e.length)}`);
  const what = ranges.length === 0 ? 'no page in the copied data' : `${ranges.length} range(s) ${listedInDump ? 'zero-filled after the copy' : 'NOT zero-filled (see the capture report)'}: ${ranges.slice(0, 3).join(', ')}${ranges.length > 3 ? ', ...' : ''}`;
  const before = plan.omitted.length > 0 ? `; before the copy: ${plan.cause}` : '';
  return `memory error: ${describeMceCause(first.record)}, found in the crashed kernel's log as it streamed past; full dump; ${what}${before}`;
}

/** Whether the reserved room holds the late entries (records beyond the MCE note's room are left out of it). */
export function lateLogFits(plan: CapturePlan, late: Omit<LateLogOutcome, 'listedInDump' | 'cause'>): boolean {
  return plan.omitted.length + late.entries.length <= plan.omittedCapacity && plan.mceDescSize > 0;
}

/** Zeroes the pages in the written dump and rewrites the CAUSE, MCE and OMITTED notes in their reserved room. */
export async function patchLateLog(sink: DumpSink, layout: OutputLayout, plan: CapturePlan, originalNotesLength: number, endian: Endian, late: LateLogOutcome): Promise<void> {
  for (const e of late.entries) {
    const copy = plan.copySegments;
    const segPaddr = copy.paddr(copy.findIndex((i) => copy.index(i) === e.segmentIndex));
    let at = layout.outOffsets[e.segmentIndex] + Number(e.paddr - segPaddr);
    for (let left = Number(e.length); left > 0; ) {
      const n = Math.min(left, ZEROS.length);
      await sink.patch(at, ZEROS.subarray(0, n));
      at += n;
      left -= n;
    }
  }
  const ourNotes = layout.notesOffset + originalNotesLength;
  const omittedDesc = ourNotes + plan.omittedNoteOffset + omittedDescOffset();
  const entries = late.entries.map((e) => ({ paddr: e.paddr, length: e.length, reason: e.reason, flags: 0 }));
  await sink.patch(omittedDesc + OMITTED_HEADER_SIZE + plan.omitted.length * OMITTED_ENTRY_SIZE, encodeOmittedEntries(entries, endian));
  await sink.patch(omittedDesc, encodeOmittedHeader(plan.omitted.length + entries.length, plan.omittedCapacity, plan.omittedFlags, endian));
  const earlier = plan.records.filter((r) => r.origin !== 'dump-note');
  const room = Math.floor((plan.mceDescSize - mceDescSize(0, true)) / (MCE_RECORD_SIZE + 8));
  const all = [...earlier, ...late.records].slice(0, room);
  await sink.patch(ourNotes + plan.mceNoteOffset + causeDescOffset(), encodeMceDesc(all.map((r) => r.record), endian, all.map(provenanceOf), plan.mceDescSize));
  await sink.patch(ourNotes + causeDescOffset(), encodeCauseDesc(late.cause, plan.causeDescSize));
}

/** Reads the gathered log, and zero-fills and lists its pages on a sink that can patch; undefined when it has nothing to add. */
export async function finishLateLog(
  read: () => Promise<KernelLogFindings | { problem: string }>,
  plan: CapturePlan,
  sink: DumpSink,
  layout: OutputLayout | undefined,
  originalNotesLength: number,
  endian: Endian,
  pageSize: number,
  onNotice?: (line: string) => void,
): Promise<LateLogOutcome | undefined> {
  const found = await read();
  if ('problem' in found) {
    onNotice?.(`kernel log, gathered as it streamed past: ${found.problem}`);
    return undefined;
  }
  onNotice?.(`kernel log, gathered as it streamed past: ${found.log.records.length} records, ${found.records.length} machine-check record(s)`);
  if (found.records.length === 0) return undefined;
  const judged = judgeLateLog(found, plan, pageSize);
  const listedInDump = sink.canPatch && layout !== undefined && lateLogFits(plan, judged);
  const outcome = { ...judged, listedInDump, cause: lateLogCause(plan, judged, listedInDump) };
  if (listedInDump) await patchLateLog(sink, layout, plan, originalNotesLength, endian, outcome);
  return outcome;
}

/** The report's account of a late log: its ranges, zero in the dump and listed there, or neither. */
export function lateLogReport(late: LateLogOutcome) {
  return {
    listedInDump: late.listedInDump,
    records: late.records.length,
    ranges: late.entries.map((e) => ({ segment: e.segmentIndex, paddr: hex(e.paddr), length: hex(e.length), reason: e.reason })),
  };
}
