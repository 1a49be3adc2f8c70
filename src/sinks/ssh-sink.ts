// The ssh:// sink: pipes the dump into the system ssh, which writes PATH.incomplete remotely; a second ssh renames it.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Writable, type Readable } from 'node:stream';
import { IoError, UsageError } from '../errors.js';
import type { DumpSink } from './dump-sink.js';

export interface SshSinkOptions {
  /** -i FILE, with IdentitiesOnly so that no other key is tried. */
  identity?: string;
  /** UserKnownHostsFile: the host keys to check the remote against. */
  knownHosts?: string;
  /** More `-o` options, as `Key=Value`. */
  options?: string[];
  /** Flush the remote file to disk before renaming it (default true). */
  sync?: boolean;
}

interface SshTarget {
  url: string;
  user?: string;
  host: string;
  port?: number;
  path: string;
}

// Kept from ssh's stderr for the error message; the last lines are the ones that say why.
const STDERR_TAIL_BYTES = 4096;
const INCOMPLETE_SUFFIX = '.incomplete';
const HIGH_WATER_MARK = 1 << 20;

export function parseSshUrl(target: string): SshTarget {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`output ${target} is not a valid URL (ssh://[USER@]HOST[:PORT]/PATH)`);
  }
  if (url.protocol !== 'ssh:') throw new UsageError(`output ${target} is not an ssh:// URL`);
  if (!url.hostname) throw new UsageError(`output ${target} names no host`);
  if (url.password) throw new UsageError(`output ${target}: ssh:// takes no password (the ssh sink runs with BatchMode=yes: use a key)`);
  const path = decodeURIComponent(url.pathname);
  if (path === '/' || path.endsWith('/') || url.search || url.hash) throw new UsageError(`output ${target} needs a file path: ssh://[USER@]HOST[:PORT]/PATH`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host.startsWith('-')) throw new UsageError(`output ${target}: the host cannot start with "-"`);
  return { url: target, user: url.username ? decodeURIComponent(url.username) : undefined, host, port: url.port ? Number(url.port) : undefined, path };
}

/** Quotes a word for the remote POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function sshArguments(target: SshTarget, options: SshSinkOptions, remoteCommand: string): string[] {
  // ssh keeps the first value it sees for an option: the checks kdumpctl relies on come first and cannot be loosened.
  const args = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'];
  if (options.knownHosts) args.push('-o', `UserKnownHostsFile=${options.knownHosts}`);
  if (options.identity) args.push('-i', options.identity, '-o', 'IdentitiesOnly=yes');
  for (const option of options.options ?? []) args.push('-o', option);
  args.push('-o', 'ConnectTimeout=30', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4');
  if (target.port) args.push('-p', String(target.port));
  if (target.user) args.push('-l', target.user);
  args.push('--', target.host, remoteCommand);
  return args;
}

type SshChild = ChildProcessByStdio<Writable, null, Readable>;

function runSsh(args: string[], stdin: 'pipe' | 'ignore'): { child: SshChild; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }> } {
  const child = spawn('ssh', args, { stdio: [stdin, 'ignore', 'pipe'] }) as unknown as SshChild;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, stderr, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exited };
}

function failure(target: SshTarget, what: string, result: { code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }): IoError {
  if (result.spawnError) return new IoError(`${target.url}: cannot run ssh: ${result.spawnError.message}`, { cause: result.spawnError });
  const lastLine = result.stderr.trim().split('\n').filter(Boolean).pop();
  const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
  return new IoError(`${target.url}: ${what}: ssh ${status}${lastLine ? `: ${lastLine.trim()}` : ''}`);
}

export async function openSshSink(output: string, options: SshSinkOptions = {}): Promise<DumpSink> {
  const target = parseSshUrl(output);
  const temp = target.path + INCOMPLETE_SUFFIX;
  // exec: the remote cat's status is ssh's status. No rename here: a cut stream would look like a finished one to cat.
  const writer = runSsh(sshArguments(target, options, `umask 0077 && exec cat > ${shellQuote(temp)}`), 'pipe');
  const stdin = writer.child.stdin;
  // ssh failing shows up here first as EPIPE; its exit status and stderr say why, so the stream reports those instead.
  const broken = new Promise<IoError>((resolve) => {
    stdin.once('error', (err) => void writer.exited.then((result) => resolve(result.code === 0 ? new IoError(`${target.url}: writing to ssh: ${err.message}`) : failure(target, `writing ${temp}`, result))));
    void writer.exited.then((result) => {
      if (result.code !== 0) resolve(failure(target, `writing ${temp}`, result));
    });
  });
  const stream = new Writable({
    highWaterMark: HIGH_WATER_MARK,
    write(chunk: Buffer, _encoding, callback) {
      if (stdin.write(chunk)) return callback();
      void Promise.race([new Promise<undefined>((resolve) => stdin.once('drain', () => resolve(undefined))), broken]).then((err) => callback(err));
    },
    final(callback) {
      // Whether ssh and the remote cat took it all is for commit() to find out from ssh's exit status.
      stdin.end();
      callback();
    },
  });
  stream.on('error', () => undefined);
  void broken.then((err) => stream.destroy(err));
  let aborted = false;
  return {
    name: target.url,
    stream,
    canPatch: false,
    async patch() {
      throw new Error('the ssh sink cannot rewrite bytes it has written');
    },
    async commit() {
      const written = await writer.exited;
      if (written.code !== 0) throw failure(target, `writing ${temp}`, written);
      const directory = target.path.replace(/\/[^/]*$/, '') || '/';
      const sync = options.sync === false ? '' : `sync -- ${shellQuote(temp)} && `;
      const renameCommand = `${sync}mv -f -- ${shellQuote(temp)} ${shellQuote(target.path)}${options.sync === false ? '' : ` && sync -- ${shellQuote(directory)}`}`;
      const renamed = await runSsh(sshArguments(target, options, renameCommand), 'ignore').exited;
      if (renamed.code !== 0) throw failure(target, `renaming ${temp} to ${target.path}`, renamed);
    },
    async abort() {
      if (aborted) return;
      aborted = true;
      // The remote cat then sees end of input and leaves PATH.incomplete; nothing is ever renamed to PATH.
      writer.child.kill('SIGTERM');
      await writer.exited;
    },
  };
}
