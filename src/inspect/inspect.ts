// `inspect`: reads a dump's headers and notes and reports them decoded, as text or stable JSON.

import { hex } from '../elf/byte-order.js';
import { EM_NAMES, NT_PRSTATUS, PN_XNUM } from '../elf/constants.js';
import { isVmcoreinfo } from '../elf/vmcoreinfo.js';
import { readDumpPrefix } from '../dump/prefix.js';
import { openSource, readFully } from '../sources/byte-source.js';
import { ForwardReader } from '../sources/forward-reader.js';
import { openDump } from '../dump/open-dump.js';
import {
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DUMP_DH_COMPRESSED_LZO,
  DUMP_DH_COMPRESSED_SNAPPY,
  DUMP_DH_COMPRESSED_ZLIB,
  DUMP_DH_COMPRESSED_ZSTD,
  utsnameField,
} from '../kdump/header.js';
import { mceRecordToJson, type MceRecord } from '../mce/record.js';
import { judgeMce, statusBitNames, type RecordOrigin } from '../mce/rules.js';
import { findKernelLog } from '../pipeline/kernel-log-source.js';
import { decodeFilterNote, NT_SLIMCORE_FILTER } from '../notes/filter-note.js';
import { describeFilter, filterJson, type FilterJson } from './filter-report.js';
import { SegmentRows } from './segment-rows.js';
import {
  decodeCauseNote,
  decodeMceNoteWithProvenance,
  decodeOmittedNote,
  MCE_PROVENANCE_CRASH_OWN,
  MCE_PROVENANCE_FATAL,
  MceOrigin,
  NT_SLIMCORE_CAUSE,
  NT_SLIMCORE_MCE,
  NT_SLIMCORE_OMITTED,
  reasonName,
  SLIMCORE_NOTE_NAME,
  type MceProvenance,
} from '../notes/slimcore-notes.js';
import { BadInputError } from '../errors.js';

export const INSPECT_JSON_VERSION = 1;
const VMCOREINFO_KEYS = ['OSRELEASE', 'PAGESIZE', 'CRASHTIME', 'KERNELOFFSET'];

/** A record's fields (64-bit ones as hex strings) plus what the decision table makes of it. */
export interface McePresentation {
  fields: Record<string, string | number>;
  statusBits: string[];
  addressMode: string;
  granularityBits: number | null;
  usableAddress: boolean;
  fatal: boolean;
  /** From the MCE note's provenance table, when it has one: where the record came from, and how it was judged then. */
  provenance: { origin: string; judgedFatal: boolean; crashOwn: boolean } | null;
}

export interface InspectReport {
  version: number;
  file: string;
  elfClass: 32 | 64;
  endian: 'le' | 'be';
  machine: number;
  machineName: string;
  programHeaders: number;
  extendedNumbering: boolean;
  pageSize: number;
  /** One row per program header, made as it is read (`jsonPieces` writes the report with them). */
  segments: SegmentRows;
  notes: { name: string; type: string; size: number }[];
  prstatusCount: number;
  vmcoreinfo: Record<string, string>;
  cause: string[];
  mce: McePresentation[];
  omitted: { count: number; capacity: number; flags: number; entries: { paddr: string; length: string; reason: number; reasonName: string; flags: number }[] }[];
  /** slim-core's FILTER notes: the dump level applied and the pages left out per class. */
  filter: FilterJson[];
  /** Optional metadata that could not be decoded (a malformed MCE note), one line each. */
  problems: string[];
  /** What the crashed kernel's log says, when the file holds it (a full dump, or a slim one that kept its pages). */
  kernelLog: { format: string; records: number; panicLine: string | null; mce: McePresentation[] } | { problem: string };
  /** Set for a kdump-compressed file (no program headers then): its header's facts. */
  kdump?: { flattened: boolean; headerVersion: number; status: number; blockSize: number; dumpLevel: number; maxMapnr: number; dumpablePages: number; release: string; machine: string };
}

const PROVENANCE_ORIGINS: Record<number, string> = {
  [MceOrigin.KERNEL_LOG]: 'kernel-log',
  [MceOrigin.USER_RECORDS]: 'user-records',
  [MceOrigin.DUMP_NOTE]: 'dump-note',
};

function present(record: MceRecord, origin: RecordOrigin, pageSize: number, provenance?: MceProvenance): McePresentation {
  const crashOwn = provenance ? (provenance.flags & MCE_PROVENANCE_CRASH_OWN) !== 0 : true;
  const verdict = judgeMce(record, crashOwn ? origin : 'user-records', pageSize);
  return {
    fields: mceRecordToJson(record),
    statusBits: statusBitNames(record.status, record.cpuvendor),
    addressMode: verdict.addressModeName ?? 'none',
    granularityBits: verdict.granularityBits ?? null,
    usableAddress: verdict.addressUsable,
    fatal: verdict.fatal,
    provenance: provenance
      ? { origin: PROVENANCE_ORIGINS[provenance.origin] ?? `unknown (${provenance.origin})`, judgedFatal: (provenance.flags & MCE_PROVENANCE_FATAL) !== 0, crashOwn }
      : null,
  };
}

export async function inspectDump(path: string | undefined): Promise<InspectReport> {
  const source = await openSource(path);
  // A file or device may be any format; a pipe is read forward as ELF only.
  const dump = source.seekable ? await openDump(path!).finally(() => source.close()) : undefined;
  try {
    const prefix = dump ? dump.prefix : await readDumpPrefix(new ForwardReader((buf, offset, length) => readFully(source, buf, offset, length, null)).rangeReader());
    const { format, header } = prefix;
    const report: InspectReport = {
      version: INSPECT_JSON_VERSION,
      file: source.name,
      elfClass: format.elfClass,
      endian: format.endian,
      machine: header.machine,
      machineName: EM_NAMES[header.machine] ?? `machine ${header.machine}`,
      programHeaders: prefix.phnum,
      extendedNumbering: header.phnum === PN_XNUM,
      pageSize: prefix.pageSize,
      segments: new SegmentRows(prefix.phdrs),
      notes: prefix.notes.notes.map((n) => ({ name: n.name, type: hex(n.type), size: n.desc.length })),
      prstatusCount: prefix.notes.notes.filter((n) => n.name === 'CORE' && n.type === NT_PRSTATUS).length,
      vmcoreinfo: {},
      cause: [],
      mce: [],
      omitted: [],
      filter: [],
      problems: [],
      kernelLog: { problem: 'not read from a pipe' },
    };
    const k = dump?.kdump;
    if (k) {
      report.kdump = {
        flattened: dump.flattened,
        headerVersion: k.header.version,
        status: k.header.status,
        blockSize: k.header.blockSize,
        dumpLevel: k.sub.dumpLevel,
        maxMapnr: k.maxMapnr,
        dumpablePages: k.dumpablePages,
        release: utsnameField(k.header.utsname, 2),
        machine: utsnameField(k.header.utsname, 4),
      };
      report.machineName = report.kdump.machine || report.machineName;
    }
    if (dump) {
      const found = await findKernelLog(prefix, () => Buffer.alloc(0), undefined, dump.memory);
      report.kernelLog =
        'problem' in found
          ? { problem: found.problem }
          : {
              format: found.log.format,
              records: found.log.records.length,
              panicLine: found.panicLine ?? null,
              mce: found.records.map((r) => present(r.record, r.judgeAs ?? r.origin, prefix.pageSize)),
            };
    }
    const info = prefix.notes.notes.find(isVmcoreinfo);
    for (const key of VMCOREINFO_KEYS) {
      const value = info && prefix.vmcoreinfo?.get(key);
      if (value !== undefined) report.vmcoreinfo[key] = value;
    }
    for (const note of prefix.notes.notes.filter((n) => n.name === SLIMCORE_NOTE_NAME)) {
      if (note.type === NT_SLIMCORE_CAUSE) report.cause.push(decodeCauseNote(note.desc));
      if (note.type === NT_SLIMCORE_MCE) {
        try {
          const { records, provenance } = decodeMceNoteWithProvenance(note.desc, format.endian);
          records.forEach((record, i) => report.mce.push(present(record, 'dump-note', prefix.pageSize, provenance?.[i])));
        } catch (err) {
          if (!(err instanceof BadInputError)) throw err;
          report.problems.push(err.message);
        }
      }
      if (note.type === NT_SLIMCORE_FILTER) report.filter.push(filterJson(decodeFilterNote(note.desc, format.endian)));
      if (note.type === NT_SLIMCORE_OMITTED) {
        const list = decodeOmittedNote(note.desc, format.endian);
        report.omitted.push({
          count: list.entries.length,
          capacity: list.capacity,
          flags: list.flags,
          entries: list.entries.map((e) => ({ paddr: hex(e.paddr), length: hex(e.length), reason: e.reason, reasonName: reasonName(e.reason), flags: e.flags })),
        });
      }
    }
    return report;
  } finally {
    await (dump ? dump.close() : source.close());
  }
}

function compressionOf(status: number): string {
  const names: [number, string][] = [[DUMP_DH_COMPRESSED_ZLIB, 'zlib'], [DUMP_DH_COMPRESSED_LZO, 'lzo'], [DUMP_DH_COMPRESSED_SNAPPY, 'snappy'], [DUMP_DH_COMPRESSED_ZSTD, 'zstd']];
  return `compression ${names.find(([bit]) => status & bit)?.[1] ?? 'none'}`;
}

function describeRecord(m: McePresentation): string {
  const granularity = m.granularityBits === null ? 'n/a' : `2^${m.granularityBits}`;
  const from = m.provenance ? `, from ${m.provenance.origin}${m.provenance.crashOwn ? '' : ' (not the crash\'s own)'}` : '';
  return `cpu ${m.fields.cpu} bank ${m.fields.bank} status ${m.fields.status} [${m.statusBits.join(' ')}] addr ${m.fields.addr} misc ${m.fields.misc}: address mode ${m.addressMode}, granularity ${granularity}, ${m.usableAddress ? 'usable' : 'not usable'}${m.fatal ? ', fatal' : ', not fatal'}${from}`;
}

export function formatInspect(r: InspectReport): string {
  return [...formatInspectPieces(r)].join('');
}

const LINES_PER_PIECE = 512;

/** formatInspect's text in pieces of a few hundred lines: a table of 128 Ki segments is 13 MB of text. */
export function* formatInspectPieces(r: InspectReport): Generator<string> {
  let lines: string[] = [];
  const k = r.kdump;
  if (k) {
    lines.push(`${r.file}: kdump-compressed${k.flattened ? ' (flattened)' : ''} ${r.endian === 'le' ? 'little' : 'big'}-endian ${r.machineName} dump, header version ${k.headerVersion}, block size ${k.blockSize}, ${compressionOf(k.status)}`);
    lines.push(`Pages: ${k.dumpablePages} dumpable of ${k.maxMapnr} page frames, dump level ${k.dumpLevel}${k.status & DUMP_DH_COMPRESSED_INCOMPLETE ? ', marked incomplete' : ''}; release ${k.release}`);
  } else {
    lines.push(`${r.file}: ELF${r.elfClass} ${r.endian === 'le' ? 'little' : 'big'}-endian ${r.machineName} core, ${r.programHeaders} program headers${r.extendedNumbering ? ' (extended numbering)' : ''}, page size ${r.pageSize}`);
    lines.push('Segments:');
    lines.push('  #  type  offset        paddr               vaddr               filesz        memsz');
  }
  for (const s of r.segments) {
    lines.push(`  ${String(s.index).padEnd(2)} ${s.type.padEnd(5)} ${s.offset.padEnd(13)} ${s.paddr.padEnd(19)} ${s.vaddr.padEnd(19)} ${s.filesz.padEnd(13)} ${s.memsz}`);
    if (lines.length >= LINES_PER_PIECE) {
      yield lines.join('\n') + '\n';
      lines = [];
    }
  }
  lines.push(`Notes: ${r.notes.length} (${r.prstatusCount} NT_PRSTATUS)`);
  for (const n of r.notes) lines.push(`  ${n.name.padEnd(10)} type ${n.type.padEnd(10)} ${n.size} bytes`);
  const info = Object.entries(r.vmcoreinfo);
  if (info.length > 0) lines.push(`VMCOREINFO: ${info.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const c of r.cause) lines.push(`Cause: ${c}`);
  for (const m of r.mce) lines.push(`MCE: ${describeRecord(m)}`);
  for (const p of r.problems) lines.push(`Warning: ${p}`);
  if ('problem' in r.kernelLog) lines.push(`Kernel log: ${r.kernelLog.problem}`);
  else {
    lines.push(`Kernel log: ${r.kernelLog.records} records (${r.kernelLog.format})${r.kernelLog.panicLine ? `, panic: "${r.kernelLog.panicLine}"` : ', no panic line'}`);
    for (const m of r.kernelLog.mce) lines.push(`  machine check in the log: ${describeRecord(m)}`);
  }
  for (const f of r.filter) lines.push(`Filter: ${describeFilter(f)}`);
  for (const o of r.omitted) {
    lines.push(`Omitted: ${o.count} of ${o.capacity} entries${o.flags & 1 ? ' (may be incomplete: see the report)' : ''}`);
    for (const e of o.entries.slice(0, 20)) lines.push(`  ${e.paddr} +${e.length} ${e.reasonName}`);
    if (o.entries.length > 20) lines.push(`  ... ${o.entries.length - 20} more`);
  }
  yield lines.join('\n') + '\n';
}
