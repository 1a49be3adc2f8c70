// Reads a pipe or socket through the event loop, straight into the caller's buffer, instead of in libuv's thread pool.

import fs from 'node:fs';
import net from 'node:net';

/** Bytes per read(2) from the pipe: four of Linux's default pipe buffers. */
const STAGING_BYTES = 256 << 10;

/**
 * Why not fs.read: a read(2) waiting in the thread pool on an idle producer cannot be called back, and Node's exit
 * joins the pool's threads. A failed capture then could not exit until the producer wrote again or closed its end
 * (`sleep 60 | slim-core ...` hung for the minute). Here the wait is an epoll registration, which exit simply drops.
 * libuv reads into one staging buffer that it keeps between reads, so the bytes are copied once into the caller's.
 */
export class PipeReader {
  private readonly socket: net.Socket;
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  /** Bytes read but not yet handed out: staging[start, end). */
  private start = 0;
  private end = 0;
  private wanted?: { buf: Buffer; resolve: (n: number) => void; reject: (err: Error) => void };
  private ended = false;
  private failure?: Error;

  constructor(private readonly fd: number) {
    this.socket = new net.Socket({
      fd,
      readable: true,
      writable: false,
      allowHalfOpen: true,
      pauseOnCreate: true,
      onread: { buffer: this.staging, callback: (n: number) => this.arrived(n) },
    } as net.SocketConstructorOpts);
    this.socket.on('end', () => this.finish());
    this.socket.on('error', (err) => this.fail(err));
  }

  /** Whether `fd` can be read this way: a pipe, a FIFO or a socket. */
  static suits(stat: fs.Stats): boolean {
    return stat.isFIFO() || stat.isSocket();
  }

  /** Up to `length` bytes into `buf` at `offset`, as soon as any arrive; 0 at the end of input. */
  read(buf: Buffer, offset: number, length: number): Promise<number> {
    if (this.wanted) return Promise.reject(new Error('PipeReader: one read at a time'));
    if (length === 0) return Promise.resolve(0);
    if (this.end > this.start) return Promise.resolve(this.handOut(buf.subarray(offset, offset + length)));
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.wanted = { buf: buf.subarray(offset, offset + length), resolve, reject };
      this.socket.resume();
    });
  }

  /** Stops reading and closes the descriptor, so that the producer gets SIGPIPE (libuv leaves fds 0-2 open). */
  close(): void {
    this.socket.destroy();
    try {
      fs.closeSync(this.fd);
    } catch {
      // Closed with the socket already.
    }
  }

  private handOut(target: Buffer): number {
    const n = this.staging.copy(target, 0, this.start, this.end);
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
    return n;
  }

  /** libuv filled staging[0, n); returning false stops reading until read() resumes it, once every byte is handed out. */
  private arrived(n: number): boolean {
    this.start = 0;
    this.end = n;
    const wanted = this.wanted;
    this.wanted = undefined;
    if (wanted) wanted.resolve(this.handOut(wanted.buf));
    return false;
  }

  private finish(): void {
    this.ended = true;
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.resolve(0);
  }

  private fail(err: Error): void {
    this.failure = err;
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.reject(err);
  }
}
