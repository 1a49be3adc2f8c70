// The capture's kdump-format branch: a page selection, the dump's metadata, the writer, and the positioned output it writes to.

import { UsageError } from '../errors.js';
import { PT_LOAD } from '../elf/constants.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { fdReadAt, memoryFromSegments } from '../klog/physical-memory.js';
import type { CompressionName } from '../kdump/compress.js';
import { defaultThreads, workerCompressor } from '../kdump/compress-pool.js';
import { inlineCompressor, type PageCompressor } from '../kdump/page-pack.js';
import { kdumpMetadata } from '../kdump/metadata.js';
import { writeKdump, type KdumpWriteResult } from '../kdump/writer.js';
import { withZeroPageCount } from '../notes/filter-note.js';
import { loadSelection } from '../mm/load-selection.js';
import type { PageSelection } from '../mm/page-selection.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import { positionedOutput } from '../sinks/positioned-output.js';
import type { ByteSource } from '../sources/byte-source.js';
import { pfnReader } from '../sources/pfn-reader.js';
import type { ReadErrorLog } from '../sources/read-errors.js';
import type { CapturePlan } from './plan.js';

export { DEFAULT_COMPRESSION } from './capture-defaults.js';
export const MAX_DUMP_LEVEL = 31;

export interface KdumpCaptureInput {
  prefix: DumpPrefix;
  source: ByteSource;
  /** Set when the input is a pipe: the kdump format reads pages in physical order, so it needs a file or device. */
  fromPipe: boolean;
  plan: CapturePlan;
  sink: DumpSink;
  errors: ReadErrorLog;
  dumpLevel: number;
  /** From startCompressor(), started early: the workers start up while the page filter runs. The caller closes it. */
  compressor: Promise<PageCompressor>;
  /** The page filter's answer; without it, every page with data that is not known bad (-d 0 without the mem_map walk). */
  selection?: PageSelection;
  onProgress?: (written: number, total: number) => void;
}

export interface KdumpCaptureResult extends KdumpWriteResult {
  /** Where the notes are in the output, for patching the OMITTED note. */
  notesOffset: number;
  flattened: boolean;
}

/** The pages a dump holds by the plan alone: a full dump's PT_LOADs, a slim one's kept pages, less the plan's faults. */
export function planSelection(prefix: DumpPrefix, plan: CapturePlan): PageSelection {
  const { phdrs } = prefix;
  // Ranges made as loadSelection reads them: no list of 128 Ki objects.
  function* loads() {
    for (let i = 0; i < phdrs.length; i++) if (phdrs.type(i) === PT_LOAD && phdrs.memsz(i) > 0n) yield { start: phdrs.paddr(i), end: phdrs.paddr(i) + phdrs.memsz(i) };
  }
  function* data() {
    const copy = plan.copySegments;
    for (let i = 0; i < copy.length; i++) if (plan.outputPhdrs.type(copy.index(i)) === PT_LOAD) yield { start: copy.paddr(i), end: copy.paddr(i) + BigInt(copy.size(i)) };
  }
  const faults = plan.faultMap.entries;
  function* bad() {
    for (let i = 0; i < faults.count; i++) yield { start: faults.paddr(i), end: faults.paddr(i) + faults.size(i) };
  }
  return loadSelection({ pageSize: prefix.pageSize, loads: { [Symbol.iterator]: loads }, data: { [Symbol.iterator]: data }, bad: { [Symbol.iterator]: bad } });
}

/** Said before anything is opened or sent: the kdump format reads pages in physical order, not in the input's. */
export function checkKdumpInput(fromPipe: boolean): void {
  if (fromPipe) throw new UsageError('--format kdump reads pages in physical order, so it needs a file or device as input, not a pipe');
}

/** Compression worker threads (default: one per core but the main thread's, none on one core); 0 packs on the calling thread. The file is the same. */
export function startCompressor(method: CompressionName, threads = defaultThreads()): Promise<PageCompressor> {
  return threads === 0 ? inlineCompressor(method) : workerCompressor({ method, threads });
}

export async function captureKdump(input: KdumpCaptureInput): Promise<KdumpCaptureResult> {
  const { prefix, source, plan } = input;
  checkKdumpInput(input.fromPipe);
  if (prefix.format.elfClass !== 64) throw new UsageError('--format kdump writes the 64-bit layout only; this dump is ELF32');
  if (!Number.isInteger(input.dumpLevel) || input.dumpLevel < 0 || input.dumpLevel > MAX_DUMP_LEVEL) throw new UsageError(`dump level ${input.dumpLevel} is not in 0..${MAX_DUMP_LEVEL}`);
  const memory = memoryFromSegments(prefix.phdrs, fdReadAt(source.fd, source.name));
  const meta = kdumpMetadata(prefix, plan.noteBytes, memory);
  const selection = input.selection ?? planSelection(prefix, plan);
  // The plan's own list when every segment is a PT_LOAD (the usual case): no second list of 128 Ki entries.
  const segments = plan.copySegments.filter((i) => plan.outputPhdrs.type(plan.copySegments.index(i)) === PT_LOAD);
  const output = positionedOutput(input.sink);
  const compressor = await input.compressor;
  const result = await writeKdump({
    meta,
    selection,
    readPages: pfnReader(source, segments, prefix.pageSize, input.errors),
    compressor,
    dumpLevel: input.dumpLevel,
    output,
    onProgress: (written) => input.onProgress?.(written, 0),
    finalNotes: ({ zeroPages }) => withZeroPageCount(meta.notes, prefix.format.endian, zeroPages),
  });
  await output.finish();
  return { ...result, notesOffset: result.layout.notesOffset, flattened: output.flattened };
}
