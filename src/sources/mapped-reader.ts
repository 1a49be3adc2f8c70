// Reads windows of a seekable input through mmap (the native addon), where a poisoned page is a SIGBUS the addon survives.

import { fstatSync, statfsSync } from 'node:fs';
import { IoError } from '../errors.js';
import type { DataSegment } from '../dump/segment-list.js';
import type { ByteSource } from './byte-source.js';
import type { FailedPage } from './chunk-reader.js';
import { loadMmapAddon, type MmapAddon } from './mmap-addon.js';

export type ReaderChoice = 'auto' | 'mmap' | 'read';
export const READER_CHOICES: readonly ReaderChoice[] = ['auto', 'mmap', 'read'];
/** What a page that faulted under the mapping is listed as. */
export const SIGBUS_ERROR = 'SIGBUS';

export class MappedReader {
  /** False once a mapping failed in auto mode: the rest is read with read(2). */
  active = true;

  constructor(
    private readonly addon: MmapAddon,
    private readonly source: ByteSource,
    /** Bytes that may be mapped: past the end a mapping faults, and read(2) says where the input ends. */
    private readonly end: number,
    private readonly forced: boolean,
    private readonly onNotice?: (line: string) => void,
  ) {}

  /**
   * Copies the pieces of the window at segment offset `offset` (flat [start, end) pairs of offsets in buf) into buf,
   * each through its own mapping, so that bytes outside them (the named faults) are never mapped. Faulted pages are
   * zero and pushed onto `failed`, one entry per page. False when the window must be read with read(2) instead.
   */
  async readPieces(seg: DataSegment, offset: number, buf: Buffer, pieces: Float64Array, pageSize: number, failed: FailedPage[]): Promise<boolean> {
    if (!this.active) return false;
    const position = seg.inOffset + offset;
    if (position + buf.length > this.end) return false;
    let faults: Float64Array;
    try {
      faults = await this.addon.copy(this.source.fd, buf, position, pieces);
    } catch (err) {
      const message = `cannot mmap ${this.source.name}: ${(err as Error).message}`;
      if (this.forced) throw new IoError(`${message} (--reader mmap)`, { cause: err });
      this.active = false;
      this.onNotice?.(`${message}; reading it with read(2) instead`);
      return false;
    }
    for (let i = 0; i < faults.length; i += 2) pushPages(seg, offset, faults[i], faults[i + 1], pageSize, failed);
    return true;
  }
}

/** One entry per dump page, so that the read-error log counts pages, not runs. */
function pushPages(seg: DataSegment, offset: number, from: number, to: number, pageSize: number, failed: FailedPage[]): void {
  const page = BigInt(pageSize);
  for (let at = from; at < to; ) {
    const paddr = seg.paddr + BigInt(offset + at);
    const end = Math.min(to, at + pageSize - Number(paddr % page));
    failed.push({ segmentIndex: seg.index, paddr, length: end - at, fileOffset: seg.inOffset + offset + at, error: SIGBUS_ERROR });
    at = end;
  }
}

/** statfs f_type of procfs: /proc/vmcore, also when it comes in as stdin (`< /proc/vmcore`). */
const PROC_SUPER_MAGIC = 0x9fa0;

function onProcfs(fd: number): boolean {
  try {
    return statfsSync(`/proc/self/fd/${fd}`).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The mmap reader for a seekable source, or undefined for read(2). Auto maps /proc/vmcore, where mmap is both the
 * safer and the faster reader; files and block devices go through the page cache, where setting up a mapping for every
 * page cost more than read(2)'s copy in bench/ (docs/architecture.md), so auto reads them and `--reader mmap` maps them.
 * A pipe is always read. An addon that cannot load is one notice, never an error.
 */
export function openMappedReader(source: ByteSource, choice: ReaderChoice, onNotice?: (line: string) => void): MappedReader | undefined {
  if (choice === 'read') return undefined;
  if (!source.seekable) {
    if (choice === 'mmap') onNotice?.(`--reader mmap: ${source.name} is a pipe, which cannot be mapped; reading it with read(2)`);
    return undefined;
  }
  const stat = fstatSync(source.fd);
  if (choice === 'auto' && !(stat.isFile() && onProcfs(source.fd))) return undefined;
  const loaded = loadMmapAddon();
  if ('problem' in loaded) {
    onNotice?.(`mmap reader unavailable: ${loaded.problem}; reading ${source.name} with read(2)`);
    return undefined;
  }
  const end = stat.isFile() ? stat.size : loaded.addon.fileSize(source.fd);
  if (end < 0) {
    onNotice?.(`cannot find the size of ${source.name} to map it; reading it with read(2)`);
    return undefined;
  }
  return new MappedReader(loaded.addon, source, end, choice === 'mmap', onNotice);
}

export function describeReader(reader: MappedReader | undefined): 'mmap' | 'read' {
  return reader?.active ? 'mmap' : 'read';
}

