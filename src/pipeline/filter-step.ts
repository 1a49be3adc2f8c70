// Decides whether the page filter runs for this capture, runs it, and turns its findings into the plan's inputs.

import { BadInputError, UsageError, type WarningHandler } from '../errors.js';
import type { SegmentList } from '../dump/segment-list.js';
import type { DumpPrefix } from '../dump/prefix.js';
import { FaultList } from '../faults/fault-list.js';
import { encodeFilterNote, FilterFlag } from '../notes/filter-note.js';
import type { ByteSource } from '../sources/byte-source.js';
import type { FilterOutcome } from './page-filter.js';
import { draftPlan, type PlanFilter, type PlanInput } from './plan.js';

export const MAX_DUMP_LEVEL = 31;

export interface FilterStepInput {
  prefix: DumpPrefix;
  source: ByteSource;
  /** Read in one forward pass (a pipe): page descriptors are out of reach. */
  pipe: boolean;
  segments: SegmentList;
  dumpLevel: number;
  format: 'elf' | 'kdump';
  maxReadErrors: number;
  planInput: PlanInput;
  warn: WarningHandler;
  onNotice?: (line: string) => void;
}

export function checkDumpLevel(level: number, pipe: boolean): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_DUMP_LEVEL) throw new UsageError(`--dump-level must be a whole number from 0 to ${MAX_DUMP_LEVEL}, not ${level}`);
  if (pipe && level !== 0) {
    throw new UsageError(`--dump-level ${level} needs an input that can seek (a file, a device or /proc/vmcore): the page descriptors it reads lie all over memory, and a pipe is read once`);
  }
}

/** The page filter's findings for the plan, or undefined when it does not run (a slim dump, a pipe, no page flags at level 0). */
export async function pageFilterStep(input: FilterStepInput): Promise<{ plan?: PlanFilter; outcome?: FilterOutcome; caveat?: string }> {
  const { prefix, dumpLevel, warn } = input;
  const hasPageFlags = prefix.vmcoreinfo?.has('NUMBER(PG_hwpoison)') ?? false;
  // Said once the dump is written, so that an error stays the one line printed.
  if (input.pipe) return hasPageFlags ? { caveat: 'poisoned pages could not be checked on a pipe: page flags need an input that can seek (a file, a device or /proc/vmcore)' } : {};
  // The mode comes first: a slim dump copies no memory, so nothing needs classifying.
  if (dumpLevel === 0 && !hasPageFlags) return {};
  const draft = draftPlan(prefix, input.planInput);
  if (draft.mode !== 'full') return {};
  const knownBad = draft.knownBad;
  let outcome;
  try {
    // The memory model loads only when pages are classified: never for a slim dump.
    const { runPageFilter } = await import('./page-filter.js');
    outcome = await runPageFilter({ prefix, source: input.source, dumpLevel, knownBad, format: input.format, maxReadErrors: input.maxReadErrors });
  } catch (err) {
    // At level 0 the walk only looks for poisoned pages: a dump whose page descriptors are broken is still worth having.
    if (dumpLevel !== 0 || !(err instanceof BadInputError)) throw err;
    warn({ code: 'PAGE_FILTER', message: `cannot check the page flags for poisoned pages: ${err.message}; going on without` });
    return {};
  }
  if ('unavailable' in outcome) {
    if (dumpLevel === 0) return { caveat: `page flags could not be checked for ${outcome.unavailable}: poisoned pages are known only from machine checks, the log and --fault` };
    warn({ code: 'PAGE_FILTER', message: `page filtering is not available for ${outcome.unavailable}: nothing is left out` });
    const note = encodeFilterNote({ dumpLevel, flags: FilterFlag.NOT_FILTERED, pages: new Map() }, prefix.format.endian);
    return { plan: { faults: new FaultList(), note } };
  }
  const note = encodeFilterNote(outcome.summary, prefix.format.endian);
  return {
    outcome,
    plan: { faults: outcome.faults, note, table: outcome.elf?.table, sourceSegments: outcome.elf ? input.segments : undefined },
  };
}

