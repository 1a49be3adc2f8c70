// The default command: capture a vmcore from a path or stdin into a slim or full dump.

import type { Argv, CommandModule } from 'yargs';
import { capture, DEFAULT_CHUNK_SIZE } from '../pipeline/capture.js';
import { loadFaultSources } from '../faults/load-faults.js';
import { formatBytes, pathArgument } from './format.js';
import { progressReporter } from './progress.js';
import { EXIT_INCOMPLETE_LIST, UsageError } from '../errors.js';
import { DEFAULT_MAX_READ_ERRORS } from '../sources/read-errors.js';
import { COMPRESSION_NAMES, type CompressionName } from '../kdump/compress.js';
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
  format: 'elf' | 'kdump';
  compress: CompressionName;
}

export const captureCommand: CommandModule<object, CaptureArgs> = {
  command: '$0 [input]',
  describe: 'Capture a vmcore (a path, /proc/vmcore, or stdin) into a slim or full dump',
  builder: (y: Argv) =>
    y
      .positional('input', { type: 'string', describe: 'vmcore to read: a file, a device, /proc/vmcore, or - for stdin (default)' })
      .option('output', { alias: 'o', type: 'string', describe: 'where to write: a file (written as a temporary file, then renamed), a device or FIFO, - for stdout (default), tcp://HOST[:PORT] or tls://HOST[:PORT] for `slim-core receive` there, or ssh://[USER@]HOST[:PORT]/PATH (docs/network-protocol.md)' })
      .option('format', { choices: ['elf', 'kdump'] as const, default: 'elf' as const, describe: "elf: a plain ELF vmcore; kdump: makedumpfile's compressed format (flattened on stdout and ssh://; docs/kdump-format.md)" })
      .option('compress', { choices: COMPRESSION_NAMES, default: DEFAULT_COMPRESSION, describe: '--format kdump: how pages are compressed (a page is stored raw unless that makes it smaller)' })
      .option('mode', { choices: ['auto', 'slim', 'full'] as const, default: 'auto' as const, describe: 'slim: headers and notes only; full: all memory, faulty pages zero-filled; auto: slim after a fatal memory error, else full' })
      .option('fault', { type: 'string', array: true, default: [] as string[], describe: 'physical address PADDR[+LEN] to zero-fill (hex or decimal); repeatable' })
      .option('faults', { type: 'string', array: true, default: [] as string[], describe: 'file of faults: address lines, a JSON array of MCE records, or kernel log text with "mce: [Hardware Error]" lines' })
      .option('strict', { type: 'boolean', default: false, describe: 'treat every warning as an error (exit 3)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors' })
      .option('json', { type: 'boolean', default: false, describe: 'print a one-line JSON summary on stderr at the end' })
      .option('klog', { type: 'boolean', default: true, describe: "read the crashed kernel's log for machine checks and its panic line (--no-klog to skip)" })
      .option('slim-keep', { choices: ['log', 'none'] as const, default: 'log' as const, describe: "what a slim dump keeps besides headers and notes: the pages of the kernel's log, so that crash can show it, or nothing" })
      .option('lookahead', { type: 'number', default: 64 << 20, describe: 'bytes of a pipe that may be held in memory to find the headers, notes and kernel log' })
      .option('max-read-errors', { type: 'number', default: DEFAULT_MAX_READ_ERRORS, describe: 'pages that may fail to read (each is zero-filled and listed) before the capture stops with exit 4; also the room reserved for them in a file dump' })
      .option('report', { type: 'string', describe: 'write a JSON report (pages that failed to read, ranges omitted) to this file' })
      .option('progress', { type: 'boolean', describe: 'show progress on stderr (default: when stderr is a terminal; --no-progress to hide)' })
      .option('sync', { type: 'boolean', default: true, describe: 'fsync a file output before renaming it (--no-sync to skip)' })
      .option('name', { type: 'string', describe: 'tcp://, tls://: the dump\'s file name on the receiver (default: this hostname and the UTC time)' })
      .option('token-file', { type: 'string', describe: 'tcp://, tls://: file holding the token the receiver expects' })
      .option('tls-ca', { type: 'string', describe: 'tls://: CA (PEM) to verify the receiver with (default: the system\'s)' })
      .option('tls-cert', { type: 'string', describe: 'tls://: client certificate (PEM), for a receiver started with --tls-ca' })
      .option('tls-key', { type: 'string', describe: 'tls://: private key (PEM) of --tls-cert' })
      .option('ssh-identity', { type: 'string', describe: 'ssh://: private key file for ssh -i' })
      .option('ssh-known-hosts', { type: 'string', describe: 'ssh://: known_hosts file to check the host key against (UserKnownHostsFile)' })
      .option('ssh-option', { type: 'string', array: true, default: [] as string[], describe: 'ssh://: an ssh -o option, Key=Value; repeatable' })
      .option('chunk-size', { type: 'number', default: DEFAULT_CHUNK_SIZE, hidden: true }) as unknown as Argv<CaptureArgs>,
  handler: async (args) => {
    const say = (line: string) => {
      if (!args.quiet && !args.json) process.stderr.write(`slim-core: ${line}\n`);
    };
    const sources = await loadFaultSources(args.fault, args.faults);
    if (!Number.isInteger(args.maxReadErrors) || args.maxReadErrors < 0) throw new UsageError(`--max-read-errors must be a whole number, not ${args.maxReadErrors}`);
    if (args.format !== 'kdump' && process.argv.some((a) => a === '--compress' || a.startsWith('--compress='))) throw new UsageError('--compress needs --format kdump');
    const showProgress = !args.quiet && !args.json && (args.progress ?? Boolean(process.stderr.isTTY));
    const progress = showProgress ? progressReporter() : undefined;
    const result = await capture({
      input: pathArgument(args.input, 'input'),
      output: pathArgument(args.output, 'output'),
      mode: args.mode,
      format: args.format,
      compress: args.compress,
      ...sources,
      strict: args.strict,
      chunkSize: args.chunkSize,
      sync: args.sync,
      maxReadErrors: args.maxReadErrors,
      kernelLog: args.klog,
      slimKeep: args.slimKeep,
      lookahead: args.lookahead,
      name: args.name,
      tokenFile: args.tokenFile,
      transport: { tlsCa: args.tlsCa, tlsCert: args.tlsCert, tlsKey: args.tlsKey, sshIdentity: args.sshIdentity, sshKnownHosts: args.sshKnownHosts, sshOptions: args.sshOption },
      report: args.report,
      onProgress: progress?.update,
      onWarning: (w) => {
        if (!args.quiet) process.stderr.write(`slim-core: warning: ${w.message}\n`);
      },
      onNotice: say,
    });
    progress?.finish();
    const { plan, readErrors } = result;
    if (!readErrors.listedInDump) process.exitCode = EXIT_INCOMPLETE_LIST;
    if (args.json) {
      process.stderr.write(
        JSON.stringify({
          result: readErrors.listedInDump ? 'ok' : 'complete, read errors listed only in the report',
          mode: plan.mode,
          modeReason: plan.modeReason,
          input: result.input,
          output: result.output,
          bytes: result.bytesWritten,
          seconds: Number(result.seconds.toFixed(3)),
          omitted: plan.omitted.length,
          records: plan.records.length,
          readErrorPages: readErrors.pages,
          readErrorsListedInDump: readErrors.listedInDump,
          cause: plan.cause,
        }) + '\n',
      );
    }
    say(`${plan.mode} dump (${plan.modeReason}) written to ${result.output}: ${formatBytes(result.bytesWritten)} in ${result.seconds.toFixed(2)} s`);
    say(`cause note: ${plan.cause}`);
    if (!readErrors.listedInDump) {
      process.stderr.write(
        `slim-core: ${readErrors.pages} page(s) failed to read and were zero-filled; ${readErrors.ranges.length} range(s) are listed ${args.report ? `in ${args.report}` : 'above'}, not in the dump (its OMITTED note is flagged incomplete): exit 5\n`,
      );
    }
  },
};
