// Prints a kernel log the way kexec-tools' vmcore-dmesg does, byte for byte.

import type { KernelLog } from './kernel-log.js';

const NANOS_PER_SECOND = 1_000_000_000n;
const NANOS_PER_MICRO = 1_000n;
const SECONDS_WIDTH = 5;
const MICROS_WIDTH = 6;

/** `[%5llu.%06llu] `: seconds padded to five columns, microseconds truncated, not rounded. */
export function formatTimestamp(tsNanos: bigint): string {
  const seconds = tsNanos / NANOS_PER_SECOND;
  const micros = (tsNanos % NANOS_PER_SECOND) / NANOS_PER_MICRO;
  return `[${seconds.toString().padStart(SECONDS_WIDTH)}.${micros.toString().padStart(MICROS_WIDTH, '0')}] `;
}

/**
 * vmcore-dmesg keeps a byte when the C locale's isprint() or isspace() accepts it (0x20-0x7e,
 * 0x09-0x0d) and writes any other as \xNN, so record text always comes out as ASCII.
 */
export function escapeLogText(bytes: Uint8Array): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if ((c >= 0x20 && c <= 0x7e) || (c >= 0x09 && c <= 0x0d)) continue;
    out += latin1(bytes, runStart, i) + '\\x' + c.toString(16).padStart(2, '0');
    runStart = i + 1;
  }
  return out + latin1(bytes, runStart, bytes.length);
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return start === end ? '' : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * What `vmcore-dmesg FILE` prints, one character per output byte: record formats give ASCII, and the
 * plain log_buf of old kernels is printed raw, so its bytes come back as latin1 characters.
 */
export function formatDmesg(log: KernelLog): string {
  if (log.format === 'log_buf-plain') return log.plainText ?? '';
  let out = '';
  for (const record of log.records) out += formatTimestamp(record.tsNanos) + record.text + '\n';
  return out;
}

/** formatDmesg as the exact bytes to write out. */
export function formatDmesgBytes(log: KernelLog): Buffer {
  return Buffer.from(formatDmesg(log), 'latin1');
}
