// The default command: capture a vmcore from a path or stdin into a slim or full dump.

import type { Argv, CommandModule } from 'yargs';
import { capture, DEFAULT_CHUNK_SIZE } from '../pipeline/capture.js';
import { loadFaultSources } from '../faults/load-faults.js';
import { formatBytes, pathArgument, wholeNumberOption } from './format.js';
import { progressReporter } from './progress.js';
import { EXIT_INCOMPLETE_LIST, UsageError } from '../errors.js';
import { describeFailure, exitWithFailure, printDebugStack, type JsonResult } from './failure.js';
import { stopOnSignals } from './signals.js';
import { DEFAULT_MAX_READ_ERRORS } from '../sources/read-errors.js';
import { filterJson, formatFilterSummary } from '../inspect/filter-report.js';

/** Enough of a pipe for an ELF header and a few program headers. */
const MIN_LOOKAHEAD = 4096;
/** One page at least; the pool holds 4 chunks, so 64 MiB each is already twice the default's memory budget. */
const MIN_CHUNK_SIZE = 4096;
const MAX_CHUNK_SIZE = 64 << 20;
import { READER_CHOICES, type ReaderChoice } from '../sources/mapped-reader.js';
import { DEFAULT_QUEUE, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, type ChecksumMode } from '../sinks/s3-target.js';
import { parseSize } from './receive-command.js';
import { COMPRESSION_NAMES, type CompressionName } from '../kdump/compress.js';
import { defaultThreads, MAX_THREADS } from '../kdump/compress-pool.js';
import { DEFAULT_COMPRESSION } from '../pipeline/kdump-capture.js';

export interface CaptureArgs {
  input?: string;
  output?: string;
  mode: 'auto' | 'slim' | 'full';
  fault: string[];
  faults: string[];
  strict: boolean;
  quiet: boolean;
  json: boolean;
  sync: boolean;
  chunkSize: number;
  maxReadErrors: number;
  reader: ReaderChoice;
  report?: string;
  progress?: boolean;
  klog: boolean;
  slimKeep: 'log' | 'none';
  lookahead: number;
  name?: string;
  tokenFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
  sshOption: string[];
  dumpLevel: number;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Credentials?: string;
  s3Ca?: string;
  s3Checksums?: ChecksumMode;
  s3PartSize?: string;
  s3Queue?: number;
  s3Timeout?: number;
  s3Retries?: number;
  format: 'elf' | 'kdump';
  compress: CompressionName;
  threads?: number;
}

export const captureCommand: CommandModule<object, CaptureArgs> = {
  command: '$0 [input]',
  describe: 'Capture a vmcore (a path, /proc/vmcore, or stdin) into a slim or full dump',
  builder: (y: Argv) =>
    y
      .positional('input', { type: 'string', describe: 'vmcore to read: a file, a device, /proc/vmcore, or - for stdin (default)' })
      .option('output', { alias: 'o', type: 'string', describe: 'where to write: a file (written as a temporary file, then renamed), a device or FIFO, - for stdout (default), tcp://HOST[:PORT] or tls://HOST[:PORT] for `slim-core receive` there, ssh://[USER@]HOST[:PORT]/PATH (docs/network-protocol.md), or s3://BUCKET/KEY (docs/s3.md)' })
      .option('mode', { choices: ['auto', 'slim', 'full'] as const, default: 'auto' as const, describe: "slim: headers, notes and the kernel log's pages (see --slim-keep); full: all memory, faulty pages zero-filled; auto: slim after a fatal memory error, else full" })
      .option('dump-level', { alias: 'd', type: 'number', default: 0, describe: "leave out pages by class, as makedumpfile -d: 1 zero pages, 2 page cache, 4 private cache, 8 user data, 16 free pages (31 all); needs an input that can seek. Poisoned and offline pages are left out at every level" })
      .option('format', { choices: ['elf', 'kdump'] as const, default: 'elf' as const, describe: "elf: a plain ELF vmcore; kdump: makedumpfile's compressed format (flattened on stdout and ssh://; docs/kdump-format.md)" })
      .option('compress', { choices: COMPRESSION_NAMES, default: DEFAULT_COMPRESSION, describe: '--format kdump: how pages are compressed (a page is stored raw unless that makes it smaller)' })
      .option('threads', { type: 'number', describe: `--format kdump: worker threads that compress pages (default: one per core, here ${defaultThreads()}; 0: on the main thread, the default on one core); the file is the same whatever the count` })
      .option('fault', { type: 'string', array: true, default: [] as string[], describe: 'physical address PADDR[+LEN] to zero-fill (hex or decimal); repeatable' })
      .option('faults', { type: 'string', array: true, default: [] as string[], describe: 'file of faults: address lines, a JSON array of MCE records, or kernel log text with "mce: [Hardware Error]" lines' })
      .option('strict', { type: 'boolean', default: false, describe: 'treat every warning as an error (exit 3)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors' })
      .option('json', { type: 'boolean', default: false, describe: 'print a one-line JSON summary on stderr at the end' })
      .option('klog', { type: 'boolean', default: true, describe: "read the crashed kernel's log for machine checks and its panic line (--no-klog to skip)" })
      .option('slim-keep', { choices: ['log', 'none'] as const, default: 'log' as const, describe: "what a slim dump keeps besides headers and notes: the pages of the kernel's log, so that crash can show it, or nothing" })
      .option('lookahead', { type: 'number', default: 64 << 20, describe: 'bytes of a pipe that may be held in memory to find the headers, notes and kernel log; a log past them is a KLOG warning, read as the data streams past (docs/kernel-log.md)' })
      .option('max-read-errors', { type: 'number', default: DEFAULT_MAX_READ_ERRORS, describe: 'pages that may fail to read (each is zero-filled and listed) before the capture stops with exit 4; also the room reserved for them in a file dump' })
      .option('reader', { choices: READER_CHOICES, default: 'auto' as const, describe: 'how memory is read: mmap (a poisoned page is a SIGBUS that is survived: that page is zero-filled and listed), read (read(2)), or auto: mmap for /proc/vmcore when the native addon is built, read otherwise; --reader mmap also maps files and block devices (a pipe is always read)' })
      .option('report', { type: 'string', describe: 'write a JSON report (pages that failed to read, ranges omitted) to this file' })
      .option('progress', { type: 'boolean', describe: 'show progress on stderr (default: when stderr is a terminal; --no-progress to hide)' })
      .option('sync', { type: 'boolean', default: true, describe: 'fsync a file output before renaming it, and a block device before closing it (--no-sync to skip)' })
      .option('name', { type: 'string', describe: 'tcp://, tls://: the dump\'s file name on the receiver (default: this hostname and the UTC time)' })
      .option('token-file', { type: 'string', describe: 'tcp://, tls://: file holding the token the receiver expects' })
      .option('tls-ca', { type: 'string', describe: 'tls://: CA (PEM) to verify the receiver with (default: the system\'s)' })
      .option('tls-cert', { type: 'string', describe: 'tls://: client certificate (PEM), for a receiver started with --tls-ca' })
      .option('tls-key', { type: 'string', describe: 'tls://: private key (PEM) of --tls-cert' })
      .option('ssh-identity', { type: 'string', describe: 'ssh://: private key file for ssh -i' })
      .option('ssh-known-hosts', { type: 'string', describe: 'ssh://: known_hosts file to check the host key against (UserKnownHostsFile)' })
      .option('ssh-option', { type: 'string', array: true, default: [] as string[], describe: 'ssh://: an ssh -o option, Key=Value; repeatable' })
      .option('s3-endpoint', { type: 'string', describe: 's3://: the store\'s URL, http(s)://HOST[:PORT] (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)' })
      .option('s3-region', { type: 'string', describe: 's3://: region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)' })
      .option('s3-path-style', { type: 'boolean', describe: 's3://: path-style requests (http://HOST/BUCKET/KEY), as most stores other than AWS want' })
      .option('s3-credentials', { type: 'string', describe: 's3://: AWS shared credentials file ([default] or AWS_PROFILE\'s section); default: the SDK\'s chain (environment, ~/.aws, ...)' })
      .option('s3-ca', { type: 'string', describe: 's3://: CA (PEM) to verify an https endpoint with (--tls-ca works too)' })
      .option('s3-checksums', { choices: ['when-required', 'when-supported'] as const, describe: 's3://: request and response checksums (default when-required: Ceph RGW 16 rejects the SDK\'s streamed ones)' })
      .option('s3-part-size', { type: 'string', describe: 's3://: multipart part size, 8M to 32M (default 8M)' })
      .option('s3-queue', { type: 'number', describe: `s3://: parts uploading at once (default ${DEFAULT_QUEUE}; queue x part size at most 32 MiB)` })
      .option('s3-timeout', { type: 'number', describe: `s3://: seconds without progress before a request fails (default ${DEFAULT_TIMEOUT_S})` })
      .option('s3-retries', { type: 'number', describe: `s3://: retries of a failed request, with backoff, before the capture fails (default ${DEFAULT_RETRIES})` })
      .option('chunk-size', { type: 'number', default: DEFAULT_CHUNK_SIZE, hidden: true }) as unknown as Argv<CaptureArgs>,
  handler: async (args) => {
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
  },
};

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
      s3: {
        endpoint: args.s3Endpoint,
        region: args.s3Region,
        pathStyle: args.s3PathStyle,
        credentialsFile: args.s3Credentials,
        ca: args.s3Ca,
        checksums: args.s3Checksums,
        partSize: args.s3PartSize === undefined ? undefined : parseSize(args.s3PartSize, '--s3-part-size'),
        queue: args.s3Queue,
        timeoutSeconds: args.s3Timeout,
        retries: args.s3Retries,
      },
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
}
