// Cuts the dump into multipart-upload parts: the first part held back for patching, a bounded number in flight.

import { Writable } from 'node:stream';
import { IoError } from '../errors.js';
import { hex } from '../elf/byte-order.js';

/** The first part holds the headers and notes (patched after the copy), so it goes up last; S3 wants at least 5 MiB. */
export const HEAD_PART_BYTES = 8 << 20;

export interface CompletedPart {
  PartNumber: number;
  ETag: string;
}

/** Uploads one part; rejects once its retries are spent. */
export type UploadPart = (partNumber: number, body: Buffer, signal: AbortSignal) => Promise<string>;

export interface PartWriterStats {
  parts: number;
  /** Part buffers ever allocated, in bytes (the held head part included). */
  bufferBytes: number;
}

/**
 * Each write is copied into a part buffer, so the pipeline's read buffers are free again at once (onWritten); a write
 * waits while every part buffer is being uploaded, which is how a slow store holds back the reads.
 */
export class PartWriter {
  readonly stream: Writable;
  written = 0;
  onWritten?: (total: number) => void;
  private readonly head = Buffer.allocUnsafeSlow(HEAD_PART_BYTES);
  private headLength = 0;
  private filling?: Buffer;
  private fillLength = 0;
  private readonly spare: Buffer[] = [];
  private allocated = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly completed: CompletedPart[] = [];
  private nextPart = 2;
  private failure?: Error;
  private readonly cancel = new AbortController();

  constructor(private readonly upload: UploadPart, private readonly partSize: number, private readonly slots: number) {
    this.stream = new Writable({
      highWaterMark: 0,
      write: (chunk: Buffer, _encoding, callback) => this.take(chunk).then(() => callback(), callback),
    });
    // The pipeline attaches its own listener later; a part failing before then must not crash the process.
    this.stream.on('error', () => undefined);
  }

  get stats(): PartWriterStats {
    return { parts: this.nextPart - 1, bufferBytes: HEAD_PART_BYTES + this.allocated * this.partSize };
  }

  private async take(chunk: Buffer): Promise<void> {
    let at = 0;
    if (this.headLength < HEAD_PART_BYTES) {
      const n = chunk.copy(this.head, this.headLength, 0);
      this.headLength += n;
      at = n;
    }
    while (at < chunk.length) {
      this.filling ??= await this.freeBuffer();
      const n = chunk.copy(this.filling, this.fillLength, at);
      this.fillLength += n;
      at += n;
      if (this.fillLength === this.partSize) this.launch();
    }
    this.written += chunk.length;
    this.onWritten?.(this.written);
  }

  private async freeBuffer(): Promise<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const spare = this.spare.pop();
      if (spare) return spare;
      if (this.allocated < this.slots) {
        this.allocated++;
        return Buffer.allocUnsafeSlow(this.partSize);
      }
      await Promise.race(this.running);
    }
  }

  private launch(): void {
    const buffer = this.filling!;
    const partNumber = this.nextPart++;
    const sent = this.upload(partNumber, buffer.subarray(0, this.fillLength), this.cancel.signal).then(
      (ETag) => {
        this.completed.push({ PartNumber: partNumber, ETag });
        this.spare.push(buffer);
      },
      (err: Error) => {
        this.failure ??= err;
        this.stream.destroy(err);
      },
    );
    this.filling = undefined;
    this.fillLength = 0;
    const tracked = sent.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Rewrites bytes of the held head part (the notes); the rest is gone already. */
  patch(offset: number, bytes: Buffer): void {
    if (offset + bytes.length > this.headLength) {
      throw new IoError(`patching ${bytes.length} bytes at output offset ${hex(offset)}: an s3:// output can rewrite only its first ${HEAD_PART_BYTES >> 20} MiB`);
    }
    bytes.copy(this.head, offset);
  }

  /** Sends what is left, the head part last, and returns every part in order. */
  async finish(): Promise<CompletedPart[]> {
    if (this.fillLength > 0) this.launch();
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failure) throw this.failure;
    const ETag = await this.upload(1, this.head.subarray(0, this.headLength), this.cancel.signal);
    return [{ PartNumber: 1, ETag }, ...this.completed].sort((a, b) => a.PartNumber - b.PartNumber);
  }

  /** Stops the uploads in flight and waits for them to settle. */
  async cancelAll(): Promise<void> {
    this.cancel.abort();
    this.failure ??= new IoError('upload cancelled');
    while (this.running.size > 0) await Promise.race(this.running);
  }
}
