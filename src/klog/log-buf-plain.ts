// Decodes the plain-text log_buf of kernels before 3.5: a character ring that log_end runs around.

import { BadInputError } from '../errors.js';
import { MAX_RING_ARRAY_BYTES } from './printk-ringbuffer.js';
import type { KlogReader, LogRecord } from './kernel-log.js';

const WHAT = 'the plain log_buf (SYMBOL(log_buf))';
const NANOS_PER_SECOND = 1_000_000_000n;
const NANOS_PER_MICRO = 1_000n;
/** Each line may start with "<level>" and then printk's "[seconds.micros] " timestamp. */
const LINE_PREFIX = /^(?:<(\d{1,3})>)?(?:\[\s*(\d+)\.(\d{6})\] )?/;

export interface PlainLog {
  /** What vmcore-dmesg prints: the bytes as latin1. */
  text: string;
  records: LogRecord[];
}

/**
 * Like vmcore-dmesg: the ring is read starting at log_end, and the last min(log_end, log_buf_len)
 * characters are the log, printed raw with their "<N>" prefixes.
 */
export function readLogBufPlain(r: KlogReader): PlainLog {
  const S = r.symbols(WHAT, ['log_buf', 'log_buf_len', 'log_end']);
  const bufAddr = r.pointer(S.log_buf, 'the pointer log_buf');
  // log_buf_len is a signed int in these kernels.
  const bufLen = r.u32At(S.log_buf_len, 'log_buf_len') | 0;
  if (bufLen <= 0 || bufLen > MAX_RING_ARRAY_BYTES) throw new BadInputError(`kernel log: log_buf_len ${bufLen} is outside 1..${MAX_RING_ARRAY_BYTES}`);
  const logEnd = r.u32At(S.log_end, 'log_end');
  // vmcore-dmesg reads logged_chars though it prints without it; touching it keeps a slim dump readable by it.
  const loggedChars = r.symbol('logged_chars');
  if (loggedChars !== undefined) r.u32At(loggedChars, 'logged_chars');

  const ring = r.read(bufAddr, bufLen, `the ${bufLen}-byte log_buf`);
  const split = logEnd % bufLen;
  const oldestFirst = Buffer.concat([ring.subarray(split), ring.subarray(0, split)]);
  const bytes = oldestFirst.subarray(bufLen - Math.min(logEnd, bufLen));
  return { text: bytes.toString('latin1'), records: splitLines(bytes) };
}

function splitLines(bytes: Buffer): LogRecord[] {
  const records: LogRecord[] = [];
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    records.push(lineRecord(Buffer.from(bytes.subarray(start, end))));
    start = end + 1;
  }
  return records;
}

function lineRecord(raw: Buffer): LogRecord {
  const line = raw.toString('latin1');
  const m = LINE_PREFIX.exec(line) as RegExpExecArray;
  const record: LogRecord = {
    tsNanos: m[2] === undefined ? 0n : BigInt(m[2]) * NANOS_PER_SECOND + BigInt(m[3]) * NANOS_PER_MICRO,
    text: line.slice(m[0].length),
    raw,
  };
  if (m[1] !== undefined) {
    const prefix = Number(m[1]);
    record.level = prefix & 7;
    record.facility = prefix >> 3;
  }
  return record;
}
