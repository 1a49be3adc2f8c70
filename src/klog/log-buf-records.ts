// Decodes the record-structured log_buf of Linux 3.5-5.9: struct printk_log headers, each followed by text and dictionary.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { escapeLogText } from './dmesg-format.js';
import { MAX_RING_ARRAY_BYTES } from './printk-ringbuffer.js';
import type { KlogReader, LogRecord } from './kernel-log.js';

const MAX_HEADER_BYTES = 256;
/**
 * struct printk_log { u64 ts_nsec; u16 len; u16 text_len; u16 dict_len; u8 facility; u8 flags:5, level:3; }.
 * VMCOREINFO names only the first three fields; the rest are read only when those sit where this layout puts them.
 */
const STANDARD = { tsNsec: 0, len: 8, textLen: 10, dictLen: 12, facility: 14, flagsLevel: 15, size: 16 } as const;

const WHAT = 'the log_buf records (SYMBOL(log_first_idx))';

export function readLogBufRecords(r: KlogReader): LogRecord[] {
  const S = r.symbols(WHAT, ['log_buf', 'log_buf_len', 'log_first_idx', 'log_next_idx']);
  // Linux 3.5-3.10 called the struct "log"; 3.11 renamed it printk_log.
  const L = r.layout(WHAT, {
    size: ['SIZE(printk_log)', 'SIZE(log)'],
    tsNsec: ['OFFSET(printk_log.ts_nsec)', 'OFFSET(log.ts_nsec)'],
    len: ['OFFSET(printk_log.len)', 'OFFSET(log.len)'],
    textLen: ['OFFSET(printk_log.text_len)', 'OFFSET(log.text_len)'],
  });
  if (L.size === 0 || L.size > MAX_HEADER_BYTES) throw new BadInputError(`kernel log: VMCOREINFO SIZE(printk_log)=${L.size} is outside 1..${MAX_HEADER_BYTES}`);
  r.checkFields('struct printk_log', L.size, { 'printk_log.ts_nsec': [L.tsNsec, 8], 'printk_log.len': [L.len, 2], 'printk_log.text_len': [L.textLen, 2] });
  const standard = L.tsNsec === STANDARD.tsNsec && L.len === STANDARD.len && L.textLen === STANDARD.textLen && L.size >= STANDARD.size;

  const bufAddr = r.pointer(S.log_buf, 'the pointer log_buf');
  const bufLen = r.u32At(S.log_buf_len, 'log_buf_len');
  if (bufLen === 0 || bufLen > MAX_RING_ARRAY_BYTES) throw new BadInputError(`kernel log: log_buf_len ${bufLen} is outside 1..${MAX_RING_ARRAY_BYTES}`);
  const first = r.u32At(S.log_first_idx, 'log_first_idx');
  const next = r.u32At(S.log_next_idx, 'log_next_idx');
  const buf = r.read(bufAddr, bufLen, `the ${bufLen}-byte log_buf`);
  const where = (idx: number) => `log_buf record at index ${idx} (vaddr ${hex(bufAddr + BigInt(idx))})`;
  if (first >= bufLen || next >= bufLen) throw new BadInputError(`kernel log: log_first_idx ${first} or log_next_idx ${next} is past the ${bufLen}-byte log_buf`);

  const records: LogRecord[] = [];
  let idx = first;
  let wrapped = false;
  while (idx !== next) {
    if (idx + L.size > bufLen) throw new BadInputError(`kernel log: ${where(idx)}: header runs past the end of the ${bufLen}-byte log_buf`);
    const len = r.u16(buf, idx + L.len);
    const textLen = r.u16(buf, idx + L.textLen);
    const textAt = idx + L.size;
    if (textAt + textLen > bufLen) throw new BadInputError(`kernel log: ${where(idx)}: text_len ${textLen} runs past the end of the ${bufLen}-byte log_buf`);
    const raw = Buffer.from(buf.subarray(textAt, textAt + textLen));
    const record: LogRecord = { tsNanos: r.u64(buf, idx + L.tsNsec), text: escapeLogText(raw), raw };
    if (standard) Object.assign(record, standardFields(r, buf, idx, textAt + textLen, len));
    // A zero len marks where the writer wrapped. vmcore-dmesg prints that header too, then goes on at index 0.
    if (len === 0) {
      if (wrapped) throw new BadInputError(`kernel log: ${where(idx)}: a second wrap marker before reaching log_next_idx ${next}`);
      wrapped = true;
      record.wrapMarker = true;
      records.push(record);
      idx = 0;
      continue;
    }
    if (len < L.size + textLen || idx + len > bufLen) {
      throw new BadInputError(`kernel log: ${where(idx)}: len ${len} does not hold its ${L.size}-byte header and ${textLen}-byte text inside the ${bufLen}-byte log_buf`);
    }
    records.push(record);
    idx += len;
    if (wrapped && idx > next) throw new BadInputError(`kernel log: ${where(idx - len)}: walked past log_next_idx ${next} without meeting it`);
  }
  return records;
}

function standardFields(r: KlogReader, buf: Buffer, idx: number, dictAt: number, len: number): Partial<LogRecord> {
  const bits = buf[idx + STANDARD.flagsLevel];
  const out: Partial<LogRecord> = {
    facility: buf[idx + STANDARD.facility],
    // GCC allocates bitfields from the low bit on little-endian targets and from the high bit on big-endian.
    level: r.endian === 'le' ? bits >> 5 : bits & 7,
  };
  const dictLen = r.u16(buf, idx + STANDARD.dictLen);
  if (dictLen > 0 && dictAt + dictLen <= idx + len) out.dict = buf.toString('latin1', dictAt, dictAt + dictLen).replace(/\0/g, '\n');
  return out;
}
