// Where the dump goes: a file (written under a temporary name, renamed on success), a device or FIFO, or stdout.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { IoError, UsageError } from '../errors.js';
import { FdWriter, MAX_BYTES_PER_WRITE } from './fd-writer.js';
import type { DumpFacts } from '../pipeline/dump-facts.js';

export interface DumpSink {
  /** For messages: the path, URL, or "stdout". */
  name: string;
  stream: Writable;
  /** Bytes already written can be rewritten once the data is done (a file, the network receiver): see patch(). */
  canPatch: boolean;
  /** Rewrites `bytes` at output `offset`, after the stream has finished and before commit(). */
  patch(offset: number, bytes: Buffer): Promise<void>;
  /** Writes anywhere, in place of the stream (a seekable file; the receiver): the kdump format's header and bitmaps go last. Resolves once `bytes` may be reused. */
  writeAt?(offset: number, bytes: Buffer): Promise<void>;
  /** Makes the dump visible under its final name; call only after the stream finished. */
  commit(): Promise<void>;
  /** Sinks that write buffers straight out can report progress, so that read buffers are reused once written. */
  onWritten?(listener: (total: number) => void): void;
  /** Leaves nothing at the target path. */
  abort(): Promise<void>;
  /** Sinks that store facts beside the dump (S3 metadata) take them before the data; returns what will be stored. */
  describe?(facts: DumpFacts): Record<string, string>;
}

async function cannotPatch(): Promise<void> {
  throw new Error('this sink cannot rewrite bytes it has written');
}

export interface SinkOptions {
  /** fsync a file before renaming it, and a block device before closing it (default true: a kdump capture kernel reboots right after). */
  sync?: boolean;
}

const fsp = { write: promisify(fs.write) as (fd: number, buf: Buffer, offset: number, length: number, position: number) => Promise<{ bytesWritten: number }> };

const WRITE_HIGH_WATER_MARK = 1 << 20;

function writerFor(fd: number): FdWriter {
  return new FdWriter(fd, WRITE_HIGH_WATER_MARK);
}

function watchWrites(writer: FdWriter): (listener: (total: number) => void) => void {
  return (listener) => {
    writer.onWritten = listener;
  };
}

export async function openStdoutSink(): Promise<DumpSink> {
  // isatty(), not process.stdout.isTTY: touching process.stdout would make a piped fd 1 non-blocking under us.
  if (isatty(1)) throw new UsageError('refusing to write a binary dump to a terminal: use -o FILE or redirect stdout');
  const writer = writerFor(1);
  return {
    name: 'stdout',
    stream: writer,
    onWritten: watchWrites(writer),
    // A regular file behind stdout is still written in one forward pass: stdout may be shared.
    canPatch: false,
    patch: cannotPatch,
    async commit() {},
    async abort() {},
  };
}

export async function openFileSink(target: string, options: SinkOptions = {}): Promise<DumpSink> {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(target);
  } catch {
    stat = undefined;
  }
  if (stat && (stat.isCharacterDevice() || stat.isFIFO() || stat.isBlockDevice())) {
    const fd = openOrFail(target, 'w');
    const writer = writerFor(fd);
    // A disk keeps what it was given in the page cache (and its own cache) until flushed, and the capture kernel
    // reboots right after the collector: only a block device holds the dump itself, so only it is fsynced.
    const flush = stat.isBlockDevice() && options.sync !== false;
    const closeOnce = onlyOnce(() => fs.closeSync(fd));
    return {
      name: target,
      stream: writer,
      onWritten: watchWrites(writer),
      canPatch: false,
      patch: cannotPatch,
      async commit() {
        try {
          if (flush) fs.fsyncSync(fd);
        } catch (err) {
          throw new IoError(`writing ${target}: fsync: ${errnoText(err)}`, { cause: err });
        } finally {
          closeOnce();
        }
      },
      async abort() {
        closeOnce();
      },
    };
  }
  if (stat?.isDirectory()) throw new UsageError(`output ${target} is a directory`);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.partial`);
  const fd = openOrFail(temp, 'wx', 0o600, target);
  partialFiles.add(temp);
  const closeOnce = onlyOnce(() => fs.closeSync(fd));
  const writer = writerFor(fd);
  return {
    name: target,
    stream: writer,
    onWritten: watchWrites(writer),
    canPatch: true,
    async writeAt(offset, bytes) {
      try {
        for (let done = 0; done < bytes.length; ) {
          done += (await fsp.write(fd, bytes, done, Math.min(bytes.length - done, MAX_BYTES_PER_WRITE), offset + done)).bytesWritten;
        }
      } catch (err) {
        throw new IoError(`writing ${target} at offset ${offset}: ${errnoText(err)}`, { cause: err });
      }
    },
    async patch(offset, bytes) {
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, offset);
      } catch (err) {
        throw new IoError(`writing ${target} at offset ${offset}: ${errnoText(err)}`, { cause: err });
      }
    },
    async commit() {
      try {
        if (options.sync !== false) fs.fsyncSync(fd);
        closeOnce();
        fs.renameSync(temp, target);
        partialFiles.delete(temp);
      } catch (err) {
        removePartial(temp);
        throw new IoError(`writing ${target}: ${(err as Error).message}`, { cause: err });
      }
    },
    async abort() {
      try {
        closeOnce();
      } finally {
        removePartial(temp);
      }
    },
  };
}

/** Temporary files of captures still running, so that a signal can remove them before the process dies. */
const partialFiles = new Set<string>();

function removePartial(temp: string): void {
  fs.rmSync(temp, { force: true });
  partialFiles.delete(temp);
}

/** Removes every temporary file still being written, synchronously (for a signal handler); returns their paths. */
export function removePartialFiles(): string[] {
  const removed = [...partialFiles];
  for (const temp of removed) {
    try {
      removePartial(temp);
    } catch {
      // Best effort: the process is about to exit, and one file that cannot be removed must not keep the others.
    }
  }
  return removed;
}

function onlyOnce(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}

function openOrFail(file: string, flags: string, mode?: number, shownAs = file): number {
  try {
    return fs.openSync(file, flags, mode);
  } catch (err) {
    throw new IoError(`cannot open output ${shownAs}: ${errnoText(err)}`, { cause: err });
  }
}

/** "ENOENT: no such file or directory", without the temporary path that Node appends. */
export function errnoText(err: unknown): string {
  return (err as Error).message.replace(/, \w+ '.*'$/, '');
}
