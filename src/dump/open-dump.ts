// Opens any dump for reading: an ELF vmcore, a kdump-compressed file, or either one flattened; headers and memory by physical address.

import { ProgramHeaderTable } from '../elf/program-header-table.js';
import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import type { ElfHeader } from '../elf/header.js';
import { indexFlatFile } from '../flat/flat-index.js';
import { isFlatHeader } from '../flat/records.js';
import { isKdumpSignature, utsnameField } from '../kdump/header.js';
import { openKdump, type KdumpFile } from '../kdump/reader.js';
import { loadCodecs } from '../kdump/compress.js';
import { fdReadAt, memoryFromSegments, type PhysicalMemory } from '../klog/physical-memory.js';
import { openSource } from '../sources/byte-source.js';
import { positionalRangeReader } from '../sources/positional-reader.js';
import { readDumpPrefix, type DumpPrefix, type RangeReader } from './prefix.js';
import { DEFAULT_PAGE_SIZE, vmcoreinfoPageSize } from '../elf/vmcoreinfo.js';

export interface OpenedDump {
  container: 'elf' | 'kdump';
  flattened: boolean;
  /** For a kdump file: its notes, VMCOREINFO and page size, with no program headers. */
  prefix: DumpPrefix;
  memory: PhysicalMemory;
  kdump?: KdumpFile;
  close(): Promise<void>;
}

const MACHINES: Record<string, number> = { x86_64: 62, aarch64: 183, ppc64le: 21, ppc64: 21, s390x: 22, riscv64: 243 };

function rangeReaderOf(readAt: (offset: number, length: number) => Buffer): RangeReader {
  return async (offset, length, what) => {
    const got = readAt(offset, length);
    if (got.length < length) throw new BadInputError(`input ends at offset ${hex(offset + got.length)}, inside ${what} (which needs bytes up to ${hex(offset + length)})`);
    return got;
  };
}

/** A kdump file described the way the ELF readers expect a dump: the notes, and no segments. */
function kdumpPrefix(k: KdumpFile): DumpPrefix {
  const machine = MACHINES[utsnameField(k.header.utsname, 4)] ?? 0;
  const header: ElfHeader = {
    elfClass: 64, endian: k.endian, ident: Buffer.alloc(16), type: 4, machine, version: 1, entry: 0n, phoff: 0n, shoff: 0n,
    flags: 0, ehsize: 64, phentsize: 56, phnum: 0, shentsize: 0, shnum: 0, shstrndx: 0,
  };
  return {
    format: { elfClass: 64, endian: k.endian },
    header,
    phnum: 0,
    phdrs: ProgramHeaderTable.from([]),
    noteIndex: -1,
    noteOffset: Number(k.sub.offsetNote),
    noteSegment: k.noteSegment,
    notes: k.notes,
    vmcoreinfo: k.vmcoreinfo,
    pageSize: vmcoreinfoPageSize(k.vmcoreinfo) ?? (k.header.blockSize || DEFAULT_PAGE_SIZE),
    prefixEnd: 0,
  };
}

export async function openDump(path: string): Promise<OpenedDump> {
  const source = await openSource(path);
  try {
    if (!source.seekable) throw new BadInputError(`${source.name}: not a file or device; this reader needs to seek`);
    const raw = fdReadAt(source.fd, source.name);
    const head = raw(0, 32);
    const flattened = isFlatHeader(head);
    const readAt = flattened ? indexFlatFile(raw).readAt : raw;
    const close = () => source.close();
    if (isKdumpSignature(readAt(0, 8))) {
      await loadCodecs();
      const kdump = openKdump(readAt);
      return { container: 'kdump', flattened, prefix: kdumpPrefix(kdump), memory: kdump.memory, kdump, close };
    }
    const prefix = await readDumpPrefix(flattened ? rangeReaderOf(readAt) : positionalRangeReader(source));
    return { container: 'elf', flattened, prefix, memory: memoryFromSegments(prefix.phdrs, readAt), close };
  } catch (err) {
    await source.close();
    throw err;
  }
}
