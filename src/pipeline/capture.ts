// The capture pipeline, assembled in one place: source, prefix, plan, transforms, serializer, sink.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { BadInputError, IoError, isSlimCoreError, makeWarner, type WarningHandler } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { checkInsideInput, dataSegments, forwardPassObstacle, type OutputLayout } from '../dump/layout.js';
import { faultsByExtent, fileExtents } from '../dump/file-extents.js';
import { SegmentList } from '../dump/segment-list.js';
import { readDumpPrefix, type DumpPrefix } from '../dump/prefix.js';
import { warnAboutPrefix } from '../dump/prefix-warnings.js';
import { openSource, readFully, type ByteSource } from '../sources/byte-source.js';
import { ForwardReader, PIPE_PREFIX_LIMIT } from '../sources/forward-reader.js';
import { fdReadAt } from '../klog/physical-memory.js';
import { findKernelLog, namesKernelLog, type KernelLogFindings, type ReadAt } from './kernel-log-source.js';
import { LateKernelLog } from './late-kernel-log.js';
import { finishLateLog, lateLogReport, LATE_LOG_CAUSE_RESERVE, LATE_LOG_MCE_RESERVE, LATE_LOG_OMITTED_RESERVE, type LateLogOutcome } from './late-log-patch.js';
import { dumpFacts, type DumpShape } from './dump-facts.js';
import { crashedNodename } from '../klog/uts-name.js';
import { positionalRangeReader, readSegmentsAt } from '../sources/positional-reader.js';
import { DEFAULT_MAX_READ_ERRORS, ReadErrorLog } from '../sources/read-errors.js';
import { describeReader, openMappedReader, type ReaderChoice } from '../sources/mapped-reader.js';
import { openPieceReader } from '../sources/piece-reader.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import { openSink, type TransportOptions } from '../sinks/open-sink.js';
import { noteInjector } from '../../transforms/note-injector.js';
import { elfHeaderRewriter } from '../../transforms/elf-header-rewriter.js';
import { poisonPageSkipper } from '../../transforms/poison-page-skipper.js';
import { dumpSerializer, type SerializerProgress } from './serializer.js';
import { ChunkPool } from '../stream/chunk-pool.js';
import { draftPlan, planCapture, type CapturePlan, type PlanInput, type RequestedMode, type SourcedRecord } from './plan.js';
import { checkDumpLevel, pageFilterStep } from './filter-step.js';
import { PageClassCode, type FilterSummary } from '../notes/filter-note.js';
import { describeRange, patchReadErrors, writeReport, type ReadErrorOutcome } from './after-copy.js';
import type { DumpEvent } from '../stream/events.js';
import type { UserFault } from '../faults/fault-input.js';
import type { FaultList } from '../faults/fault-list.js';
import type { CompressionName } from '../kdump/compress.js';
import type { PageSelection } from '../mm/page-selection.js';
import type { KdumpCaptureResult } from './kdump-capture.js';
import { DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION } from './capture-defaults.js';

export { DEFAULT_CHUNK_SIZE };
/** Objects queued between stages; each is at most one chunk, so this bounds buffering in bytes. */
const QUEUED_CHUNKS = 4;
/** Read buffers in the pool: enough for the read-ahead and the queues, and a fixed bound on memory. */
export const POOLED_CHUNKS = 4;
/** Room left in the CAUSE note to restate it once read errors are known. */
const CAUSE_RESERVE = 96;

export interface CaptureOptions {
  /** A path, or '-'/undefined for stdin. */
  input?: string;
  /** A path, or '-'/undefined for stdout. */
  output?: string;
  mode?: RequestedMode;
  /** --fault pages as objects, or a typed list (what the CLI parses --faults files into). */
  userFaults?: readonly UserFault[] | FaultList;
  extraRecords?: SourcedRecord[];
  panicLine?: string;
  strict?: boolean;
  onWarning?: WarningHandler;
  onNotice?: (line: string) => void;
  /** Called as output bytes go out: bytes so far, and the dump's total size once known. */
  onProgress?: (written: number, total: number) => void;
  chunkSize?: number;
  /** Pages that may fail to read before the capture stops (exit 4); also the OMITTED note's spare capacity. */
  maxReadErrors?: number;
  /** How segment data is read: through mmap (a poisoned page is a survived SIGBUS), read(2), or auto (mmap where it can). */
  reader?: ReaderChoice;
  /** Where to write the JSON report (read errors, omitted ranges). */
  report?: string;
  sync?: boolean;
  /** Read the crashed kernel's log for machine checks and the panic line (default true). */
  kernelLog?: boolean;
  /** What a slim dump keeps besides headers and notes: the kernel log's pages (default), or nothing. */
  slimKeep?: 'log' | 'none';
  /** How much of a pipe may be held to find the headers, notes and kernel log (default 64 MiB). */
  lookahead?: number;
  /** tcp:// and tls:// outputs: the dump's name on the receiver, and the file holding the shared token. */
  name?: string;
  tokenFile?: string;
  /** TLS and ssh settings for tls:// and ssh:// outputs. */
  transport?: TransportOptions;
  /** elf (default), or makedumpfile's kdump-compressed format (flattened on stdout, ssh://, s3://). */
  format?: 'elf' | 'kdump';
  /** kdump format: how pages are compressed (default zlib). */
  compress?: CompressionName;
  /** kdump format: compression worker threads (default: one per core but the main thread's; 0: on the calling thread). */
  threads?: number;
  /** kdump format: the sub-header's dump level; bit 1 makes zero pages share one block. */
  dumpLevel?: number;
  /** kdump format: which pages to write (the page filter); default: every page with data that is not known bad. */
  pageSelection?: PageSelection;
}

export interface CaptureResult {
  plan: CapturePlan;
  layout?: OutputLayout;
  bytesWritten: number;
  output: string;
  input: string;
  seconds: number;
  readErrors: ReadErrorOutcome;
  /** What the page filter left out, when it ran. */
  filter?: FilterSummary;
  /** A log beyond a pipe's look-ahead, read as the data streamed past, when it named machine checks. */
  lateKernelLog?: LateLogOutcome;
  /** What read the segment data in the end: 'read' where mmap was not asked for, not available or failed. */
  reader: 'mmap' | 'read';
  /** What a sink that stores facts beside the dump (s3://) stored: its S3 metadata. */
  metadata?: Record<string, string>;
}

/** On a pipe whose look-ahead cannot reach the log, a full dump gathers it from the stream. */
async function lateKernelLog(prefix: DumpPrefix, forward: ForwardReader | undefined, beyond: number | undefined, plan: CapturePlan, onNotice?: (line: string) => void) {
  if (!forward || beyond === undefined || plan.mode !== 'full') return undefined;
  const late = LateKernelLog.plan(prefix, forward, plan.copySegments);
  onNotice?.('kernel log: gathering it as the data streams past');
  return late;
}

async function readPrefix(source: ByteSource, lookahead: number): Promise<{ prefix: DumpPrefix; forward?: ForwardReader }> {
  if (source.seekable) return { prefix: await readDumpPrefix(positionalRangeReader(source)) };
  const forward = new ForwardReader((buf, offset, length) => readFully(source, buf, offset, length, null), lookahead);
  return { prefix: await readDumpPrefix(forward.rangeReader()), forward };
}

/**
 * The kernel log's findings; or where it lies when a pipe's look-ahead cannot reach it, a KLOG warning (--strict
 * refuses): the same bytes from a file would have been read. A log that cannot be read otherwise is a notice.
 */
async function kernelLogOf(
  prefix: DumpPrefix,
  source: ByteSource,
  forward: ForwardReader | undefined,
  warn: WarningHandler,
  onNotice?: (line: string) => void,
): Promise<{ findings?: KernelLogFindings; beyondLookahead?: number }> {
  const found = forward
    ? await findKernelLog(prefix, (offset, length) => forward.peek(offset, length), (offset) => forward.fillTo(offset))
    : await findKernelLog(prefix, fdReadAt(source.fd, source.name));
  if ('problem' in found) {
    // A log the look-ahead cannot reach is there and matters (a memblock ring high in RAM, with many CPUs).
    if (found.beyondLookahead !== undefined && namesKernelLog(prefix)) {
      warn({ code: 'KLOG', message: `${found.problem}: machine checks it names are not known before the data` });
    } else onNotice?.(`${found.problem}; going on without it`);
    return { beyondLookahead: found.beyondLookahead };
  }
  const skipped = found.log.skippedRecords > 0 ? `, ${found.log.skippedRecords} corrupt record(s) left out` : '';
  onNotice?.(`kernel log: ${found.log.records.length} records (${found.log.format})${skipped}, ${found.records.length} machine-check record(s)${found.panicLine ? `, "${found.panicLine}"` : ''}`);
  return { findings: found };
}

export async function capture(options: CaptureOptions): Promise<CaptureResult> {
  const started = process.hrtime.bigint();
  const warn = makeWarner(options.onWarning, options.strict ?? false);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const dumpLevel = options.dumpLevel ?? 0;
  const source = await openSource(options.input);
  let sink: DumpSink | undefined;
  // The kdump format's code loads only for it.
  const kdumpCode = options.format === 'kdump' ? await import('./kdump-capture.js') : undefined;
  // Started first: the workers start up beside the prefix, the kernel log and the page filter.
  const compressor = kdumpCode?.startCompressor(options.compress ?? DEFAULT_COMPRESSION, options.threads);
  compressor?.catch(() => undefined);
  try {
    checkDumpLevel(dumpLevel, !source.seekable);
    kdumpCode?.checkKdumpInput(!source.seekable);
    const { prefix, forward } = await readPrefix(source, options.lookahead ?? PIPE_PREFIX_LIMIT);
    warnAboutPrefix(prefix, warn);
    sink = await openSink({ output: options.output, sync: options.sync, name: options.name, tokenFile: options.tokenFile, transport: options.transport, positioned: options.format === 'kdump' });
    // Only a seekable source is read page by page after an error; a pipe's producer does its own reading.
    // With --max-read-errors 0 a page that fails ends the capture, so no list needs room for it, nor a cause restated.
    const recovers = !forward && (options.maxReadErrors ?? DEFAULT_MAX_READ_ERRORS) > 0;
    // A kdump file that goes out flattened (stdout, ssh, s3) cannot be patched at its plain-file offsets.
    const canPatch = sink.canPatch && (options.format !== 'kdump' || sink.writeAt !== undefined);
    const errors = new ReadErrorLog(options.maxReadErrors ?? DEFAULT_MAX_READ_ERRORS, prefix.pageSize);
    const readAt: ReadAt = forward ? (offset, length) => forward.peek(offset, length) : fdReadAt(source.fd, source.name);
    const klogState = options.kernelLog === false ? {} : await kernelLogOf(prefix, source, forward, warn, options.onNotice);
    const klog = klogState.findings;
    // A log a pipe's look-ahead cannot reach is read as it streams past; room for what it may add to our notes.
    const lateRoom = klogState.beyondLookahead !== undefined && canPatch;
    const planInput: PlanInput = {
      mode: options.mode ?? 'auto',
      userFaults: options.userFaults ?? [],
      extraRecords: [...(options.extraRecords ?? []), ...(klog?.records ?? [])],
      keepPages: options.slimKeep === 'none' ? [] : klog?.pages,
      keepPagesOnce: options.slimKeep === 'none' ? [] : klog?.wholeArrayPages,
      // On a pipe, only bytes the look-ahead already holds can be kept: a slim dump must not read on; in a file, only bytes it has.
      canKeep: (index, _start, end) => prefix.phdrs.offset(index) + end <= BigInt(forward ? forward.end : (source.size ?? Number.MAX_SAFE_INTEGER)),
      omittedReserve: (recovers && canPatch ? errors.maxPages : 0) + (lateRoom ? LATE_LOG_OMITTED_RESERVE : 0),
      readErrorsUnlisted: recovers && !canPatch,
      causeReserve: lateRoom ? LATE_LOG_CAUSE_RESERVE : recovers && canPatch ? CAUSE_RESERVE : 0,
      mceReserve: lateRoom ? LATE_LOG_MCE_RESERVE : 0,
      panicLine: options.panicLine ?? klog?.panicLine,
      onWarning: warn,
      onNotice: options.onNotice,
    };
    // A slim dump copies only what its own table keeps: the input's data segments (maybe 128 Ki) need no list.
    const segments = draftPlan(prefix, planInput).mode === 'slim' ? SegmentList.EMPTY : dataSegments(prefix);
    const filter = await pageFilterStep({
      prefix, source, pipe: Boolean(forward), segments, dumpLevel, format: options.format ?? 'elf', maxReadErrors: errors.maxPages, planInput, warn, onNotice: options.onNotice,
    });
    const plan = planCapture(prefix, segments, { ...planInput, filter: filter.plan });
    const kdumpSelection = kdumpCode ? (options.pageSelection ?? filter.outcome?.selection ?? kdumpCode.planSelection(prefix, plan)) : undefined;
    const shape: DumpShape = kdumpSelection
      ? { format: sink.writeAt ? 'kdump' : 'kdump-flattened', dumpLevel, kdumpPages: kdumpSelection.dumpableCount }
      : { format: 'elf', dumpLevel };
    const metadata = sink.describe?.(dumpFacts(prefix, plan, crashedNodename(prefix, readAt), shape));
    const copy = plan.copySegments;
    checkInsideInput(copy, source.size);
    const mapped = copy.length > 0 ? openMappedReader(source, options.reader ?? 'auto', options.onNotice) : undefined;
    if (forward) {
      const obstacle = forwardPassObstacle(copy);
      if (obstacle) throw new BadInputError(`${obstacle}: this layout must be read from a file or device, not a pipe`);
    }
    const late = await lateKernelLog(prefix, forward, klogState.beyondLookahead, plan, options.onNotice);
    // Nothing more to read: closing the input now lets a pipe's producer see EPIPE.
    if (copy.length === 0 && options.format !== 'kdump') await source.close();
    const outputPrefix: DumpPrefix = { ...prefix, phdrs: plan.outputPhdrs, phnum: plan.outputPhdrs.length, noteIndex: plan.outputNoteIndex };

    let kdump: KdumpCaptureResult | undefined;
    let progress: SerializerProgress = { written: 0 };
    if (options.format === 'kdump') {
      const kdumpInput = { prefix, source, fromPipe: Boolean(forward), plan, sink, errors, compressor: compressor!, dumpLevel, selection: kdumpSelection, onProgress: options.onProgress };
      kdump = await kdumpCode!.captureKdump(kdumpInput).catch((err) => {
        throw isSlimCoreError(err) ? err : new IoError(`writing ${sink?.name}: ${(err as Error).message}`, { cause: err });
      });
    } else {
      // What is read: each run of file bytes once, however many program headers point into it. Made here, not for the
      // kdump writer, which reads by page frame: at the cap these lists hold 128 Ki entries.
      const files = fileExtents(copy);
      const reads = files.extents;
      const skip = faultsByExtent(files, plan.faultMap.bySegment);
      // Only reads that skip pages (faults, or what a dump level leaves out) need it, and only they are told it is missing.
      const skips = skip.size > 0 || filter.outcome?.elf?.excludedIn !== undefined;
      const pieces = skips && !forward ? openPieceReader(options.onNotice) : undefined;
      // Chunks in flight at most: read ahead, queued between stages, and in the sink's buffer.
      const pool = sink.onWritten ? new ChunkPool(chunkSize, POOLED_CHUNKS) : undefined;
      if (pool) sink.onWritten?.((total) => pool.writtenUpTo(total));
      progress = { written: 0, onProgress: options.onProgress, pool };
      async function* events(): AsyncGenerator<DumpEvent> {
        yield { kind: 'prefix', prefix: outputPrefix, noteBytes: prefix.noteSegment };
        if (forward) {
          for await (const event of forward.segments(reads, chunkSize, pool)) {
            late?.observe(event);
            yield event;
          }
        } else yield* readSegmentsAt(source, { segments: reads, chunkSize, pageSize: prefix.pageSize, skip, errors, pool, excludedIn: filter.outcome?.elf?.excludedIn, mapped, pieces });
        // A slim dump from a pipe ends here, however much the producer still has to write.
        if (plan.mode === 'slim') await source.close();
      }
      await pipeline(
        Readable.from(events(), { objectMode: true, highWaterMark: QUEUED_CHUNKS }),
        chain(
          [
            noteInjector(plan.noteBytes),
            elfHeaderRewriter(copy),
            poisonPageSkipper(skip),
            dumpSerializer(progress),
          ],
          { writableHighWaterMark: QUEUED_CHUNKS, readableHighWaterMark: QUEUED_CHUNKS },
        ),
        sink.stream,
      ).catch((err) => {
        throw isSlimCoreError(err) ? err : new IoError(`writing ${sink?.name}: ${(err as Error).message}`, { cause: err });
      });

    }
    const listedInDump = errors.pages === 0 || canPatch;
    const notesOffset = kdump ? kdump.notesOffset : progress.layout?.notesOffset;
    if (errors.pages > 0 && canPatch && notesOffset !== undefined) {
      await patchReadErrors(sink, notesOffset, plan, prefix.notes.end, prefix.format.endian, errors);
    }
    const summary = filter.outcome?.summary;
    // The kdump writer put the same count in the FILTER note.
    if (kdump && summary?.pages.has(PageClassCode.ZERO)) summary.pages.set(PageClassCode.ZERO, kdump.zeroPages);
    const lateLog = late ? await finishLateLog(async () => late.read(), plan, sink, progress.layout, prefix.notes.end, prefix.format.endian, prefix.pageSize, options.onNotice) : undefined;
    const cause = lateLog?.cause ?? plan.causeAfterCopy(errors.pages);
    if (options.report) {
      await writeReport(options.report, {
        version: 1,
        input: source.name,
        output: sink.name,
        mode: plan.mode,
        cause,
        reader: describeReader(mapped),
        readErrors: {
          pages: errors.pages,
          listedInDump,
          ranges: errors.ranges.map((r) => ({ segment: r.segmentIndex, paddr: hex(r.paddr), length: hex(r.length), fileOffset: hex(r.fileOffset), error: r.error })),
        },
        omitted: [...plan.omitted.toArray(), ...(lateLog?.listedInDump ? lateLog.entries : [])].map((e) => ({ paddr: hex(e.paddr), length: hex(e.length), reason: e.reason })),
        ...(lateLog ? { kernelLogAfterCopy: lateLogReport(lateLog) } : {}),
      });
    }
    for (const range of errors.ranges) options.onNotice?.(`read error: zero-filled ${describeRange(range)}`);
    await sink.commit();
    if (filter.caveat && plan.mode === 'full') options.onNotice?.(filter.caveat);
    return {
      plan: { ...plan, cause },
      layout: progress.layout,
      bytesWritten: kdump ? kdump.size : progress.written,
      output: sink.name,
      input: source.name,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      readErrors: { pages: errors.pages, ranges: errors.ranges, listedInDump },
      filter: filter.outcome?.summary,
      lateKernelLog: lateLog,
      reader: describeReader(mapped),
      metadata,
    };
  } catch (err) {
    await sink?.abort().catch(() => undefined);
    throw err;
  } finally {
    await compressor?.then((c) => c.close(), () => undefined);
    await source.close();
  }
}
