// Test-only generator of synthetic kdump vmcores, written apart from src/ (Buffer writes only) so it catches codec bugs.

import { open } from 'node:fs/promises';

export interface SyntheticSegment {
  paddr: bigint;
  vaddr?: bigint;
  size: number;
  /** Defaults to size. */
  memsz?: number;
  /** Byte at a segment offset; defaults to segmentByte's pattern. */
  fill?: (offset: number) => number;
}

export interface MceRecordInput {
  status: bigint;
  misc?: bigint;
  addr?: bigint;
  mcgstatus?: bigint;
  bank?: number;
  cpu?: number;
  cpuvendor?: number;
  time?: bigint;
}

export interface SyntheticOptions {
  elfClass?: 32 | 64;
  endian?: 'le' | 'be';
  machine?: number;
  segments?: SyntheticSegment[];
  cpus?: number;
  vmcoreinfo?: string | null;
  extraNotes?: { name: string; type: number; desc: Buffer }[];
  mceRecords?: MceRecordInput[];
  noteTrailer?: 'none' | 'terminator' | 'padding';
  pageSize?: number;
  dataGapBytes?: number;
  segmentOrder?: 'file' | 'reversed';
  extendedNumbering?: boolean;
  qemuSectionHeaders?: boolean;
  notesAfterData?: boolean;
}

export interface SyntheticLoad { index: number; paddr: bigint; vaddr: bigint; fileOffset: number; size: number; memsz: number }

export interface SyntheticVmcore {
  /** The whole file; from writeSyntheticVmcore only the prefix before the first segment data (headers, and notes unless notesAfterData). */
  bytes: Buffer;
  segments: SyntheticLoad[];
  noteOffset: number;
  noteSize: number;
  /** End of the last real note, relative to noteOffset; noteSize minus it is the trailer. */
  notesEnd: number;
  pageSize: number;
}

export const SLIMCORE_MCE_NOTE_NAME = 'SLIMCORE';
export const SLIMCORE_MCE_NOTE_TYPE = 0x534c4302;
export const MCE_RECORD_SIZE = 128;
/** Zero bytes after the last note for noteTrailer 'padding': a multiple of the 12-byte note header, else readelf and eu-readelf reject it. */
export const NOTE_PADDING_BYTES = 48;
/** Filler of the dataGapBytes regions: non-zero so that a copied gap shows up. */
export const GAP_FILLER = 0xee;

const PN_XNUM = 0xffff;
const DEFAULT_MACHINE = { '64le': 62, '32le': 3, '64be': 21, '32be': 22 } as const;
const WRITE_CHUNK = 1 << 20;

export function defaultVmcoreinfo(pageSize = 4096): string {
  return [
    'OSRELEASE=6.1.0-synthetic', `PAGESIZE=${pageSize}`, 'CRASHTIME=1795690541', 'KERNELOFFSET=0',
    'SYMBOL(init_uts_ns)=ffffffff82a12340', 'SYMBOL(prb)=ffffffff82a5c8e0', 'OFFSET(uts_namespace.name)=0',
    'NUMBER(phys_base)=0', 'NUMBER(PG_hwpoison)=23', '',
  ].join('\n');
}

// A cheap integer hash so that every page (and every byte in it) differs, and overlapping segments agree per paddr.
function patternByte(lo: number, hi: number, offset: number): number {
  const total = lo + offset;
  let v = (total >>> 0) ^ Math.imul((hi + Math.floor(total / 0x1_0000_0000)) | 0, 0x85ebca6b);
  v = Math.imul(v ^ (v >>> 16), 0x9e3779b1);
  v = Math.imul(v ^ (v >>> 13), 0x2c1b3c6d);
  return 1 + (((v ^ (v >>> 15)) >>> 0) % 255);
}

export function segmentByte(seg: SyntheticSegment, offset: number): number {
  if (seg.fill) return seg.fill(offset) & 0xff;
  return patternByte(Number(seg.paddr & 0xffffffffn), Number((seg.paddr >> 32n) & 0xffffffffn), offset);
}

function fillSegment(seg: SyntheticSegment, start: number, out: Uint8Array): void {
  if (seg.fill) {
    for (let i = 0; i < out.length; i++) out[i] = seg.fill(start + i) & 0xff;
    return;
  }
  const lo = Number(seg.paddr & 0xffffffffn);
  const hi = Number((seg.paddr >> 32n) & 0xffffffffn);
  for (let i = 0; i < out.length; i++) out[i] = patternByte(lo, hi, start + i);
}

/** Sequential field writer in one ELF class and byte order. */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer, private readonly le: boolean, private readonly is64: boolean) {}
  u8(v: number): this { this.buf.writeUInt8(v, this.pos); this.pos += 1; return this; }
  u16(v: number): this { this.le ? this.buf.writeUInt16LE(v, this.pos) : this.buf.writeUInt16BE(v, this.pos); this.pos += 2; return this; }
  u32(v: number): this { this.le ? this.buf.writeUInt32LE(v, this.pos) : this.buf.writeUInt32BE(v, this.pos); this.pos += 4; return this; }
  u64(v: bigint): this { this.le ? this.buf.writeBigUInt64LE(v, this.pos) : this.buf.writeBigUInt64BE(v, this.pos); this.pos += 8; return this; }
  word(v: bigint | number): this {
    const b = BigInt(v);
    if (this.is64) return this.u64(b);
    if (b > 0xffffffffn) throw new RangeError(`synthetic vmcore: ${b} does not fit an ELF32 field`);
    return this.u32(Number(b));
  }
  at(pos: number): this { this.pos = pos; return this; }
}

const align = (n: number, a: number): number => (a <= 1 ? n : Math.ceil(n / a) * a);

function encodeNote(name: string, type: number, desc: Buffer, le: boolean): Buffer {
  const nameBytes = name === '' ? Buffer.alloc(0) : Buffer.from(`${name}\0`, 'latin1');
  const out = Buffer.alloc(12 + align(nameBytes.length, 4) + align(desc.length, 4));
  new Cursor(out, le, false).u32(nameBytes.length).u32(desc.length).u32(type >>> 0);
  nameBytes.copy(out, 12);
  desc.copy(out, 12 + align(nameBytes.length, 4));
  return out;
}

export function encodeMceRecordForTest(rec: MceRecordInput, endian: 'le' | 'be'): Buffer {
  const out = Buffer.alloc(MCE_RECORD_SIZE);
  const c = new Cursor(out, endian === 'le', true);
  c.u64(rec.status).u64(rec.misc ?? 0n).u64(rec.addr ?? 0n).u64(rec.mcgstatus ?? 0n);
  c.at(48).u64(rec.time ?? 0n).u8(rec.cpuvendor ?? 0);
  c.at(65).u8(rec.bank ?? 0).u8(rec.cpu ?? 0);
  return out;
}

function prstatusDesc(cpu: number, is64: boolean, le: boolean): Buffer {
  // Sizes and pr_pid offsets of struct elf_prstatus on x86-64 (0x150, 32) and i386 (0x90, 24).
  const desc = Buffer.alloc(is64 ? 0x150 : 0x90);
  new Cursor(desc, le, false).at(is64 ? 32 : 24).u32(cpu + 1);
  return desc;
}

function buildNotes(o: SyntheticOptions, is64: boolean, le: boolean, pageSize: number): { notes: Buffer; notesEnd: number } {
  const parts: Buffer[] = [];
  for (let cpu = 0; cpu < (o.cpus ?? 2); cpu++) parts.push(encodeNote('CORE', 1, prstatusDesc(cpu, is64, le), le));
  const info = o.vmcoreinfo === undefined ? defaultVmcoreinfo(pageSize) : o.vmcoreinfo;
  if (info !== null) parts.push(encodeNote('VMCOREINFO', 0, Buffer.from(info, 'latin1'), le));
  for (const n of o.extraNotes ?? []) parts.push(encodeNote(n.name, n.type, n.desc, le));
  if (o.mceRecords) {
    const head = Buffer.alloc(8);
    new Cursor(head, le, false).u32(MCE_RECORD_SIZE).u32(o.mceRecords.length);
    const records = o.mceRecords.map((r) => encodeMceRecordForTest(r, le ? 'le' : 'be'));
    parts.push(encodeNote(SLIMCORE_MCE_NOTE_NAME, SLIMCORE_MCE_NOTE_TYPE, Buffer.concat([head, ...records]), le));
  }
  const notesEnd = parts.reduce((n, p) => n + p.length, 0);
  const trailer = o.noteTrailer === 'terminator' ? 12 : o.noteTrailer === 'padding' ? NOTE_PADDING_BYTES : 0;
  parts.push(Buffer.alloc(trailer));
  return { notes: Buffer.concat(parts), notesEnd };
}

function defaultSegments(pageSize: number): SyntheticSegment[] {
  const p = BigInt(pageSize);
  return [
    { paddr: p, size: 3 * pageSize },
    { paddr: 0x100n * p, size: 4 * pageSize },
    { paddr: 0x400n * p, size: 2 * pageSize },
  ];
}

function defaultVaddr(paddr: bigint, is64: boolean): bigint {
  if (is64) return 0xffff888000000000n + paddr;
  return paddr < 0x38000000n ? 0xc0000000n + paddr : 0xffffffffn;
}

interface Plan {
  totalSize: number;
  prefixEnd: number;
  /** Metadata regions (headers, notes, gap fillers, section data), in file order. */
  pieces: { offset: number; bytes: Buffer }[];
  loads: { seg: SyntheticSegment; load: SyntheticLoad }[];
  result: Omit<SyntheticVmcore, 'bytes'>;
}

function plan(o: SyntheticOptions): Plan {
  const is64 = (o.elfClass ?? 64) === 64;
  const endian = o.endian ?? 'le';
  const le = endian === 'le';
  const pageSize = o.pageSize ?? 4096;
  const gap = o.dataGapBytes ?? 0;
  const segs = o.segments ?? defaultSegments(pageSize);
  const phnum = segs.length + 1;
  const extended = o.extendedNumbering ?? false;
  if (phnum >= PN_XNUM && !extended) throw new RangeError(`synthetic vmcore: ${phnum} program headers need extendedNumbering`);
  const [ehsize, phentsize, shentsize] = is64 ? [64, 56, 64] : [52, 32, 40];
  const shdr0AfterHeader = extended && !o.qemuSectionHeaders;
  const phoff = shdr0AfterHeader ? ehsize + shentsize : ehsize;
  const headersEnd = phoff + phnum * phentsize;
  const { notes, notesEnd } = buildNotes(o, is64, le, pageSize);
  const pieces: Plan['pieces'] = [];

  let pos = headersEnd;
  let noteOffset = 0;
  if (!o.notesAfterData) {
    noteOffset = align(headersEnd, pageSize);
    pos = noteOffset + notes.length;
  }
  const loads: Plan['loads'] = segs.map((seg, i) => ({
    seg,
    load: { index: i + 1, paddr: seg.paddr, vaddr: seg.vaddr ?? defaultVaddr(seg.paddr, is64), fileOffset: 0, size: seg.size, memsz: seg.memsz ?? seg.size },
  }));
  const fileOrder = o.segmentOrder === 'reversed' ? [...loads].reverse() : loads;
  fileOrder.forEach(({ load }, i) => {
    if (i > 0 && gap > 0) {
      pieces.push({ offset: pos, bytes: Buffer.alloc(gap, GAP_FILLER) });
      pos += gap;
    }
    load.fileOffset = align(pos, pageSize);
    pos = load.fileOffset + load.size;
  });
  if (o.notesAfterData) {
    noteOffset = align(pos, 8);
    pos = noteOffset + notes.length;
  }
  pieces.push({ offset: noteOffset, bytes: notes });

  let shoff = 0;
  let shnum = 0;
  let shstrndx = 0;
  const shdrs: Buffer[] = [];
  if (shdr0AfterHeader) {
    [shoff, shnum] = [ehsize, 1];
    shdrs.push(sectionHeader(is64, le, { info: phnum }));
  }
  if (o.qemuSectionHeaders) {
    const strtab = Buffer.from('\0.shstrtab\0', 'latin1');
    const strtabOffset = pos;
    pieces.push({ offset: strtabOffset, bytes: strtab });
    shoff = align(strtabOffset + strtab.length, 8);
    [shnum, shstrndx] = [2, 1];
    const table = Buffer.concat([
      sectionHeader(is64, le, { info: extended ? phnum : 0 }),
      sectionHeader(is64, le, { name: 1, type: 3 /* SHT_STRTAB */, offset: strtabOffset, size: strtab.length, addralign: 1 }),
    ]);
    pieces.push({ offset: shoff, bytes: table });
    pos = shoff + table.length;
  }

  const head = Buffer.alloc(headersEnd);
  const c = new Cursor(head, le, is64);
  head.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  c.at(16).u16(4 /* ET_CORE */).u16(o.machine ?? DEFAULT_MACHINE[`${is64 ? 64 : 32}${endian}`]).u32(1);
  c.word(0).word(phoff).word(shoff).u32(0).u16(ehsize).u16(phentsize).u16(extended ? PN_XNUM : phnum);
  c.u16(shnum > 0 ? shentsize : 0).u16(shnum).u16(shstrndx);
  if (shdr0AfterHeader) shdrs[0].copy(head, ehsize);
  c.at(phoff);
  writePhdr(c, is64, { type: 4, flags: 0, offset: noteOffset, vaddr: 0n, paddr: 0n, filesz: notes.length, memsz: notes.length });
  for (const { load } of loads) writePhdr(c, is64, { type: 1, flags: 7, offset: load.fileOffset, vaddr: load.vaddr, paddr: load.paddr, filesz: load.size, memsz: load.memsz });
  pieces.unshift({ offset: 0, bytes: head });
  pieces.sort((a, b) => a.offset - b.offset);

  const totalSize = loads.reduce((end, { load }) => Math.max(end, load.fileOffset + load.size), pos);
  if (!is64 && totalSize > 0xffffffff) throw new RangeError(`synthetic vmcore: ${totalSize} bytes do not fit ELF32 offsets`);
  const prefixEnd = o.notesAfterData ? headersEnd : noteOffset + notes.length;
  return { totalSize, prefixEnd, pieces, loads, result: { segments: loads.map((l) => l.load), noteOffset, noteSize: notes.length, notesEnd, pageSize } };
}

interface PhdrFields { type: number; flags: number; offset: number; vaddr: bigint; paddr: bigint; filesz: number; memsz: number }

function writePhdr(c: Cursor, is64: boolean, p: PhdrFields): void {
  if (is64) c.u32(p.type).u32(p.flags).word(p.offset).word(p.vaddr).word(p.paddr).word(p.filesz).word(p.memsz).word(0);
  else c.u32(p.type).word(p.offset).word(p.vaddr).word(p.paddr).word(p.filesz).word(p.memsz).u32(p.flags).word(0);
}

function sectionHeader(is64: boolean, le: boolean, s: { name?: number; type?: number; offset?: number; size?: number; info?: number; addralign?: number }): Buffer {
  const out = Buffer.alloc(is64 ? 64 : 40);
  new Cursor(out, le, is64).u32(s.name ?? 0).u32(s.type ?? 0).word(0).word(0).word(s.offset ?? 0).word(s.size ?? 0)
    .u32(0).u32(s.info ?? 0).word(s.addralign ?? 0).word(0);
  return out;
}

export function makeSyntheticVmcore(opts: SyntheticOptions = {}): SyntheticVmcore {
  const p = plan(opts);
  const bytes = Buffer.alloc(p.totalSize);
  for (const piece of p.pieces) piece.bytes.copy(bytes, piece.offset);
  for (const { seg, load } of p.loads) fillSegment(seg, 0, bytes.subarray(load.fileOffset, load.fileOffset + load.size));
  return { bytes, ...p.result };
}

/** Streams segment data to the file in chunks, so sizes far beyond memory work; alignment padding is left as holes. */
export async function writeSyntheticVmcore(path: string, opts: SyntheticOptions = {}): Promise<SyntheticVmcore> {
  const p = plan(opts);
  const prefix = Buffer.alloc(p.prefixEnd);
  const fh = await open(path, 'w');
  try {
    for (const piece of p.pieces) {
      await fh.write(piece.bytes, 0, piece.bytes.length, piece.offset);
      if (piece.offset < p.prefixEnd) piece.bytes.copy(prefix, piece.offset, 0, Math.min(piece.bytes.length, p.prefixEnd - piece.offset));
    }
    const chunk = Buffer.alloc(WRITE_CHUNK);
    for (const { seg, load } of p.loads) {
      for (let done = 0; done < load.size; done += WRITE_CHUNK) {
        const part = chunk.subarray(0, Math.min(WRITE_CHUNK, load.size - done));
        fillSegment(seg, done, part);
        await fh.write(part, 0, part.length, load.fileOffset + done);
      }
    }
    await fh.truncate(p.totalSize);
  } finally {
    await fh.close();
  }
  return { bytes: prefix, ...p.result };
}
