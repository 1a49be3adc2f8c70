// Opens the input (a path, or stdin) and reads it with read(2), positionally when it can seek.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { IoError, UsageError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { nativeReadsSettled } from './native-reads.js';
import { PipeReader } from './pipe-reader.js';

const read = promisify(fs.read);
const fstat = promisify(fs.fstat);
const close = promisify(fs.close);
const EAGAIN_RETRY_MS = 2;
/** Reads of a file or /proc/vmcore end in milliseconds; this bound only keeps a stuck device from holding the close. */
const CLOSE_WAIT_MS = 30_000;

export interface ByteSource {
  /** For messages: the path, or "stdin". */
  name: string;
  fd: number;
  /** Regular files, block and character devices: read with pread, segment by segment. */
  seekable: boolean;
  /** Known for regular files (including /proc/vmcore). */
  size?: number;
  /** A pipe or socket, read through the event loop (pipe-reader.ts); undefined for what is read with fs.read. */
  pipe?: PipeReader;
  close(): Promise<void>;
}

export async function openSource(path: string | undefined): Promise<ByteSource> {
  const fromStdin = path === undefined || path === '-';
  let fd: number;
  if (fromStdin) fd = 0;
  else {
    try {
      fd = await promisify(fs.open)(path, 'r');
    } catch (err) {
      throw new IoError(`cannot open input ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const stat = await fstat(fd);
  if (stat.isDirectory()) throw new UsageError(`input ${path} is a directory`);
  const seekable = stat.isFile() || stat.isBlockDevice() || stat.isCharacterDevice();
  const pipe = !seekable && PipeReader.suits(stat) ? new PipeReader(fd) : undefined;
  let closed = false;
  return {
    name: fromStdin ? 'stdin' : path,
    fd,
    seekable,
    size: stat.isFile() && stat.size > 0 ? stat.size : undefined,
    pipe,
    async close() {
      if (closed) return;
      closed = true;
      if (pipe) pipe.close();
      else {
        // Not while the addon still reads it: io_uring looks the number up when a read is issued, and a number closed
        // and reused (by a pipe, an eventfd) made a read wait for good (native-reads.ts).
        await nativeReadsSettled(CLOSE_WAIT_MS);
        await close(fd).catch(() => undefined);
      }
    },
  };
}

/** Reads until `length` bytes or end of input; `position` null reads forward. Returns the count read. */
export async function readFully(source: ByteSource, buf: Buffer, offset: number, length: number, position: number | null): Promise<number> {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      if (position === null && source.pipe) n = await source.pipe.read(buf, offset + done, length - done);
      else ({ bytesRead: n } = await read(source.fd, buf, offset + done, length - done, position === null ? null : position + done));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        await new Promise((resolve) => setTimeout(resolve, EAGAIN_RETRY_MS));
        continue;
      }
      const at = position === null ? '' : ` at offset ${hex(position + done)}`;
      throw new IoError(`reading ${source.name}${at}: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}
