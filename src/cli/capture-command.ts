// The default command's options (capture a vmcore into a slim or full dump); the pipeline loads only when it runs.

import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION } from '../pipeline/capture-defaults.js';
import { DEFAULT_MAX_READ_ERRORS } from '../sources/read-errors.js';
import { READER_CHOICES, type ReaderChoice } from '../sources/mapped-reader.js';
import { withS3Options, type S3Args } from './s3-options.js';
import { COMPRESSION_NAMES, type CompressionName } from '../kdump/choices.js';
import { defaultThreads } from '../kdump/choices.js';

export interface CaptureArgs extends S3Args {
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
  format: 'elf' | 'kdump';
  compress: CompressionName;
  threads?: number;
}

export const captureCommand: CommandModule<object, CaptureArgs> = {
  command: '$0 [input]',
  describe: 'Capture a vmcore (a path, /proc/vmcore, or stdin) into a slim or full dump',
  builder: (y: Argv) =>
    withS3Options(y
      .positional('input', { type: 'string', describe: 'vmcore to read: a file, a device, /proc/vmcore, or - for stdin (default)' })
      .option('output', { alias: 'o', type: 'string', describe: 'where to write: a file (written as a temporary file, then renamed), a device or FIFO, - for stdout (default), tcp://HOST[:PORT] or tls://HOST[:PORT] for `slim-core receive` there, ssh://[USER@]HOST[:PORT]/PATH (docs/network-protocol.md), or s3://BUCKET/KEY (docs/s3.md)' })
      .option('mode', { choices: ['auto', 'slim', 'full'] as const, default: 'auto' as const, describe: "slim: headers, notes and the kernel log's pages (see --slim-keep); full: all memory, faulty pages zero-filled; auto: slim after a fatal memory error, else full" })
      .option('dump-level', { alias: 'd', type: 'number', default: 0, describe: "leave out pages by class, as makedumpfile -d: 1 zero pages, 2 page cache, 4 private cache, 8 user data, 16 free pages (31 all); needs an input that can seek. Poisoned and offline pages are left out at every level" })
      .option('format', { choices: ['elf', 'kdump'] as const, default: 'elf' as const, describe: "elf: a plain ELF vmcore; kdump: makedumpfile's compressed format (flattened on stdout, ssh:// and s3://; docs/kdump-format.md)" })
      .option('compress', { choices: COMPRESSION_NAMES, default: DEFAULT_COMPRESSION, describe: '--format kdump: how pages are compressed (a page is stored raw unless that makes it smaller)' })
      .option('threads', { type: 'number', describe: `--format kdump: worker threads that compress pages beside the main thread (default: one per core but the main thread's, here ${defaultThreads()}; 0: on the main thread, the default on one core); the file is the same whatever the count` })
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
      .option('ssh-option', { type: 'string', array: true, default: [] as string[], describe: 'ssh://: an ssh -o option, Key=Value; repeatable' }), 's3://')
      .option('chunk-size', { type: 'number', default: DEFAULT_CHUNK_SIZE, hidden: true }) as unknown as Argv<CaptureArgs>,
  handler: async (args) => {
    const { runCaptureCommand } = await import('./capture-run.js');
    await runCaptureCommand(args);
  },
};
