// Physical memory of a vmcore: reads by physical address through the PT_LOAD segments' file data.

import { readSync } from 'node:fs';
import { IoError } from '../errors.js';
import { hex, type Format } from '../elf/byte-order.js';
import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';
import { readDumpPrefix } from '../dump/prefix.js';
import { openSource } from '../sources/byte-source.js';
import { positionalRangeReader } from '../sources/positional-reader.js';

export interface PhysicalMemory {
  /**
   * The bytes at [paddr, paddr + length), or undefined when any of them lies outside every PT_LOAD's file data.
   * With `into` (at least `length` bytes) they are read into it, and the result is a view of it.
   */
  read(paddr: bigint, length: number, into?: Uint8Array): Buffer | undefined;
}

/** Largest single read; callers cap what they ask for well below this. */
const MAX_READ_BYTES = 1 << 30;

/**
 * Pure: the caller supplies the positional reader. Overlapping segments (such as a kernel-text
 * PT_LOAD over a RAM range) hold the same bytes, so any one that covers an address will do.
 */
export function memoryFromSegments(
  phdrs: ProgramHeaderTable,
  readAt: (fileOffset: number, length: number, into?: Uint8Array) => Buffer,
): PhysicalMemory {
  // The PT_LOADs with file data, by paddr: indices into the table, so 128 Ki segments cost 512 KiB, not an object each.
  const picked: number[] = [];
  for (let i = 0; i < phdrs.length; i++) if (phdrs.type(i) === PT_LOAD && phdrs.filesz(i) > 0n) picked.push(i);
  const order = Uint32Array.from(picked).sort((x, y) => {
    const a = phdrs.paddr(x);
    const b = phdrs.paddr(y);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const startOf = (k: number) => phdrs.paddr(order[k]);
  const endOf = (k: number) => phdrs.paddr(order[k]) + phdrs.filesz(order[k]);
  // maxLastUpTo[k] bounds how far back a covering segment can start, so lookups stay logarithmic. Last bytes, not
  // ends: an end may be 2^64, which a BigUint64Array cannot hold.
  const maxLastUpTo = new BigUint64Array(order.length);
  for (let k = 0; k < order.length; k++) maxLastUpTo[k] = k === 0 || endOf(k) - 1n > maxLastUpTo[k - 1] ? endOf(k) - 1n : maxLastUpTo[k - 1];

  /** Every segment (table index) holding `addr`, lowest file offset first: on a pipe only the early part of the file is at hand. */
  function covering(addr: bigint): number[] {
    let lo = 0;
    let hi = order.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (startOf(mid) <= addr) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const found: number[] = [];
    for (let k = last; k >= 0 && maxLastUpTo[k] >= addr; k--) {
      if (endOf(k) > addr) found.push(order[k]);
    }
    return found.sort((x, y) => {
      const a = phdrs.offset(x);
      const b = phdrs.offset(y);
      return a < b ? -1 : a > b ? 1 : 0;
    });
  }

  return {
    read(paddr, length, into) {
      if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ_BYTES || paddr < 0n) return undefined;
      const target = into && into.length >= length ? Buffer.from(into.buffer, into.byteOffset, length) : undefined;
      const parts: Buffer[] = [];
      let done = 0;
      let at = paddr;
      while (done < length) {
        let piece: Buffer | undefined;
        for (const i of covering(at)) {
          const end = phdrs.paddr(i) + phdrs.filesz(i);
          const take = Number(end - at < BigInt(length - done) ? end - at : BigInt(length - done));
          const fileOffset = phdrs.offset(i) + (at - phdrs.paddr(i));
          if (fileOffset + BigInt(take) > BigInt(Number.MAX_SAFE_INTEGER)) continue;
          const got = readAt(Number(fileOffset), take, target?.subarray(done, done + take));
          if (got.length >= take) {
            piece = got.length === take ? got : got.subarray(0, take);
            break;
          }
        }
        if (!piece) return undefined;
        // A reader that ignores `into` returned bytes of its own.
        if (target && (piece.buffer !== target.buffer || piece.byteOffset !== target.byteOffset + done)) target.set(piece, done);
        else if (!target) parts.push(piece);
        at += BigInt(piece.length);
        done += piece.length;
      }
      if (target) return target;
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
    },
  };
}

export interface OpenedMemory {
  memory: PhysicalMemory;
  phdrs: ProgramHeaderTable;
  /** Empty when the first PT_NOTE holds no VMCOREINFO note. */
  vmcoreinfo: Map<string, string>;
  format: Format;
  /** e_machine, for buildAddressMap. */
  machine: number;
  /** Pointer size as vmcore-dmesg sees it: the ELF class, except 4 for EM_386 (i386 PAE dumps are ELF64). */
  wordSize: 4 | 8;
  close(): Promise<void>;
}

const EM_386 = 3;

export function wordSizeOf(machine: number, format: Format): 4 | 8 {
  return machine === EM_386 || format.elfClass === 32 ? 4 : 8;
}

/** A synchronous positional reader over a file descriptor: short at the end of the file; into `into` when given. */
export function fdReadAt(fd: number, name: string): (fileOffset: number, length: number, into?: Uint8Array) => Buffer {
  return (fileOffset, length, into) => {
    const buf = into && into.length >= length ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, fileOffset + done);
        if (n === 0) break;
        done += n;
      }
    } catch (err) {
      throw new IoError(`${name}: read of ${length} bytes at file offset ${hex(fileOffset)} failed: ${(err as Error).message}`, { cause: err });
    }
    return done === length ? buf : buf.subarray(0, done);
  };
}

/** Opens a vmcore file for reads by physical address; the headers are read by the capture pipeline's own prefix reader. */
export async function openFileMemory(path: string): Promise<OpenedMemory> {
  const source = await openSource(path);
  try {
    const prefix = await readDumpPrefix(positionalRangeReader(source));
    const readAt = fdReadAt(source.fd, path);
    return {
      memory: memoryFromSegments(prefix.phdrs, readAt),
      phdrs: prefix.phdrs,
      vmcoreinfo: prefix.vmcoreinfo ?? new Map(),
      format: prefix.format,
      machine: prefix.header.machine,
      wordSize: wordSizeOf(prefix.header.machine, prefix.format),
      close: () => source.close(),
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}
