// slim-core's library API: the capture pipeline, its stages, inspect, and the pure codecs.

export { capture, DEFAULT_CHUNK_SIZE, type CaptureOptions, type CaptureResult } from './pipeline/capture.js';
export { READER_CHOICES, type ReaderChoice } from './sources/mapped-reader.js';
export { planCapture, type CapturePlan, type PlanInput, type RequestedMode, type SourcedRecord } from './pipeline/plan.js';
export type { DumpEvent, PrefixEvent, HeaderEvent, DataEvent } from './stream/events.js';
export { dumpSerializer } from './pipeline/serializer.js';
export { noteInjector } from '../transforms/note-injector.js';
export { elfHeaderRewriter } from '../transforms/elf-header-rewriter.js';
export { poisonPageSkipper } from '../transforms/poison-page-skipper.js';
export { readDumpPrefix, type DumpPrefix, type RangeReader } from './dump/prefix.js';
export { ProgramHeaderTable, ProgramHeaderTableBuilder } from './elf/program-header-table.js';
export { dataSegments, planOutputLayout, type DumpMode, type OutputLayout, type PlannedLayout } from './dump/layout.js';
export { SegmentList, SegmentListBuilder, type DataSegment } from './dump/segment-list.js';
export { inspectDump, formatInspect, formatInspectPieces, type InspectReport } from './inspect/inspect.js';
export { SegmentRows, jsonPieces, type SegmentRow } from './inspect/segment-rows.js';
export { normalizeFaults, mapFaults, mergedRanges, type FaultMap, type NormalizedFaults } from './faults/fault-map.js';
export { FaultList, MAX_FAULTS, type FaultRange } from './faults/fault-list.js';
export { parseFaultArg, parseFaultsFile, type UserFault } from './faults/fault-input.js';
export { loadFaultSources } from './faults/load-faults.js';
export * from './mce/record.js';
export { judgeMce, statusBitNames, describeMceCause, type MceVerdict, type RecordOrigin } from './mce/rules.js';
export { parseMceLog } from './mce/log-parser.js';
export * from './notes/slimcore-notes.js';
export * from './errors.js';
export { startReceiver } from './net/receiver.js';
export { openSink, type OutputSpec } from './sinks/open-sink.js';
export { loadKernelLog, findKernelLog } from './pipeline/kernel-log-source.js';
export { readKernelLog, formatDmesg, type KernelLog } from './klog/kernel-log.js';
