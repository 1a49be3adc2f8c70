// A Writable straight onto a file descriptor: batches queued chunks into writev(2), and waits out EAGAIN.

import fs from 'node:fs';
import { Writable } from 'node:stream';

/** Linux's IOV_MAX. */
const MAX_IOVECS = 1024;
/**
 * Bytes per write(2). On this project's test machine (Linux 6.18), 4 MiB writes to a new file took 2 to 10 times the
 * system time of 1 MiB writes, and a full dump to a file twice the wall time (bench/README.md); why is not known
 * (no compaction was counted). makedumpfile and cat write small pieces too; a pipe takes 64 KiB per wake-up anyway.
 */
export const MAX_BYTES_PER_WRITE = 1 << 20;
const EAGAIN_FIRST_WAIT_MS = 1;
const EAGAIN_LONGEST_WAIT_MS = 50;

function isAgain(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK';
}

type WritevDone = (err: NodeJS.ErrnoException | null, written: number) => void;

/**
 * A regular file is written on the main thread. A 1 MiB write into the page cache takes 0.2-0.4 ms on this project's
 * test machine, and the hand-off to libuv's thread pool and back cost about as much again between writes: the writer
 * fell behind the reads (bench/README.md). Reads still run in the thread pool meanwhile. So are /dev/null, /dev/zero
 * and /dev/full, which complete at once (`-o /dev/null` measures how fast the input reads). Pipes, sockets and other
 * devices (a tape, a serial line) keep asynchronous writes: they can wait on whoever is at the other end, and a signal's
 * handler must still run meanwhile. A file on a stalled network file system stalls the event loop too; in the pool its
 * write, and the unlink of the temporary file after a signal, would stall as well.
 */
function writevOnMainThread(fd: number, buffers: Buffer[], done: WritevDone): void {
  let written: number;
  try {
    written = fs.writevSync(fd, buffers);
  } catch (err) {
    done(err as NodeJS.ErrnoException, 0);
    return;
  }
  done(null, written);
}

/** Linux's memory devices that never wait: major 1, minors 3 (null), 5 (zero) and 7 (full). */
const INSTANT_DEVICES = new Set([(1 << 8) | 3, (1 << 8) | 5, (1 << 8) | 7]);

function neverWaits(fd: number): boolean {
  try {
    const st = fs.fstatSync(fd);
    return st.isFile() || (st.isCharacterDevice() && INSTANT_DEVICES.has(st.rdev));
  } catch {
    return false;
  }
}

/**
 * A descriptor inherited from a parent may be non-blocking (a pipe another program set up): then a full pipe answers
 * EAGAIN, and the write is tried again a little later instead of failing the dump.
 */
export class FdWriter extends Writable {
  /** Bytes written to the descriptor so far. */
  written = 0;
  /** Called after each completed write with the total so far (lets read buffers be reused). */
  onWritten?: (total: number) => void;
  private readonly writev: (fd: number, buffers: Buffer[], done: WritevDone) => void;

  constructor(private readonly fd: number, highWaterMark: number) {
    super({ highWaterMark, decodeStrings: true });
    this.writev = neverWaits(fd) ? writevOnMainThread : fs.writev;
  }

  /** Whether writes run on the main thread (a regular file, /dev/null) rather than in the thread pool. */
  get writesOnMainThread(): boolean {
    return this.writev === writevOnMainThread;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writeAll([chunk], done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      done,
    );
  }

  private writeAll(buffers: Buffer[], done: (err?: Error | null) => void, wait = EAGAIN_FIRST_WAIT_MS): void {
    const batch = leadingBytes(buffers);
    this.writev(this.fd, batch, (err, written) => {
      if (err) {
        if (isAgain(err)) {
          setTimeout(() => this.writeAll(buffers, done, Math.min(wait * 2, EAGAIN_LONGEST_WAIT_MS)), wait);
          return;
        }
        done(err);
        return;
      }
      this.written += written;
      const rest = dropWritten(buffers, written);
      if (rest.length === 0) {
        this.onWritten?.(this.written);
        done();
      }
      else this.writeAll(rest, done);
    });
  }
}

/** The first MAX_BYTES_PER_WRITE bytes of `buffers`, in at most MAX_IOVECS pieces. */
function leadingBytes(buffers: Buffer[]): Buffer[] {
  const batch: Buffer[] = [];
  let bytes = 0;
  for (const buffer of buffers) {
    if (batch.length === MAX_IOVECS || bytes === MAX_BYTES_PER_WRITE) break;
    const take = Math.min(buffer.length, MAX_BYTES_PER_WRITE - bytes);
    batch.push(take === buffer.length ? buffer : buffer.subarray(0, take));
    bytes += take;
  }
  return batch;
}

/** The buffers left after `written` bytes went out: whole ones dropped, a partly written one cut. */
function dropWritten(buffers: Buffer[], written: number): Buffer[] {
  let i = 0;
  let left = written;
  while (i < buffers.length && left >= buffers[i].length) left -= buffers[i++].length;
  if (i === buffers.length) return [];
  return [buffers[i].subarray(left), ...buffers.slice(i + 1)];
}
