// The timed scenarios and baselines of each input, as bash pipelines around the built CLI, cat, a Node loop and makedumpfile.

import path from 'node:path';
import type { RunSpec } from './measure.js';
import { shellQuote as q } from './measure.js';
import type { HelperScripts } from './helper-scripts.js';

export interface Scenario {
  id: string;
  label: string;
  tool: 'slim-core' | 'baseline';
  /** False for slim runs: they stop after the notes. */
  readsWholeInput: boolean;
  spec: RunSpec;
  /** Ids of baselines (or other scenarios) of the same input whose throughput this one is divided by. */
  comparedWith: string[];
  /** Ids whose output size this one's is divided by (kdump against makedumpfile). */
  sizeComparedWith?: string[];
}

export interface ScenarioContext {
  cli: string;
  helpers: HelperScripts;
  scratchDir: string;
  inputPath: string;
  inputBytes: number;
  /** PT_LOAD bytes: a full dump holds at least this much. */
  dataBytes: number;
}

const NODE = q(process.execPath);
// A producer feeding slim-core through a pipe may be cut short once the notes are in: EPIPE (1) or SIGPIPE (141).
const producerMayBeCut = (stage: number, code: number): boolean => code === 0 || (stage === 0 && (code === 1 || code === 141));

function summary(stderr: string): Record<string, unknown> | undefined {
  const line = stderr.split('\n').reverse().find((l) => l.startsWith('{"result"'));
  return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
}

/** Checks slim-core's --json summary: the mode it chose, a full dump's size, the pages it left out, what read the data. */
export function expectSummary(mode: 'slim' | 'full', minBytes: number, omitted?: number, reader?: 'mmap' | 'read'): (stderr: string) => string | undefined {
  return (stderr) => {
    const s = summary(stderr);
    if (!s) return 'no --json summary on stderr';
    if (s.mode !== mode) return `wrote a ${String(s.mode)} dump, expected ${mode}`;
    if (reader !== undefined && s.reader !== reader) return `read with ${String(s.reader)}, expected ${reader}`;
    if (typeof s.bytes !== 'number' || s.bytes < minBytes) return `wrote ${String(s.bytes)} bytes, expected at least ${minBytes}`;
    if (omitted !== undefined && s.omitted !== omitted) return `left out ${String(s.omitted)} ranges, expected ${omitted}`;
    return undefined;
  };
}

export function slimCore(ctx: ScenarioContext, args: string): string {
  return `${NODE} ${q(ctx.cli)} ${args} --json`;
}

export function outputPath(ctx: ScenarioContext, id: string): string {
  return path.join(ctx.scratchDir, `${id}.out`);
}

function baseline(id: string, label: string, spec: RunSpec): Scenario {
  return { id, label, tool: 'baseline', readsWholeInput: true, comparedWith: [], spec };
}

function ours(id: string, label: string, comparedWith: string[], spec: RunSpec, readsWholeInput = true): Scenario {
  return { id, label, tool: 'slim-core', readsWholeInput, comparedWith, spec };
}

/** cat and the plain Node loop, to /dev/null, to a new file and through a pipe. */
export function copyBaselines(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  const loop = `${NODE} ${q(ctx.helpers.nodeCopyLoop)}`;
  const catFile = outputPath(ctx, 'cat-file');
  const loopFile = outputPath(ctx, 'node-file');
  const toFile = (file: string) => ({ outputs: [file], minOutputBytes: ctx.inputBytes });
  return [
    baseline('cat-devnull', '`cat IN > /dev/null`', { script: (t) => `${t(`cat ${IN}`)} > /dev/null`, outputs: [] }),
    baseline('cat-file', '`cat IN > FILE`', { script: (t) => `${t(`cat ${IN}`)} > ${q(catFile)}`, ...toFile(catFile) }),
    baseline('cat-pipe', '`cat IN | cat | cat > /dev/null`', { script: (t) => `cat ${IN} | ${t('cat')} | cat > /dev/null`, outputs: [] }),
    baseline('node-devnull', 'Node loop → /dev/null', { script: (t) => t(`${loop} ${IN} /dev/null`), outputs: [] }),
    baseline('node-file', 'Node loop → FILE', { script: (t) => t(`${loop} ${IN} ${q(loopFile)}`), ...toFile(loopFile) }),
    baseline('node-pipe', '`cat IN |` Node loop `| cat > /dev/null`', { script: (t) => `cat ${IN} | ${t(`${loop} - -`)} | cat > /dev/null`, outputs: [] }),
  ];
}

/** Full mode to /dev/null, to a new file, and stdin to stdout. */
export function fullScenarios(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  const file = outputPath(ctx, 'full-file');
  const check = expectSummary('full', ctx.dataBytes);
  return [
    ours('full-devnull', 'full → /dev/null', ['node-devnull', 'cat-devnull'], { script: (t) => t(slimCore(ctx, `${IN} --mode full -o /dev/null`)), outputs: [], check }),
    ours('full-file', 'full → new FILE (`--no-sync`)', ['node-file', 'cat-file'], {
      script: (t) => t(slimCore(ctx, `${IN} --mode full -o ${q(file)} --no-sync`)), outputs: [file], check, minOutputBytes: ctx.dataBytes,
    }),
    ours('full-pipe', '`cat IN |` full `| cat > /dev/null`', ['node-pipe', 'cat-pipe'], {
      script: (t) => `cat ${IN} | ${t(slimCore(ctx, '--mode full'))} | cat > /dev/null`, outputs: [], check,
    }),
  ];
}

/** `-d 31` to a new file beside `makedumpfile -E -d 31` (issue #9): both cut at the same PT_LOADs. */
export function filterScenarios(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  const ourFile = outputPath(ctx, 'full-d31-file');
  const theirs = outputPath(ctx, 'makedumpfile-d31');
  // A filtered dump is at least a sixth of the fixture: the kernel's own pages (measured: 102 MB of 423 MB).
  const minBytes = Math.floor(ctx.dataBytes / 6);
  return [
    baseline('makedumpfile-d31', '`makedumpfile -E -d 31 IN FILE`', {
      script: (t) => `${t(`makedumpfile -E -d 31 ${q(ctx.inputPath)} ${q(theirs)}`)} > /dev/null`, outputs: [theirs], minOutputBytes: minBytes,
    }),
    ours('full-d31-file', 'full `-d 31` → new FILE (`--no-sync`)', ['makedumpfile-d31', 'cat-file'], {
      script: (t) => t(slimCore(ctx, `${IN} --mode full -d 31 -o ${q(ourFile)} --no-sync`)), outputs: [ourFile], check: expectSummary('full', minBytes), minOutputBytes: minBytes,
    }),
  ];
}

/** Full mode read through mmap and through read(2), to /dev/null and to a new file: mmap against pread, and both against cat. */
export function readerScenarios(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  return (['mmap', 'read'] as const).flatMap((reader) => {
    const file = outputPath(ctx, `full-${reader}-file`);
    const check = expectSummary('full', ctx.dataBytes, undefined, reader);
    return [
      ours(`full-${reader}-devnull`, `full, \`--reader ${reader}\` → /dev/null`, [...(reader === 'mmap' ? ['full-read-devnull'] : []), 'cat-devnull'], {
        script: (t) => t(slimCore(ctx, `${IN} --mode full --reader ${reader} -o /dev/null`)), outputs: [], check,
      }),
      ours(`full-${reader}-file`, `full, \`--reader ${reader}\` → new FILE (\`--no-sync\`)`, [...(reader === 'mmap' ? ['full-read-file'] : []), 'cat-file'], {
        script: (t) => t(slimCore(ctx, `${IN} --mode full --reader ${reader} -o ${q(file)} --no-sync`)), outputs: [file], check, minOutputBytes: ctx.dataBytes,
      }),
    ];
  });
}

export function faultScenario(ctx: ScenarioContext, faultsFile: string, faultCount: number, asked: number): Scenario {
  const capped = faultCount < asked ? ` (every other page: the input is too small for ${asked.toLocaleString('en')})` : '';
  return ours('full-faults', `full, ${faultCount.toLocaleString('en')} faults${capped} → /dev/null`, ['full-devnull'], {
    script: (t) => t(slimCore(ctx, `${q(ctx.inputPath)} --mode full --faults ${q(faultsFile)} -o /dev/null`)),
    outputs: [],
    check: expectSummary('full', ctx.dataBytes, faultCount),
  });
}

/** Slim mode from the file and from a pipe whose producer slim-core leaves as soon as the notes are in. */
export function slimScenarios(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  const fileOut = outputPath(ctx, 'slim-file');
  const pipeOut = outputPath(ctx, 'slim-pipe');
  const check = expectSummary('slim', 1);
  return [
    ours('slim-file', 'slim, from the file → FILE', [], { script: (t) => t(slimCore(ctx, `${IN} --mode slim -o ${q(fileOut)} --no-sync`)), outputs: [fileOut], check }, false),
    ours('slim-pipe', 'slim, `cat IN |` → FILE', [], {
      script: (t) => `cat ${IN} | ${t(slimCore(ctx, `--mode slim -o ${q(pipeOut)} --no-sync`))}`, outputs: [pipeOut], check, allowedStatus: producerMayBeCut,
    }, false),
  ];
}

export function slowSinkScenario(ctx: ScenarioContext, bytesPerSecond: number): Scenario {
  const reader = `${NODE} ${q(ctx.helpers.throttledReader)} ${bytesPerSecond}`;
  return ours('full-slow-sink', `full \`| reader at ${bytesPerSecond / 1e6} MB/s\``, [], {
    script: (t) => `${t(slimCore(ctx, `${q(ctx.inputPath)} --mode full`))} | ${reader}`, outputs: [], check: expectSummary('full', ctx.dataBytes),
  });
}

/** makedumpfile keeps every page with -d 0; it needs real kernel data, so only the real fixture gets this. */
export function makedumpfileBaseline(ctx: ScenarioContext): Scenario {
  const out = outputPath(ctx, 'makedumpfile');
  // The output size catches a segment dropped while makedumpfile still says "Completed".
  return baseline('makedumpfile', '`makedumpfile -E -d 0 IN FILE`', {
    script: (t) => `${t(`makedumpfile -E -d 0 ${q(ctx.inputPath)} ${q(out)}`)} > /dev/null`, outputs: [out], minOutputBytes: ctx.dataBytes,
  });
}
