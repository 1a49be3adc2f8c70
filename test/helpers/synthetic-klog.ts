// Test-only builder of kernel memory holding a printk log in each of its three layouts, as PhysicalMemory and as an ELF vmcore.

import { ProgramHeaderTable } from '../../src/elf/program-header-table.js';
import { parseVmcoreinfo } from '../../src/elf/vmcoreinfo.js';
import type { ProgramHeader } from '../../src/elf/program-header.js';
import { buildAddressMap, type AddressMap } from '../../src/klog/address-map.js';
import { memoryFromSegments, type PhysicalMemory } from '../../src/klog/physical-memory.js';
import { makeSyntheticVmcore } from './synthetic-vmcore.js';

export type Endian = 'le' | 'be';

export interface Arch {
  endian: Endian;
  wordSize: 4 | 8;
}
export const X86_64: Arch = { endian: 'le', wordSize: 8 };
export const I386: Arch = { endian: 'le', wordSize: 4 };
export const PPC64: Arch = { endian: 'be', wordSize: 8 };

/** One memory area: a kernel-image (static) or direct-map (heap) range, filled by a bump allocator. */
interface Area {
  vaddr: bigint;
  paddr: bigint;
  buf: Buffer;
  used: number;
}

const AREA_BYTES = 1 << 20;
const PAGE = 4096;
const MACHINE = { '8le': 62, '4le': 3, '8be': 21, '4be': 22 } as const;

/** Little kernel memory: typed writes by virtual address, then an ELF vmcore and a PhysicalMemory of it. */
export class KernelImage {
  readonly staticArea: Area;
  readonly heapArea: Area;
  readonly info: string[] = ['OSRELEASE=synthetic', `PAGESIZE=${PAGE}`];
  readonly regions: { name: string; vaddr: bigint; size: number }[] = [];

  constructor(readonly arch: Arch) {
    const is64 = arch.wordSize === 8;
    const [staticV, heapV] = is64
      ? arch.endian === 'le'
        ? [0xffffffff81000000n, 0xffff888002000000n]
        : [0xc000000001000000n, 0xc000000002000000n]
      : [0xc1000000n, 0xc2000000n];
    this.staticArea = { vaddr: staticV, paddr: 0x1000000n, buf: Buffer.alloc(AREA_BYTES), used: 0 };
    this.heapArea = { vaddr: heapV, paddr: 0x2000000n, buf: Buffer.alloc(AREA_BYTES), used: 0 };
  }

  /** Reserves `size` bytes in an area and names the region, so corruption tests can aim at it. */
  alloc(name: string, size: number, where: 'static' | 'heap' = 'static'): bigint {
    const area = where === 'static' ? this.staticArea : this.heapArea;
    const at = Math.ceil(area.used / 64) * 64;
    if (at + size > area.buf.length) throw new RangeError(`synthetic klog: ${name} (${size} bytes) does not fit`);
    area.used = at + size;
    const vaddr = area.vaddr + BigInt(at);
    this.regions.push({ name, vaddr, size });
    return vaddr;
  }

  private locate(vaddr: bigint, length: number): [Buffer, number] {
    for (const area of [this.staticArea, this.heapArea]) {
      const off = vaddr - area.vaddr;
      if (off >= 0n && off + BigInt(length) <= BigInt(area.buf.length)) return [area.buf, Number(off)];
    }
    throw new RangeError(`synthetic klog: vaddr ${vaddr.toString(16)} is not in the image`);
  }

  bytes(vaddr: bigint, data: Uint8Array): void {
    const [buf, off] = this.locate(vaddr, data.length);
    buf.set(data, off);
  }
  u8(vaddr: bigint, v: number): void {
    this.bytes(vaddr, Uint8Array.of(v));
  }
  u16(vaddr: bigint, v: number): void {
    const b = Buffer.alloc(2);
    this.arch.endian === 'le' ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
    this.bytes(vaddr, b);
  }
  u32(vaddr: bigint, v: number): void {
    const b = Buffer.alloc(4);
    this.arch.endian === 'le' ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0);
    this.bytes(vaddr, b);
  }
  u64(vaddr: bigint, v: bigint): void {
    const b = Buffer.alloc(8);
    this.arch.endian === 'le' ? b.writeBigUInt64LE(BigInt.asUintN(64, v)) : b.writeBigUInt64BE(BigInt.asUintN(64, v));
    this.bytes(vaddr, b);
  }
  word(vaddr: bigint, v: bigint): void {
    if (this.arch.wordSize === 8) this.u64(vaddr, v);
    else this.u32(vaddr, Number(BigInt.asUintN(32, v)));
  }

  symbol(name: string, vaddr: bigint): void {
    this.info.push(`SYMBOL(${name})=${vaddr.toString(16)}`);
  }
  number(key: string, value: number): void {
    this.info.push(`${key}=${value}`);
  }

  /** The image as an ELF vmcore: kernel-image and heap PT_LOADs, plus a RAM PT_LOAD over the kernel image's pages. */
  build(): SyntheticKlog {
    const is64 = this.arch.wordSize === 8;
    const areas = [this.staticArea, this.heapArea].map((a) => ({ ...a, size: Math.max(PAGE, Math.ceil(a.used / PAGE) * PAGE) }));
    const ramVaddr = is64 ? (this.arch.endian === 'le' ? 0xffff888000000000n : 0xc000000000000000n) + areas[0].paddr : areas[0].vaddr;
    const segments = [
      ...areas.map((a) => ({ paddr: a.paddr, vaddr: a.vaddr, size: a.size, fill: (i: number) => a.buf[i] })),
      { paddr: areas[0].paddr, vaddr: ramVaddr, size: areas[0].size, fill: (i: number) => areas[0].buf[i] },
    ];
    const vmcoreinfoText = this.info.join('\n') + '\n';
    const machine = MACHINE[`${this.arch.wordSize}${this.arch.endian}`];
    const vmcore = makeSyntheticVmcore({ elfClass: is64 ? 64 : 32, endian: this.arch.endian, machine, segments, vmcoreinfo: vmcoreinfoText, cpus: 1 });
    const phdrs: ProgramHeader[] = vmcore.segments.map((s) => ({
      type: 1, flags: 7, offset: BigInt(s.fileOffset), vaddr: s.vaddr, paddr: s.paddr, filesz: BigInt(s.size), memsz: BigInt(s.memsz), align: 0n,
    }));
    return new SyntheticKlog(this.arch, machine, phdrs, parseVmcoreinfo(Buffer.from(vmcoreinfoText, 'latin1')), vmcore.bytes, [...this.regions]);
  }
}

export class SyntheticKlog {
  readonly memory: PhysicalMemory;
  readonly addressMap: AddressMap;

  constructor(
    readonly arch: Arch,
    readonly machine: number,
    readonly phdrs: ProgramHeader[],
    readonly vmcoreinfo: Map<string, string>,
    /** A complete ELF vmcore holding this memory. */
    readonly fileBytes: Buffer,
    readonly regions: readonly { name: string; vaddr: bigint; size: number }[],
  ) {
    this.memory = memoryFromSegments(ProgramHeaderTable.from(phdrs), (off, len) => fileBytes.subarray(off, off + len));
    this.addressMap = buildAddressMap(ProgramHeaderTable.from(phdrs), vmcoreinfo, machine);
  }

  /** A copy with bytes overwritten at virtual addresses (in every PT_LOAD that maps them, so aliases agree). */
  patched(edits: readonly { vaddr: bigint; bytes: Uint8Array }[]): SyntheticKlog {
    const file = Buffer.from(this.fileBytes);
    for (const { vaddr, bytes } of edits) {
      const paddr = this.addressMap.toPhysical(vaddr);
      if (paddr === undefined) throw new RangeError(`synthetic klog: vaddr ${vaddr.toString(16)} is not mapped`);
      for (const ph of this.phdrs) {
        if (paddr >= ph.paddr && paddr + BigInt(bytes.length) <= ph.paddr + ph.filesz) file.set(bytes, Number(ph.offset + paddr - ph.paddr));
      }
    }
    return new SyntheticKlog(this.arch, this.machine, this.phdrs, this.vmcoreinfo, file, this.regions);
  }

  withVmcoreinfo(vmcoreinfo: Map<string, string>): SyntheticKlog {
    return new SyntheticKlog(this.arch, this.machine, this.phdrs, vmcoreinfo, this.fileBytes, this.regions);
  }

  region(name: string): { name: string; vaddr: bigint; size: number } {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new RangeError(`synthetic klog: no region ${name}`);
    return r;
  }
}

export function textBytes(text: string | Uint8Array): Buffer {
  return typeof text === 'string' ? Buffer.from(text, 'latin1') : Buffer.from(text);
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export interface RingRecord {
  ts: bigint;
  /** null: a data-less record (FAILED_LPOS), as when the writer found no room. */
  text: string | Uint8Array | null;
  level?: number;
  facility?: number;
  state?: 'reserved' | 'committed' | 'finalized' | 'reusable';
  /** The descriptor still carries the id of its previous lap. */
  staleId?: boolean;
  /** Overrides the stored text_len (the kernel cuts text_len only in its own copy). */
  textLen?: number;
  subsystem?: string;
  device?: string;
}

export interface RingOptions {
  records: RingRecord[];
  countBits: number;
  sizeBits: number;
  /** Id of the first record; ids wrap at 2^(bits-2). */
  firstId?: bigint;
  /** Logical position of the first data block; a multiple of the word size. */
  firstLpos?: bigint;
  /** Put the rings in the direct map, as printk_rb_dynamic does. */
  dynamic?: boolean;
}

const STATES = { reserved: 0n, committed: 1n, finalized: 2n, reusable: 3n } as const;
const FAILED_LPOS = 1n;

/** The 5.10+ lockless printk_ringbuffer, written as the kernel's data_alloc() and desc_reserve() would. */
export function buildPrintkRingbuffer(arch: Arch, o: RingOptions): SyntheticKlog {
  const img = new KernelImage(arch);
  const w = arch.wordSize;
  const is64 = w === 8;
  const lay = {
    rbSize: is64 ? 88 : 44, textDataRing: is64 ? 48 : 24,
    descs: w, infos: 2 * w, headId: 3 * w, tailId: 4 * w,
    descSize: 3 * w, lpos: w, infoSize: 88, devInfo: 24,
  };
  const count = 2 ** o.countBits;
  const size = 2 ** o.sizeBits;
  const where = o.dynamic ? 'heap' : 'static';
  const prbVar = img.alloc('prb', w);
  const rb = img.alloc('printk_ringbuffer', lay.rbSize);
  const descs = img.alloc('descs', count * lay.descSize, where);
  const infos = img.alloc('infos', count * lay.infoSize, where);
  const data = img.alloc('text_data', size, where);
  img.word(prbVar, rb);
  img.u32(rb, o.countBits);
  img.word(rb + BigInt(lay.descs), descs);
  img.word(rb + BigInt(lay.infos), infos);
  img.u32(rb + BigInt(lay.textDataRing), o.sizeBits);
  img.word(rb + BigInt(lay.textDataRing + w), data);

  const shift = BigInt(w * 8 - 2);
  const idMask = (1n << shift) - 1n;
  const firstId = o.firstId ?? 0n;
  if (o.records.length > count) throw new RangeError('synthetic klog: more records than descriptors');
  // Every slot first holds a reusable descriptor of the previous lap, as after a full ring.
  for (let slot = 0; slot < count; slot++) {
    const back = (((slot - Number(firstId % BigInt(count))) % count) + count) % count;
    img.word(descs + BigInt(slot * lay.descSize), (STATES.reusable << shift) | ((firstId - BigInt(count) + BigInt(back)) & idMask));
  }
  let lpos = o.firstLpos ?? BigInt(3 * size + 40);
  const lposStart = lpos;
  const wrapOf = (p: bigint) => p / BigInt(size);
  o.records.forEach((rec, i) => {
    const id = (firstId + BigInt(i)) & idMask;
    const slot = Number(id % BigInt(count));
    const d = descs + BigInt(slot * lay.descSize);
    const text = rec.text === null ? null : textBytes(rec.text);
    let begin = FAILED_LPOS;
    let next = FAILED_LPOS;
    if (text !== null) {
      const blk = alignUp(text.length, w) + w;
      begin = lpos;
      next = begin + BigInt(blk);
      let at = Number(begin % BigInt(size));
      if (wrapOf(begin) !== wrapOf(next)) {
        next = (wrapOf(begin) + 1n) * BigInt(size) + BigInt(blk);
        at = 0;
      }
      lpos = next;
      img.word(data + BigInt(at), id);
      img.bytes(data + BigInt(at + w), text);
    }
    const svId = rec.staleId ? (id - BigInt(count)) & idMask : id;
    img.word(d, (STATES[rec.state ?? 'finalized'] << shift) | svId);
    img.word(d + BigInt(lay.lpos), begin);
    img.word(d + BigInt(lay.lpos + w), next);
    const info = infos + BigInt(slot * lay.infoSize);
    img.u64(info, BigInt(i + 100));
    img.u64(info + 8n, rec.ts);
    img.u16(info + 16n, rec.textLen ?? text?.length ?? 0);
    img.u8(info + 18n, rec.facility ?? 0);
    const level = rec.level ?? 6;
    img.u8(info + 19n, arch.endian === 'le' ? level << 5 : level);
    img.bytes(info + BigInt(lay.devInfo), textBytes(rec.subsystem ?? ''));
    img.bytes(info + BigInt(lay.devInfo + 16), textBytes(rec.device ?? ''));
  });
  if (lpos - lposStart > BigInt(size)) throw new RangeError('synthetic klog: records overflow the data ring');
  img.word(rb + BigInt(lay.headId), (firstId + BigInt(Math.max(0, o.records.length - 1))) & idMask);
  img.word(rb + BigInt(lay.tailId), firstId & idMask);
  img.word(rb + BigInt(lay.textDataRing + 2 * w), lpos);
  img.word(rb + BigInt(lay.textDataRing + 3 * w), lposStart);

  img.symbol('prb', prbVar);
  const n = (k: string, v: number) => img.number(k, v);
  n('SIZE(printk_ringbuffer)', lay.rbSize); n('OFFSET(printk_ringbuffer.desc_ring)', 0); n('OFFSET(printk_ringbuffer.text_data_ring)', lay.textDataRing);
  n('OFFSET(prb_desc_ring.count_bits)', 0); n('OFFSET(prb_desc_ring.descs)', lay.descs); n('OFFSET(prb_desc_ring.infos)', lay.infos);
  n('OFFSET(prb_desc_ring.head_id)', lay.headId); n('OFFSET(prb_desc_ring.tail_id)', lay.tailId);
  n('SIZE(prb_desc)', lay.descSize); n('OFFSET(prb_desc.state_var)', 0); n('OFFSET(prb_desc.text_blk_lpos)', lay.lpos);
  n('OFFSET(prb_data_blk_lpos.begin)', 0); n('OFFSET(prb_data_blk_lpos.next)', w);
  n('SIZE(printk_info)', lay.infoSize); n('OFFSET(printk_info.seq)', 0); n('OFFSET(printk_info.ts_nsec)', 8); n('OFFSET(printk_info.text_len)', 16);
  n('OFFSET(printk_info.caller_id)', 20); n('OFFSET(printk_info.dev_info)', lay.devInfo);
  n('OFFSET(dev_printk_info.subsystem)', 0); n('LENGTH(printk_info_subsystem)', 16); n('OFFSET(dev_printk_info.device)', 16); n('LENGTH(printk_info_device)', 48);
  n('OFFSET(prb_data_ring.size_bits)', 0); n('OFFSET(prb_data_ring.data)', w); n('OFFSET(atomic_long_t.counter)', 0);
  return img.build();
}

export interface LogBufRecord {
  ts: bigint;
  text: string | Uint8Array;
  dict?: string;
  level?: number;
  facility?: number;
}

export interface LogBufOptions {
  records: LogBufRecord[];
  bufLen: number;
  /** Index of the first record's header; near the end to make the log wrap. */
  startIdx?: number;
  /** Linux 3.5-3.10 spelling: SIZE(log), OFFSET(log.*). */
  oldNames?: boolean;
}

const PRINTK_LOG_HEADER = 16;

/** The 3.5-5.9 structured log_buf, written as the kernel's log_store() would, zeroed wrap marker included. */
export function buildLogBufRecords(arch: Arch, o: LogBufOptions): SyntheticKlog {
  const img = new KernelImage(arch);
  const logAlign = arch.wordSize === 8 ? 8 : 4;
  const buf = img.alloc('log_buf', o.bufLen);
  const vars = { log_buf: img.alloc('log_buf var', arch.wordSize), log_buf_len: img.alloc('log_buf_len', 4), log_first_idx: img.alloc('log_first_idx', 4), log_next_idx: img.alloc('log_next_idx', 4) };
  const first = o.startIdx ?? 0;
  let idx = first;
  let wrapped = false;
  for (const rec of o.records) {
    const text = textBytes(rec.text);
    const dict = textBytes((rec.dict ?? '').replace(/\n/g, '\0'));
    const size = alignUp(PRINTK_LOG_HEADER + text.length + dict.length, logAlign);
    if (idx + size + PRINTK_LOG_HEADER > o.bufLen) {
      img.bytes(buf + BigInt(idx), Buffer.alloc(PRINTK_LOG_HEADER));
      idx = 0;
      wrapped = true;
    }
    if (wrapped && idx + size > first) throw new RangeError('synthetic klog: records overflow log_buf');
    const at = buf + BigInt(idx);
    img.u64(at, rec.ts);
    img.u16(at + 8n, size);
    img.u16(at + 10n, text.length);
    img.u16(at + 12n, dict.length);
    img.u8(at + 14n, rec.facility ?? 0);
    const level = rec.level ?? 6;
    img.u8(at + 15n, arch.endian === 'le' ? level << 5 : level);
    img.bytes(at + 16n, text);
    img.bytes(at + 16n + BigInt(text.length), dict);
    idx += size;
  }
  img.word(vars.log_buf, buf);
  img.u32(vars.log_buf_len, o.bufLen);
  img.u32(vars.log_first_idx, first);
  img.u32(vars.log_next_idx, idx);
  for (const [name, vaddr] of Object.entries(vars)) img.symbol(name, vaddr);
  const s = o.oldNames ? 'log' : 'printk_log';
  img.number(`SIZE(${s})`, PRINTK_LOG_HEADER);
  img.number(`OFFSET(${s}.ts_nsec)`, 0);
  img.number(`OFFSET(${s}.len)`, 8);
  img.number(`OFFSET(${s}.text_len)`, 10);
  return img.build();
}

export interface PlainOptions {
  /** Everything ever written; the ring keeps the last bufLen bytes. */
  text: string | Uint8Array;
  bufLen: number;
  /** log_end; defaults to the text's length. */
  logEnd?: number;
}

/** The plain log_buf of kernels before 3.5: characters written around the ring, log_end counting them all. */
export function buildLogBufPlain(arch: Arch, o: PlainOptions): SyntheticKlog {
  const img = new KernelImage(arch);
  const buf = img.alloc('log_buf', o.bufLen);
  const vars = { log_buf: img.alloc('log_buf var', arch.wordSize), log_buf_len: img.alloc('log_buf_len', 4), log_end: img.alloc('log_end', 4), logged_chars: img.alloc('logged_chars', 4) };
  const text = textBytes(o.text);
  const logEnd = o.logEnd ?? text.length;
  text.forEach((byte, i) => img.u8(buf + BigInt((logEnd - text.length + i) % o.bufLen), byte));
  img.word(vars.log_buf, buf);
  img.u32(vars.log_buf_len, o.bufLen);
  img.u32(vars.log_end, logEnd);
  img.u32(vars.logged_chars, Math.min(logEnd, o.bufLen));
  for (const [name, vaddr] of Object.entries(vars)) img.symbol(name, vaddr);
  return img.build();
}
