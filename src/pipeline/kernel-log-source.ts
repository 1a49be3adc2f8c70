// Finds the crashed kernel's log before anything is written: the machine checks it printed, its panic line, its pages.

import { BadInputError, isSlimCoreError, type SlimCoreError } from '../errors.js';
import { openDump } from '../dump/open-dump.js';
import { hex } from '../elf/byte-order.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { buildAddressMap } from '../klog/address-map.js';
import { formatDmesg } from '../klog/dmesg-format.js';
import { readKernelLog, type KernelLog } from '../klog/kernel-log.js';
import { memoryFromSegments, wordSizeOf, type PhysicalMemory } from '../klog/physical-memory.js';
import { parseMceLog } from '../mce/log-parser.js';
import type { SourcedRecord } from './plan.js';

/** Reads of a file range that may come back short where the bytes are not at hand (beyond a pipe's look-ahead). */
export type ReadAt = (fileOffset: number, length: number) => Buffer;

export interface KernelLogFindings {
  log: KernelLog;
  records: SourcedRecord[];
  panicLine?: string;
  /** Physical pages the log lies in (and the structures that lead to it): kept in every PT_LOAD that holds them. */
  pages: bigint[];
  /** The rest of the arrays read whole (vmcore-dmesg reads them so): kept once, in the first PT_LOAD that holds them. */
  wholeArrayPages: bigint[];
}

/** Read ahead in steps this much past the first byte that was missing, so a few retries reach the log. */
const LOOKAHEAD_STEP = 4 << 20;
const MAX_ATTEMPTS = 64;

const MACHINE_CHECK_PANIC = /machine check/i;

function findingsFrom(log: KernelLog): KernelLogFindings {
  const parsed = parseMceLog(formatDmesg(log));
  // Only a log that ends in a machine-check panic makes its records the cause of this crash.
  const judgeAs = parsed.panicLine && MACHINE_CHECK_PANIC.test(parsed.panicLine) ? ('kernel-log' as const) : ('user-records' as const);
  return {
    log,
    records: parsed.records.map((record) => ({ record, origin: 'kernel-log' as const, from: "the crashed kernel's log", judgeAs })),
    panicLine: parsed.panicLine,
    pages: log.pagesTouched,
    wholeArrayPages: log.pagesRead,
  };
}

/**
 * Reads the log through `readAt`. `readAhead`, given on a pipe, is asked to hold more of the stream whenever a read
 * came back short, up to its limit; it returns false once the limit is reached. Returns a reason on failure.
 */
export async function findKernelLog(
  prefix: DumpPrefix,
  readAt: ReadAt,
  readAhead?: (offset: number) => Promise<boolean>,
  /** Physical memory from elsewhere (a kdump file), in place of the PT_LOADs read through `readAt`. */
  givenMemory?: PhysicalMemory,
): Promise<KernelLogFindings | { problem: string; error: SlimCoreError }> {
  if (!prefix.vmcoreinfo) {
    const error = new BadInputError('kernel log: cannot locate the log: the dump has no VMCOREINFO note');
    return { problem: error.message, error };
  }
  const addressMap = buildAddressMap(prefix.phdrs, prefix.vmcoreinfo, prefix.header.machine);
  const wordSize = wordSizeOf(prefix.header.machine, prefix.format);
  for (let attempt = 0; ; attempt++) {
    let firstMissing = Infinity;
    const recordingReadAt: ReadAt = (offset, length) => {
      const got = readAt(offset, length);
      if (got.length < length) firstMissing = Math.min(firstMissing, offset + got.length);
      return got;
    };
    try {
      const memory = givenMemory ?? memoryFromSegments(prefix.phdrs, recordingReadAt);
      return findingsFrom(readKernelLog(memory, prefix.vmcoreinfo, addressMap, prefix.format.endian, wordSize));
    } catch (err) {
      if (!isSlimCoreError(err)) throw err;
      const canRetry = readAhead && firstMissing !== Infinity && attempt < MAX_ATTEMPTS;
      if (!canRetry || !(await readAhead(firstMissing + LOOKAHEAD_STEP))) {
        const where = readAhead && firstMissing !== Infinity ? ` (it lies beyond the look-ahead, at file offset ${hex(firstMissing)} or later)` : '';
        return { problem: `${err.message}${where}`, error: err };
      }
    }
  }
}

/** The log of a dump file (ELF or kdump, flattened or not), for `dmesg`: the capture's reader, with its error when the log cannot be read. */
export async function loadKernelLog(path: string): Promise<KernelLog> {
  const dump = await openDump(path);
  try {
    const found = await findKernelLog(dump.prefix, () => Buffer.alloc(0), undefined, dump.memory);
    if ('problem' in found) throw found.error;
    return found.log;
  } finally {
    await dump.close();
  }
}
