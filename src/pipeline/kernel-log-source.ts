// Finds the crashed kernel's log before anything is written: the machine checks it printed, its panic line, its pages.

import { BadInputError, isSlimCoreError, type SlimCoreError } from '../errors.js';
import { openSource, readFully } from '../sources/byte-source.js';
import { ForwardReader } from '../sources/forward-reader.js';
import { positionalRangeReader } from '../sources/positional-reader.js';
import { openDump } from '../dump/open-dump.js';
import { hex } from '../elf/byte-order.js';
import { readDumpPrefix, type DumpPrefix } from '../dump/prefix.js';
import { buildAddressMap } from '../klog/address-map.js';
import { formatDmesg } from '../klog/dmesg-format.js';
import { readKernelLog, type KernelLog } from '../klog/kernel-log.js';
import { fdReadAt, memoryFromSegments, wordSizeOf, type PhysicalMemory } from '../klog/physical-memory.js';
import { endsInMachineCheckPanic, parseMceLog } from '../mce/log-parser.js';
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

function findingsFrom(log: KernelLog): KernelLogFindings {
  const parsed = parseMceLog(formatDmesg(log));
  // Only a log that ends in a machine-check panic makes its records the cause of this crash.
  const judgeAs = endsInMachineCheckPanic(parsed) ? ('kernel-log' as const) : ('user-records' as const);
  return {
    log,
    records: parsed.records.map((record) => ({ record, origin: 'kernel-log' as const, from: "the crashed kernel's log", judgeAs })),
    panicLine: parsed.panicLine,
    pages: log.pagesTouched,
    wholeArrayPages: log.pagesRead,
  };
}

/** One synchronous read of the log through `readAt`; throws what readKernelLog() throws. */
export function readLogNow(prefix: DumpPrefix, readAt: ReadAt, givenMemory?: PhysicalMemory): KernelLogFindings {
  const vmcoreinfo = prefix.vmcoreinfo ?? new Map<string, string>();
  const addressMap = buildAddressMap(prefix.phdrs, vmcoreinfo, prefix.header.machine);
  const memory = givenMemory ?? memoryFromSegments(prefix.phdrs, readAt);
  return findingsFrom(readKernelLog(memory, vmcoreinfo, addressMap, prefix.format.endian, wordSizeOf(prefix.header.machine, prefix.format)));
}

/** Whether VMCOREINFO names a log at all (as readKernelLog() looks for one): else there is nothing to miss. */
export function namesKernelLog(prefix: DumpPrefix): boolean {
  return ['prb', 'log_first_idx', 'log_buf'].some((name) => prefix.vmcoreinfo?.has(`SYMBOL(${name})`));
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
): Promise<KernelLogFindings | { problem: string; error: SlimCoreError; beyondLookahead?: number }> {
  if (!prefix.vmcoreinfo) {
    const error = new BadInputError('kernel log: cannot locate the log: the dump has no VMCOREINFO note');
    return { problem: error.message, error };
  }
  for (let attempt = 0; ; attempt++) {
    let firstMissing = Infinity;
    const recordingReadAt: ReadAt = (offset, length) => {
      const got = readAt(offset, length);
      if (got.length < length) firstMissing = Math.min(firstMissing, offset + got.length);
      return got;
    };
    try {
      return readLogNow(prefix, recordingReadAt, givenMemory);
    } catch (err) {
      if (!isSlimCoreError(err)) throw err;
      const canRetry = readAhead && firstMissing !== Infinity && attempt < MAX_ATTEMPTS;
      if (!canRetry || !(await readAhead(firstMissing + LOOKAHEAD_STEP))) {
        if (readAhead && firstMissing !== Infinity) {
          return { problem: `${err.message} (it lies beyond the look-ahead, at file offset ${hex(firstMissing)} or later)`, error: err, beyondLookahead: firstMissing };
        }
        return { problem: err.message, error: err };
      }
    }
  }
}

/** The log of a dump (ELF or kdump, flattened or not; an ELF one from a pipe too), for `dmesg`: the capture's reader. */
export async function loadKernelLog(path: string | undefined): Promise<KernelLog> {
  if (path === undefined || path === '-') return loadKernelLogFromStdin();
  const dump = await openDump(path);
  try {
    const found = await findKernelLog(dump.prefix, () => Buffer.alloc(0), undefined, dump.memory);
    if ('problem' in found) throw found.error;
    return found.log;
  } finally {
    await dump.close();
  }
}

/** stdin, a file or a pipe: ELF only (a kdump file's parts are read out of order). */
async function loadKernelLogFromStdin(): Promise<KernelLog> {
  const source = await openSource(undefined);
  try {
    let found: Awaited<ReturnType<typeof findKernelLog>>;
    if (source.seekable) found = await findKernelLog(await readDumpPrefix(positionalRangeReader(source)), fdReadAt(source.fd, source.name));
    else {
      // A pipe: as in the capture, the look-ahead holds the stream from offset 0 as far as the log needs.
      const forward = new ForwardReader((buf, offset, length) => readFully(source, buf, offset, length, null));
      const prefix = await readDumpPrefix(forward.rangeReader());
      found = await findKernelLog(prefix, (offset, length) => forward.peek(offset, length), (offset) => forward.fillTo(offset));
    }
    if ('problem' in found) throw found.error;
    return found.log;
  } finally {
    await source.close();
  }
}
