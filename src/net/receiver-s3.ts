// The receiver's --to s3://BUCKET/PREFIX: each dump one multipart upload; kdump's positioned writes become flattened records.

import { IoError, isSlimCoreError, UsageError } from '../errors.js';
import type { DumpSink } from '../sinks/dump-sink.js';
import { backpressuredWriter, endStream, flatteningOutput, type FinishableOutput } from '../sinks/positioned-output.js';
import { checkS3Options, parseS3Url, type S3Options } from '../sinks/s3-target.js';
import type { DumpStore, IncomingTarget, IncomingTransfer } from './dump-store.js';
import { ErrorCode } from './protocol.js';
import { TransferRefused } from './receiver-file.js';

/** s3://BUCKET or s3://BUCKET/PREFIX; a dump's key is PREFIX/NAME. */
export function parseS3Prefix(target: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(target);
  if (!match) throw new UsageError(`--to ${target}: want s3://BUCKET or s3://BUCKET/PREFIX`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  return { bucket: match[1], prefix: prefix && `${prefix}/` };
}

function refusedBy(err: unknown): TransferRefused {
  if (err instanceof TransferRefused) return err;
  return new TransferRefused(ErrorCode.RECEIVER_IO, isSlimCoreError(err) ? (err as Error).message : `storing the dump: ${(err as Error).message}`);
}

/**
 * ELF (protocol version 1) goes up as it comes, and its patches rewrite the held first part (the notes). The kdump
 * format (version 2) needs writes anywhere, which S3 has not: its WRITE_AT and PATCH frames go up as makedumpfile's
 * flattened records, in the order received, so the object is what `-o s3://` would have stored from the sender.
 */
class IncomingObject implements IncomingTarget {
  private written = 0;
  private ended = false;
  private readonly flat?: FinishableOutput;
  private readonly write: (bytes: Buffer) => Promise<void>;

  constructor(private readonly sink: DumpSink, positioned: boolean, private readonly maxSize: number, private readonly release: () => void) {
    this.flat = positioned ? flatteningOutput(sink.stream) : undefined;
    this.write = backpressuredWriter(sink.stream);
  }

  get size(): number {
    return this.written;
  }

  async append(bytes: Buffer): Promise<void> {
    this.checkSize(this.written + bytes.length);
    if (this.ended) throw new TransferRefused(ErrorCode.PROTOCOL, 'DATA after a PATCH: an s3:// receiver stores the data in one pass');
    await this.io(() => (this.flat ? this.flat.write(this.written, bytes) : this.write(bytes)));
    this.written += bytes.length;
  }

  async writeAt(offset: number, bytes: Buffer): Promise<void> {
    this.checkSize(offset + bytes.length);
    await this.io(() => this.flat!.write(offset, bytes));
    this.written = Math.max(this.written, offset + bytes.length);
  }

  async patch(offset: number, bytes: Buffer): Promise<void> {
    if (offset + bytes.length > this.written) {
      throw new TransferRefused(ErrorCode.PROTOCOL, `a patch of ${bytes.length} bytes at offset ${offset} runs past the ${this.written} bytes received`);
    }
    if (this.flat) return this.io(() => this.flat!.write(offset, bytes));
    await this.endData();
    await this.io(() => this.sink.patch(offset, bytes));
  }

  /** Every byte is in a part buffer or uploaded; the object appears only at publish(), after the checksum. */
  async sync(): Promise<void> {
    await this.endData();
  }

  async publish(): Promise<void> {
    try {
      await this.io(() => this.sink.commit());
    } finally {
      this.release();
    }
  }

  async discard(): Promise<void> {
    try {
      await this.sink.abort();
    } finally {
      this.release();
    }
  }

  private async endData(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.io(() => (this.flat ? this.flat.finish() : endStream(this.sink.stream)));
  }

  private checkSize(end: number): void {
    if (end > this.maxSize) throw new TransferRefused(ErrorCode.TOO_LARGE, `the dump is over the receiver's --max-size of ${this.maxSize} bytes`);
  }

  private async io(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      throw refusedBy(err);
    }
  }
}

/** Checks the bucket and the credentials once at start; then one upload per dump, each with its own client. */
export async function s3Store(target: string, options: S3Options, maxSize = Number.MAX_SAFE_INTEGER): Promise<DumpStore> {
  const { bucket, prefix } = parseS3Prefix(target);
  const where = `s3://${bucket}/${prefix}`;
  // Loaded on demand, as for -o s3://: a receiver writing to a directory does not pay for the SDK.
  checkS3Options(options);
  // The bucket's name, checked as for -o s3:// (with a stand-in for the dump's name).
  parseS3Url(`${where}NAME`);
  const [{ openS3Sink, checkBucket }, { connectS3 }] = await Promise.all([import('../sinks/s3-sink.js'), import('../sinks/s3-client.js')]);
  const connection = await connectS3(options, 2);
  await checkBucket(connection, where, bucket);
  const inFlight = new Set<string>();

  const taken = async (key: string): Promise<boolean> => {
    try {
      await connection.client.send(new connection.sdk.HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw new IoError(`${where}: checking for ${key}: ${(err as Error).message}`, { cause: err });
    }
  };

  return {
    describe: `storing into ${where}`,
    close: () => connection.client.destroy(),
    async open(transfer: IncomingTransfer) {
      const key = `${prefix}${transfer.name}`;
      if (inFlight.has(key)) throw new TransferRefused(ErrorCode.NAME_EXISTS, `a dump named ${transfer.name} is being received already`);
      inFlight.add(key);
      const release = () => inFlight.delete(key);
      try {
        if (await taken(key)) throw new TransferRefused(ErrorCode.NAME_EXISTS, `a dump named ${transfer.name} already exists in ${where}`);
        const sink = await openS3Sink(`s3://${bucket}/${key}`, options, {
          'slimcore-format': transfer.positioned ? 'kdump-flattened' : 'elf',
          'slimcore-sender': transfer.hostname.replace(/[^\x20-\x7e]/g, '?').slice(0, 128),
          'slimcore-sender-address': transfer.peer,
        });
        return new IncomingObject(sink, transfer.positioned, maxSize, release);
      } catch (err) {
        release();
        throw refusedBy(err);
      }
    },
  };
}
