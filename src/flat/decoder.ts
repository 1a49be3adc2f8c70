// A re-chunk-safe decoder of makedumpfile's flattened stream: record headers and data pieces as views, the end marker, and caps.

import { BadInputError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { FLAT_HEADER_SIZE, FLAT_RECORD_HEADER_SIZE, FLAT_SIGNATURE, FLAT_TYPE, FLAT_VERSION } from './records.js';

export type FlatEvent =
  /** A record starts: `size` bytes for `offset` in the plain file, whose data begin at stream position `at`. */
  | { kind: 'record'; offset: number; size: number; at: number }
  /** Bytes of the current record, for plain-file `offset`: a view into the chunk pushed. */
  | { kind: 'data'; offset: number; bytes: Buffer };

export class FlatDecoder {
  private head = Buffer.alloc(FLAT_HEADER_SIZE);
  private headFill = 0;
  private recordHead = Buffer.alloc(FLAT_RECORD_HEADER_SIZE);
  private recordFill = 0;
  /** Bytes left of the current record's data, and where they go. */
  private left = 0;
  private target = 0;
  private position = 0;
  ended = false;
  records = 0;

  constructor(private readonly maxRecords = Number.MAX_SAFE_INTEGER) {}

  push(chunk: Buffer): FlatEvent[] {
    const events: FlatEvent[] = [];
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.headFill < FLAT_HEADER_SIZE) {
        const take = Math.min(FLAT_HEADER_SIZE - this.headFill, chunk.length - at);
        chunk.copy(this.head, this.headFill, at, at + take);
        this.headFill += take;
        at += take;
        if (this.headFill === FLAT_HEADER_SIZE) this.checkHeader();
      } else if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - at);
        events.push({ kind: 'data', offset: this.target, bytes: chunk.subarray(at, at + take) });
        this.left -= take;
        this.target += take;
        at += take;
      } else {
        const take = Math.min(FLAT_RECORD_HEADER_SIZE - this.recordFill, chunk.length - at);
        chunk.copy(this.recordHead, this.recordFill, at, at + take);
        this.recordFill += take;
        at += take;
        if (this.recordFill === FLAT_RECORD_HEADER_SIZE) {
          this.recordFill = 0;
          const record = this.startRecord(this.position + at);
          if (record) events.push(record);
        }
      }
    }
    this.position += chunk.length;
    return events;
  }

  /** Throws unless the stream ended with its end marker. */
  finish(): void {
    if (this.headFill < FLAT_HEADER_SIZE) throw new BadInputError(`flattened dump: the stream ends at ${hex(this.position)}, inside its ${FLAT_HEADER_SIZE}-byte header`);
    if (!this.ended) throw new BadInputError(`flattened dump: the stream ends at ${hex(this.position)} without the end marker (truncated)`);
  }

  private checkHeader(): void {
    if (!this.head.subarray(0, FLAT_SIGNATURE.length).equals(FLAT_SIGNATURE)) throw new BadInputError('flattened dump: no "makedumpfile" signature at offset 0');
    const type = this.head.readBigInt64BE(16);
    const version = this.head.readBigInt64BE(24);
    if (type !== FLAT_TYPE || version !== FLAT_VERSION) throw new BadInputError(`flattened dump: type ${type} version ${version}; only type 1 version 1 is known`);
  }

  private startRecord(at: number): FlatEvent | undefined {
    const offset = this.recordHead.readBigInt64BE(0);
    const size = this.recordHead.readBigInt64BE(8);
    const where = `flattened dump: record ${this.records} at stream offset ${hex(at - FLAT_RECORD_HEADER_SIZE)}`;
    if (offset === -1n && size === -1n) {
      this.ended = true;
      return undefined;
    }
    if (offset < 0n || size <= 0n) throw new BadInputError(`${where}: offset ${offset} and size ${size} are neither a record nor the end marker`);
    if (offset + size > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadInputError(`${where}: offset ${hex(offset)} + size ${hex(size)} is too large`);
    if (++this.records > this.maxRecords) throw new BadInputError(`${where}: more than ${this.maxRecords} records`);
    this.left = Number(size);
    this.target = Number(offset);
    return { kind: 'record', offset: Number(offset), size: Number(size), at };
  }
}
