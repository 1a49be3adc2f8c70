// The capture pipeline, assembled in one place: source, prefix, plan, transforms, serializer, sink.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { BadInputError, IoError, isSlimCoreError, makeWarner, type WarningHandler } from '../errors.js';
import { dataSegments, forwardPassObstacle, type DataSegment, type OutputLayout } from '../dump/layout.js';
import { readDumpPrefix, type DumpPrefix } from '../dump/prefix.js';
import { openSource, readFully, type ByteSource } from '../sources/byte-source.js';
import { ForwardReader } from '../sources/forward-reader.js';
import { positionalRangeReader, readSegmentsAt } from '../sources/positional-reader.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import { openSink } from '../sinks/open-sink.js';
import { noteInjector } from '../../transforms/note-injector.js';
import { elfHeaderRewriter } from '../../transforms/elf-header-rewriter.js';
import { poisonPageSkipper } from '../../transforms/poison-page-skipper.js';
import { dumpSerializer, type SerializerProgress } from './serializer.js';
import { planCapture, type CapturePlan, type RequestedMode, type SourcedRecord } from './plan.js';
import type { DataEvent, DumpEvent } from './events.js';
import type { UserFault } from '../faults/fault-input.js';

export const DEFAULT_CHUNK_SIZE = 1 << 20;
/** Objects queued between stages; each is at most one chunk, so this bounds buffering in bytes. */
const QUEUED_CHUNKS = 4;

export interface CaptureOptions {
  /** A path, or '-'/undefined for stdin. */
  input?: string;
  /** A path, or '-'/undefined for stdout. */
  output?: string;
  mode?: RequestedMode;
  userFaults?: UserFault[];
  extraRecords?: SourcedRecord[];
  panicLine?: string;
  strict?: boolean;
  onWarning?: WarningHandler;
  onNotice?: (line: string) => void;
  chunkSize?: number;
  omittedReserve?: number;
  sync?: boolean;
}

export interface CaptureResult {
  plan: CapturePlan;
  layout?: OutputLayout;
  bytesWritten: number;
  output: string;
  input: string;
  seconds: number;
}

async function readPrefix(source: ByteSource): Promise<{ prefix: DumpPrefix; forward?: ForwardReader }> {
  if (source.seekable) return { prefix: await readDumpPrefix(positionalRangeReader(source)) };
  const forward = new ForwardReader((buf, offset, length) => readFully(source, buf, offset, length, null));
  return { prefix: await readDumpPrefix(forward.rangeReader()), forward };
}

function dataEvents(source: ByteSource, forward: ForwardReader | undefined, segments: readonly DataSegment[], chunkSize: number): AsyncGenerator<DataEvent> {
  return forward ? forward.segments(segments, chunkSize) : readSegmentsAt(source, segments, chunkSize);
}

export async function capture(options: CaptureOptions): Promise<CaptureResult> {
  const started = process.hrtime.bigint();
  const warn = makeWarner(options.onWarning, options.strict ?? false);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const source = await openSource(options.input);
  let sink: DumpSink | undefined;
  try {
    const { prefix, forward } = await readPrefix(source);
    if (prefix.badPageSize !== undefined) {
      warn({ code: 'BAD_PAGESIZE', message: `VMCOREINFO PAGESIZE=${prefix.badPageSize} is not a usable page size; using ${prefix.pageSize}` });
    }
    const segments = dataSegments(prefix, source.size);
    sink = await openSink({ output: options.output, sync: options.sync });
    const plan = planCapture(prefix, segments, {
      mode: options.mode ?? 'auto',
      userFaults: options.userFaults ?? [],
      extraRecords: options.extraRecords ?? [],
      omittedReserve: options.omittedReserve ?? 0,
      panicLine: options.panicLine,
      onWarning: warn,
      onNotice: options.onNotice,
    });
    if (forward && plan.mode === 'full') {
      const obstacle = forwardPassObstacle(segments);
      if (obstacle) throw new BadInputError(`${obstacle}: this layout must be read from a file or device, not a pipe`);
    }
    // A slim dump needs nothing more from the input: closing it now lets a pipe's producer see EPIPE.
    if (plan.mode === 'slim') await source.close();

    const progress: SerializerProgress = { written: 0 };
    async function* events(): AsyncGenerator<DumpEvent> {
      yield { kind: 'prefix', prefix, noteBytes: prefix.noteSegment };
      if (plan.mode === 'full') yield* dataEvents(source, forward, segments, chunkSize);
    }
    await pipeline(
      Readable.from(events(), { objectMode: true, highWaterMark: QUEUED_CHUNKS }),
      chain(
        [
          noteInjector(plan.noteBytes),
          elfHeaderRewriter(segments, plan.mode),
          poisonPageSkipper(plan.faultMap.bySegment),
          dumpSerializer(progress),
        ],
        { writableHighWaterMark: QUEUED_CHUNKS, readableHighWaterMark: QUEUED_CHUNKS },
      ),
      sink.stream,
    ).catch((err) => {
      throw isSlimCoreError(err) ? err : new IoError(`writing ${sink?.name}: ${(err as Error).message}`, { cause: err });
    });
    await sink.commit();
    return {
      plan,
      layout: progress.layout,
      bytesWritten: progress.written,
      output: sink.name,
      input: source.name,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } catch (err) {
    await sink?.abort().catch(() => undefined);
    throw err;
  } finally {
    await source.close();
  }
}
