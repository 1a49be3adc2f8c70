// The dump transfer protocol (docs/network-protocol.md): frame encoders, payload parsers and a chunk-split-safe decoder.

export const PROTOCOL_MAGIC = Buffer.from('SLIMCORE', 'ascii');
export const PROTOCOL_VERSION = 1;
/** Version 2 adds WRITE_AT, for formats written out of order (kdump); a sender asks for it only when it needs it. */
export const POSITIONED_PROTOCOL_VERSION = 2;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION, POSITIONED_PROTOCOL_VERSION];
export const DEFAULT_PORT = 7386;

export const FRAME_HEADER_SIZE = 5;
/** DATA frames carry at most this much; the sender splits bigger writes. PATCH frames carry 8 more bytes (the offset). */
export const MAX_DATA_PAYLOAD = 1 << 20;
export const MAX_TOKEN_BYTES = 1024;
export const MAX_NAME_BYTES = 200;
export const MAX_HOSTNAME_BYTES = 255;
export const MAX_ERROR_MESSAGE_BYTES = 1024;
export const DIGEST_BYTES = 32;
/** The receiver writes NAME + this, and renames it to NAME once verified. */
export const INCOMPLETE_SUFFIX = '.incomplete';

export enum FrameType {
  HELLO = 1,
  READY = 2,
  DATA = 3,
  PATCH = 4,
  END = 5,
  ACK = 6,
  ERROR = 7,
  WRITE_AT = 8,
}

export enum ErrorCode {
  PROTOCOL = 1,
  UNSUPPORTED_VERSION = 2,
  BAD_TOKEN = 3,
  BAD_NAME = 4,
  NAME_EXISTS = 5,
  TOO_LARGE = 6,
  CHECKSUM = 7,
  RECEIVER_IO = 8,
  BUSY = 9,
  TIMEOUT = 10,
}

const HELLO_FIXED = PROTOCOL_MAGIC.length + 2 + 2 + 2 + 2;
const MAX_PAYLOAD: Record<FrameType, number> = {
  [FrameType.HELLO]: HELLO_FIXED + MAX_TOKEN_BYTES + MAX_NAME_BYTES + MAX_HOSTNAME_BYTES,
  [FrameType.READY]: 2 + MAX_NAME_BYTES,
  [FrameType.DATA]: MAX_DATA_PAYLOAD,
  [FrameType.PATCH]: 8 + MAX_DATA_PAYLOAD,
  [FrameType.END]: 8 + DIGEST_BYTES,
  [FrameType.ACK]: 8 + MAX_NAME_BYTES,
  [FrameType.ERROR]: 2 + MAX_ERROR_MESSAGE_BYTES,
  [FrameType.WRITE_AT]: 8 + MAX_DATA_PAYLOAD,
};

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

/** A peer broke the protocol: a bad frame, size or field. */
export class ProtocolError extends Error {}

export function encodeFrameHeader(type: FrameType, length: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(length, 1);
  return header;
}

export function encodeFrame(type: FrameType, payload: Buffer): Buffer {
  if (payload.length > MAX_PAYLOAD[type]) throw new RangeError(`${FrameType[type]} payload of ${payload.length} bytes is over ${MAX_PAYLOAD[type]}`);
  return Buffer.concat([encodeFrameHeader(type, payload.length), payload]);
}

/** Decodes frames from bytes cut anywhere; refuses an unknown type or an oversized length before buffering its payload. */
export class FrameDecoder {
  private header = Buffer.alloc(FRAME_HEADER_SIZE);
  private headerFill = 0;
  private type: FrameType = FrameType.HELLO;
  private payload: Buffer | undefined;
  private payloadFill = 0;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.payload) {
        const take = Math.min(FRAME_HEADER_SIZE - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < FRAME_HEADER_SIZE) break;
        this.startPayload();
      }
      const payload = this.payload!;
      const take = Math.min(payload.length - this.payloadFill, chunk.length - at);
      chunk.copy(payload, this.payloadFill, at, at + take);
      this.payloadFill += take;
      at += take;
      if (this.payloadFill === payload.length) {
        frames.push({ type: this.type, payload });
        this.payload = undefined;
        this.headerFill = 0;
      }
    }
    return frames;
  }

  /** True between frames: a stream that ends here was not cut inside a frame. */
  get idle(): boolean {
    return this.headerFill === 0 && !this.payload;
  }

  private startPayload(): void {
    const type = this.header.readUInt8(0);
    const length = this.header.readUInt32BE(1);
    if (!(type in MAX_PAYLOAD)) throw new ProtocolError(`unknown frame type ${type}${type === 0x15 || type === 0x16 ? ' (a TLS record: is the other end using TLS?)' : ''}`);
    const max = MAX_PAYLOAD[type as FrameType];
    if (length > max) throw new ProtocolError(`${FrameType[type]} frame of ${length} bytes is over the limit of ${max}`);
    this.type = type;
    this.payload = Buffer.alloc(length);
    this.payloadFill = 0;
  }
}

export interface Hello {
  version: number;
  token: Buffer;
  name: string;
  hostname: string;
}

function encodeSized(bytes: Buffer, max: number, what: string): Buffer {
  if (bytes.length > max) throw new RangeError(`${what} is ${bytes.length} bytes, over ${max}`);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** Reads length-prefixed fields from a payload, refusing any that run past its end. */
class FieldReader {
  private at = 0;
  constructor(private readonly payload: Buffer, private readonly frame: string) {}
  bytes(length: number, what: string): Buffer {
    if (this.at + length > this.payload.length) throw new ProtocolError(`${this.frame} frame: ${what} runs past the end of the frame`);
    const out = this.payload.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
  u16(what: string): number {
    return this.bytes(2, what).readUInt16BE(0);
  }
  u64(what: string): number {
    const value = this.bytes(8, what).readBigUInt64BE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${this.frame} frame: ${what} ${value} is too large`);
    return Number(value);
  }
  sized(max: number, what: string): Buffer {
    const length = this.u16(`${what} length`);
    if (length > max) throw new ProtocolError(`${this.frame} frame: ${what} of ${length} bytes is over ${max}`);
    return this.bytes(length, what);
  }
  rest(): Buffer {
    return this.payload.subarray(this.at);
  }
  end(): void {
    if (this.at !== this.payload.length) throw new ProtocolError(`${this.frame} frame: ${this.payload.length - this.at} unexpected bytes at the end`);
  }
}

function u64(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

/** The first frame of a connection; the magic and version come first so that any later version can be recognised. */
export function helloPayload(hello: Omit<Hello, 'version'> & { version?: number }): Buffer {
  return Buffer.concat([
    PROTOCOL_MAGIC,
    u16(hello.version ?? PROTOCOL_VERSION),
    encodeSized(hello.token, MAX_TOKEN_BYTES, 'token'),
    encodeSized(Buffer.from(hello.name, 'utf8'), MAX_NAME_BYTES, 'name'),
    encodeSized(Buffer.from(hello.hostname, 'utf8'), MAX_HOSTNAME_BYTES, 'hostname'),
  ]);
}

export function encodeHello(hello: Omit<Hello, 'version'> & { version?: number }): Buffer {
  return encodeFrame(FrameType.HELLO, helloPayload(hello));
}

/** The version is returned even when unsupported, so that the receiver can say so; the rest is parsed only for versions 1 and 2. */
export function parseHello(payload: Buffer): Hello {
  const fields = new FieldReader(payload, 'HELLO');
  if (!fields.bytes(PROTOCOL_MAGIC.length, 'magic').equals(PROTOCOL_MAGIC)) throw new ProtocolError('HELLO frame: wrong magic (not a slim-core sender)');
  const version = fields.u16('version');
  if (!SUPPORTED_VERSIONS.includes(version)) return { version, token: Buffer.alloc(0), name: '', hostname: '' };
  const token = Buffer.from(fields.sized(MAX_TOKEN_BYTES, 'token'));
  const name = fields.sized(MAX_NAME_BYTES, 'name').toString('utf8');
  const hostname = fields.sized(MAX_HOSTNAME_BYTES, 'hostname').toString('utf8');
  fields.end();
  return { version, token, name, hostname };
}

/** READY states the version the sender asked for: the receiver speaks it. */
export function encodeReady(name: string, version = PROTOCOL_VERSION): Buffer {
  return encodeFrame(FrameType.READY, Buffer.concat([u16(version), Buffer.from(name, 'utf8')]));
}

export function parseReady(payload: Buffer): { version: number; name: string } {
  const fields = new FieldReader(payload, 'READY');
  return { version: fields.u16('version'), name: fields.rest().toString('utf8') };
}

/** PATCH and WRITE_AT payloads, one frame per call: the caller splits data into pieces of at most MAX_DATA_PAYLOAD. */
export function encodePatchPayload(offset: number, bytes: Buffer): Buffer {
  return Buffer.concat([u64(offset), bytes]);
}

export function parsePatch(payload: Buffer, frame = 'PATCH'): { offset: number; bytes: Buffer } {
  const fields = new FieldReader(payload, frame);
  return { offset: fields.u64('offset'), bytes: fields.rest() };
}

export interface End {
  /** The dump's size: DATA bytes sent, or the end of the furthest WRITE_AT. */
  dataBytes: number;
  /** SHA-256 over every frame before END, as sent (header and payload). */
  digest: Buffer;
}

export function encodeEnd(end: End): Buffer {
  if (end.digest.length !== DIGEST_BYTES) throw new RangeError('END digest must be 32 bytes');
  return encodeFrame(FrameType.END, Buffer.concat([u64(end.dataBytes), end.digest]));
}

export function parseEnd(payload: Buffer): End {
  const fields = new FieldReader(payload, 'END');
  const end = { dataBytes: fields.u64('data bytes'), digest: Buffer.from(fields.bytes(DIGEST_BYTES, 'digest')) };
  fields.end();
  return end;
}

export function encodeAck(bytes: number, name: string): Buffer {
  return encodeFrame(FrameType.ACK, Buffer.concat([u64(bytes), Buffer.from(name, 'utf8')]));
}

export function parseAck(payload: Buffer): { bytes: number; name: string } {
  const fields = new FieldReader(payload, 'ACK');
  return { bytes: fields.u64('bytes'), name: fields.rest().toString('utf8') };
}

export function encodeError(code: ErrorCode, message: string): Buffer {
  let text = Buffer.from(message, 'utf8');
  if (text.length > MAX_ERROR_MESSAGE_BYTES) text = text.subarray(0, MAX_ERROR_MESSAGE_BYTES);
  return encodeFrame(FrameType.ERROR, Buffer.concat([u16(code), text]));
}

export function parseError(payload: Buffer): { code: ErrorCode; message: string } {
  const fields = new FieldReader(payload, 'ERROR');
  const code = fields.u16('code');
  // A cut UTF-8 sequence, or control characters from a misbehaving peer, must not reach a log line as they are.
  const message = fields.rest().toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '?');
  return { code, message };
}

/** Why a dump name cannot be a file name in the receiver's directory, or undefined when it can. */
export function dumpNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  if (/[/\\]/.test(name)) return 'the name contains a path separator';
  if (name.includes('..')) return 'the name contains ".."';
  if (name.startsWith('.')) return 'the name starts with "."';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains a control character';
  if (name.endsWith(INCOMPLETE_SUFFIX)) return `the name ends in "${INCOMPLETE_SUFFIX}"`;
  return undefined;
}

/** The name when the sender gives none: its hostname and the UTC time, e.g. "db7-20260126T115300Z". */
export function defaultDumpName(hostname: string, when: Date): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.{2,}/g, '.').replace(/^[._]+|[._]+$/g, '').slice(0, 100) || 'host';
  const stamp = when.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${host}-${stamp}`;
}
