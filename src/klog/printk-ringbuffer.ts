// Decodes the lockless printk ring buffer of Linux 5.10+ (kernel/printk/printk_ringbuffer.h), all offsets from VMCOREINFO.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { escapeLogText } from './dmesg-format.js';
import type { KlogReader, LogRecord } from './kernel-log.js';

/** Per array (descriptors, infos, text data): a 64 MiB log_buf_len= needs about 190 MiB of infos. */
export const MAX_RING_ARRAY_BYTES = 256 << 20;
const MAX_RING_BITS = 30;
const MAX_STRUCT_BYTES = 4096;
/** enum desc_state: only these records are printed, as vmcore-dmesg does (the kernel's readers show even fewer). */
const DESC_COMMITTED = 1n;
const DESC_FINALIZED = 2n;

const WHAT = 'the printk ring buffer (SYMBOL(prb))';

export function readPrintkRingbuffer(r: KlogReader): { records: LogRecord[]; skipped: number } {
  const w = r.wordSize;
  const L = r.layout(WHAT, {
    rbSize: 'SIZE(printk_ringbuffer)',
    descRing: 'OFFSET(printk_ringbuffer.desc_ring)',
    textDataRing: 'OFFSET(printk_ringbuffer.text_data_ring)',
    countBits: 'OFFSET(prb_desc_ring.count_bits)',
    descs: 'OFFSET(prb_desc_ring.descs)',
    infos: 'OFFSET(prb_desc_ring.infos)',
    headId: 'OFFSET(prb_desc_ring.head_id)',
    tailId: 'OFFSET(prb_desc_ring.tail_id)',
    counter: 'OFFSET(atomic_long_t.counter)',
    sizeBits: 'OFFSET(prb_data_ring.size_bits)',
    data: 'OFFSET(prb_data_ring.data)',
    descSize: 'SIZE(prb_desc)',
    stateVar: 'OFFSET(prb_desc.state_var)',
    textBlkLpos: 'OFFSET(prb_desc.text_blk_lpos)',
    lposBegin: 'OFFSET(prb_data_blk_lpos.begin)',
    lposNext: 'OFFSET(prb_data_blk_lpos.next)',
    infoSize: 'SIZE(printk_info)',
    seq: 'OFFSET(printk_info.seq)',
    tsNsec: 'OFFSET(printk_info.ts_nsec)',
    textLen: 'OFFSET(printk_info.text_len)',
  });
  for (const [name, size] of [['printk_ringbuffer', L.rbSize], ['prb_desc', L.descSize], ['printk_info', L.infoSize]] as const) {
    if (size === 0 || size > MAX_STRUCT_BYTES) throw new BadInputError(`kernel log: VMCOREINFO SIZE(${name})=${size} is outside 1..${MAX_STRUCT_BYTES}`);
  }
  const dr = L.descRing;
  const tr = L.textDataRing;
  r.checkFields('struct printk_ringbuffer', L.rbSize, {
    'prb_desc_ring.count_bits': [dr + L.countBits, 4],
    'prb_desc_ring.descs': [dr + L.descs, w],
    'prb_desc_ring.infos': [dr + L.infos, w],
    'prb_desc_ring.head_id': [dr + L.headId + L.counter, w],
    'prb_desc_ring.tail_id': [dr + L.tailId + L.counter, w],
    'prb_data_ring.size_bits': [tr + L.sizeBits, 4],
    'prb_data_ring.data': [tr + L.data, w],
  });
  r.checkFields('struct prb_desc', L.descSize, {
    'prb_desc.state_var': [L.stateVar + L.counter, w],
    'text_blk_lpos.begin': [L.textBlkLpos + L.lposBegin, w],
    'text_blk_lpos.next': [L.textBlkLpos + L.lposNext, w],
  });
  r.checkFields('struct printk_info', L.infoSize, { 'printk_info.seq': [L.seq, 8], 'printk_info.ts_nsec': [L.tsNsec, 8], 'printk_info.text_len': [L.textLen, 2] });

  const prbVar = r.symbols(WHAT, ['prb']).prb;
  const rbAddr = r.pointer(prbVar, 'the pointer prb');
  const rb = r.read(rbAddr, L.rbSize, 'struct printk_ringbuffer');
  const countBits = r.u32(rb, dr + L.countBits);
  const sizeBits = r.u32(rb, tr + L.sizeBits);
  const count = ringLength('prb_desc_ring.count_bits', countBits, Math.max(L.descSize, L.infoSize), rbAddr);
  const dataSize = ringLength('prb_data_ring.size_bits', sizeBits, 1, rbAddr);
  // Read whole, as vmcore-dmesg and crash do, but only the slots and blocks in use count as the log's pages.
  const descsAddr = r.word(rb, dr + L.descs);
  const infosAddr = r.word(rb, dr + L.infos);
  const dataAddr = r.word(rb, tr + L.data);
  const descs = r.read(descsAddr, count * L.descSize, `the ${count} prb_desc descriptors`, false);
  const infos = r.read(infosAddr, count * L.infoSize, `the ${count} printk_info records`, false);
  const data = r.read(dataAddr, dataSize, `the ${dataSize}-byte text data ring`, false);

  // Descriptor ids fill a word but its top two bits, which hold the state.
  const stateShift = BigInt(w * 8 - 2);
  const idMask = (1n << stateShift) - 1n;
  const wordMask = (1n << BigInt(w * 8)) - 1n;
  const headId = r.word(rb, dr + L.headId + L.counter);
  const tailId = r.word(rb, dr + L.tailId + L.counter);
  if (headId > idMask || tailId > idMask) {
    throw new BadInputError(`kernel log: prb_desc_ring at ${hex(rbAddr + BigInt(dr))}: head_id ${hex(headId)} or tail_id ${hex(tailId)} has state bits set`);
  }
  const span = (headId - tailId) & idMask;
  if (span >= BigInt(count)) {
    throw new BadInputError(`kernel log: prb_desc_ring at ${hex(rbAddr + BigInt(dr))}: tail_id ${hex(tailId)} and head_id ${hex(headId)} are ${span} descriptors apart, but the ring holds ${count}`);
  }
  const textLayout = optionalInfoFields(r, L.textLen, L.infoSize);

  const records: LogRecord[] = [];
  let skipped = 0;
  for (let step = 0n; step <= span; step++) {
    const id = (tailId + step) & idMask;
    const slot = Number(id % BigInt(count));
    const d = slot * L.descSize;
    r.touch(descsAddr + BigInt(d), L.descSize);
    const state = r.word(descs, d + L.stateVar + L.counter);
    // A descriptor whose id lags is being reused or reserved: vmcore-dmesg and the kernel skip it.
    if ((state & idMask) !== id) continue;
    const st = state >> stateShift;
    if (st !== DESC_COMMITTED && st !== DESC_FINALIZED) continue;
    const begin = r.word(descs, d + L.textBlkLpos + L.lposBegin);
    const next = r.word(descs, d + L.textBlkLpos + L.lposNext);
    const info = slot * L.infoSize;
    r.touch(infosAddr + BigInt(info), L.infoSize);
    touchBlock(r, dataAddr, begin, next, dataSize);
    const raw = recordText(begin, next, r.u16(infos, info + L.textLen), data, w, wordMask);
    // An illegal text block loses that record only, as in the kernel's get_data(): the panic may come after it.
    if (raw === undefined) {
      skipped++;
      continue;
    }
    records.push({
      seq: r.u64(infos, info + L.seq),
      tsNanos: r.u64(infos, info + L.tsNsec),
      ...textLayout(infos, info),
      text: escapeLogText(raw),
      raw,
    });
  }
  return { records, skipped };
}

/** The data block [begin, next) in the ring, wrapped to the ring's start when it does not fit before its end. */
function touchBlock(r: KlogReader, dataAddr: bigint, begin: bigint, next: bigint, dataSize: number): void {
  const size = BigInt(dataSize);
  const at = begin % size;
  const end = next % size;
  if (at === end) return;
  if (at < end) r.touch(dataAddr + at, Number(end - at));
  else r.touch(dataAddr, Number(end));
}

function ringLength(field: string, bits: number, elementSize: number, rbAddr: bigint): number {
  if (bits > MAX_RING_BITS || 2 ** bits * elementSize > MAX_RING_ARRAY_BYTES) {
    throw new BadInputError(`kernel log: printk_ringbuffer at ${hex(rbAddr)}: ${field} ${bits} gives a ring over the ${MAX_RING_ARRAY_BYTES}-byte cap`);
  }
  return 2 ** bits;
}

/**
 * A data block is the writer's id (one word) then the text. Same index for begin and next means no
 * data; begin past next means the block wrapped and lies at the start of the ring. Like vmcore-dmesg,
 * text_len is cut to what the block holds. A block the kernel's get_data() would call illegal (longer
 * than the ring, too short for its id) gives undefined; alignment is not checked, as vmcore-dmesg does not.
 */
function recordText(begin: bigint, next: bigint, textLen: number, data: Buffer, w: number, wordMask: bigint): Buffer | undefined {
  const size = BigInt(data.length);
  let at = Number(begin % size);
  const end = Number(next % size);
  if (at === end) return Buffer.alloc(0);
  // A block never spans more than the ring plus the ring's unused end, so anything longer is corrupt.
  if (((next - begin) & wordMask) > 2n * size) return undefined;
  if (at > end) at = 0;
  at += w;
  if (end < at) return undefined;
  return Buffer.from(data.subarray(at, at + Math.min(textLen, end - at)));
}

/** Fields VMCOREINFO does not name, read only where the layout is the kernel's own: facility and level follow text_len. */
function optionalInfoFields(r: KlogReader, textLen: number, infoSize: number): (infos: Buffer, at: number) => Partial<LogRecord> {
  const callerId = r.optionalNumber('OFFSET(printk_info.caller_id)');
  const standard = callerId === textLen + 4 && callerId + 4 <= infoSize;
  const dict = devInfoReader(r, infoSize);
  return (infos, at) => {
    const out: Partial<LogRecord> = {};
    if (standard) {
      const bits = infos[at + textLen + 3];
      out.facility = infos[at + textLen + 2];
      // GCC allocates bitfields from the low bit on little-endian targets and from the high bit on big-endian.
      out.level = r.endian === 'le' ? bits >> 5 : bits & 7;
    }
    const d = dict?.(infos, at);
    if (d) out.dict = d;
    return out;
  };
}

function devInfoReader(r: KlogReader, infoSize: number): ((infos: Buffer, at: number) => string | undefined) | undefined {
  const devInfo = r.optionalNumber('OFFSET(printk_info.dev_info)');
  const fields = [
    ['SUBSYSTEM', r.optionalNumber('OFFSET(dev_printk_info.subsystem)'), r.optionalNumber('LENGTH(printk_info_subsystem)')],
    ['DEVICE', r.optionalNumber('OFFSET(dev_printk_info.device)'), r.optionalNumber('LENGTH(printk_info_device)')],
  ] as const;
  if (devInfo === undefined || fields.some(([, off, len]) => off === undefined || len === undefined || devInfo + off + len > infoSize)) return undefined;
  return (infos, at) => {
    const parts: string[] = [];
    for (const [key, off, len] of fields) {
      const start = at + devInfo + (off as number);
      const bytes = infos.subarray(start, start + (len as number));
      const nul = bytes.indexOf(0);
      const value = bytes.subarray(0, nul < 0 ? bytes.length : nul).toString('latin1');
      if (value) parts.push(`${key}=${value}`);
    }
    return parts.length > 0 ? parts.join('\n') : undefined;
  };
}
