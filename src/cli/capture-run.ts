// What the capture command does once its options are parsed: runs the pipeline and reports the outcome.

import { capture } from '../pipeline/capture.js';
import { loadFaultSources } from '../faults/load-faults.js';
import { formatBytes, pathArgument, wholeNumberOption } from './format.js';
import { progressReporter } from './progress.js';
import { EXIT_INCOMPLETE_LIST, UsageError } from '../errors.js';
import { describeFailure, exitWithFailure, printDebugStack, type JsonResult } from './failure.js';
import { stopOnSignals } from './signals.js';
import { filterJson, formatFilterSummary } from '../inspect/filter-report.js';
import type { CaptureArgs } from './capture-command.js';
import { s3OptionsOf } from './s3-options.js';
import { MAX_THREADS } from '../kdump/choices.js';

/** Enough of a pipe for an ELF header and a few program headers. */
const MIN_LOOKAHEAD = 4096;
/** One page at least; the pool holds 4 chunks, so 64 MiB each is already twice the default's memory budget. */
const MIN_CHUNK_SIZE = 4096;
const MAX_CHUNK_SIZE = 64 << 20;

export async function runCaptureCommand(args: CaptureArgs): Promise<void> {
  const stopHandlingSignals = stopOnSignals(args.json);
  try {
    await runCapture(args);
  } catch (err) {
    // With --json the failure is an object too; without, main prints the one line.
    if (!args.json) throw err;
    printDebugStack(err);
    exitWithFailure(describeFailure(err), true);
  } finally {
    stopHandlingSignals();
  }
}

async function runCapture(args: CaptureArgs): Promise<void> {
  const say = (line: string) => {
    if (!args.quiet && !args.json) process.stderr.write(`slim-core: ${line}\n`);
  };
  const sources = await loadFaultSources(args.fault, args.faults);
  wholeNumberOption('max-read-errors', args.maxReadErrors, 0);
  if (args.format !== 'kdump' && process.argv.some((a) => a === '--compress' || a.startsWith('--compress='))) throw new UsageError('--compress needs --format kdump');
  wholeNumberOption('lookahead', args.lookahead, MIN_LOOKAHEAD);
  if (args.threads !== undefined) {
    if (args.format !== 'kdump') throw new UsageError('--threads needs --format kdump');
    wholeNumberOption('threads', args.threads, 0, MAX_THREADS);
  }
  wholeNumberOption('chunk-size', args.chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const showProgress = !args.quiet && !args.json && (args.progress ?? Boolean(process.stderr.isTTY));
  const progress = showProgress ? progressReporter() : undefined;
  const result = await capture({
    input: pathArgument(args.input, 'input'),
    output: pathArgument(args.output, 'output'),
    mode: args.mode,
    ...sources,
    strict: args.strict,
    chunkSize: args.chunkSize,
    sync: args.sync,
    maxReadErrors: args.maxReadErrors,
    reader: args.reader,
    kernelLog: args.klog,
    slimKeep: args.slimKeep,
    lookahead: args.lookahead,
    dumpLevel: args.dumpLevel,
    format: args.format,
    compress: args.compress,
    threads: args.threads,
    name: args.name,
    tokenFile: args.tokenFile,
    transport: {
      tlsCa: args.tlsCa,
      tlsCert: args.tlsCert,
      tlsKey: args.tlsKey,
      sshIdentity: args.sshIdentity,
      sshKnownHosts: args.sshKnownHosts,
      sshOptions: args.sshOption,
      s3: s3OptionsOf(args),
    },
    report: args.report,
    onProgress: progress?.update,
    onWarning: (w) => {
      if (!args.quiet) process.stderr.write(`slim-core: warning: ${w.message}\n`);
    },
    onNotice: say,
  });
  progress?.finish();
  const { plan, readErrors } = result;
  const lateUnlisted = result.lateKernelLog !== undefined && !result.lateKernelLog.listedInDump;
  const complete = readErrors.listedInDump && !lateUnlisted;
  if (!complete) process.exitCode = EXIT_INCOMPLETE_LIST;
  say(`${plan.mode} dump (${plan.modeReason}) written to ${result.output}: ${formatBytes(result.bytesWritten)} in ${result.seconds.toFixed(2)} s`);
  say(`cause note: ${plan.cause}`);
  if (result.filter) say(`page filter: ${formatFilterSummary(result.filter)}`);
  if (lateUnlisted) {
    process.stderr.write(
      `slim-core: the crashed kernel's log, read as it streamed past, names machine checks whose pages this sink cannot zero or list${args.report ? ` (see ${args.report})` : ''}: exit 5\n`,
    );
  }
  if (!readErrors.listedInDump) {
    process.stderr.write(
      `slim-core: ${readErrors.pages} page(s) failed to read and were zero-filled; ${readErrors.ranges.length} range(s) are listed ${args.report ? `in ${args.report}` : 'above'}, not in the dump (its OMITTED note is flagged incomplete): exit 5\n`,
    );
  }
  // Last, so that the summary is the last line on stderr (docs/exit-codes.md).
  if (args.json) {
    process.stderr.write(
      JSON.stringify({
        result: (complete ? 'ok' : 'ok-list-in-report') satisfies JsonResult,
        exitCode: complete ? 0 : EXIT_INCOMPLETE_LIST,
        mode: plan.mode,
        modeReason: plan.modeReason,
        input: result.input,
        output: result.output,
        bytes: result.bytesWritten,
        seconds: Number(result.seconds.toFixed(3)),
        omitted: plan.omitted.length,
        records: plan.records.length,
        reader: result.reader,
        readErrorPages: readErrors.pages,
        // What the failed pages failed with: errno names, or SIGBUS for a page that faulted under the mapping.
        readErrorKinds: [...new Set(readErrors.ranges.flatMap((r) => r.error.split(', ')))],
        readErrorsListedInDump: readErrors.listedInDump,
        cause: plan.cause,
        filter: result.filter ? filterJson(result.filter) : null,
        ...(result.metadata && { metadata: result.metadata }),
      }) + '\n',
    );
  }
}
