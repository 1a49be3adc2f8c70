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

/**
 * A descriptor inherited from a parent may be non-blocking (a pipe another program set up): then a full pipe answers
 * EAGAIN, and the write is tried again a little later instead of failing the dump.
 */
export class FdWriter extends Writable {
  /** Bytes written to the descriptor so far. */
  written = 0;
  /** Called after each completed write with the total so far (lets read buffers be reused). */
  onWritten?: (total: number) => void;

  constructor(private readonly fd: number, highWaterMark: number) {
    super({ highWaterMark, decodeStrings: true });
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
    fs.writev(this.fd, batch, (err, written) => {
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
