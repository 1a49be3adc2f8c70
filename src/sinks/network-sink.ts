// The tcp:// and tls:// sink: frames the dump for `slim-core receive`, and commits only once the receiver acknowledges.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { IoError, UsageError } from '../errors.js';
import {
  DEFAULT_PORT,
  defaultDumpName,
  dumpNameProblem,
  encodeEnd,
  encodeFrameHeader,
  helloPayload,
  encodePatchPayload,
  FrameType,
  MAX_DATA_PAYLOAD,
  POSITIONED_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
} from '../net/protocol.js';
import { readTokenFile } from '../net/token.js';
import type { DumpSink } from './dump-sink.js';
import { ReceiverReplies, tlsReason } from './receiver-replies.js';

export interface NetworkSinkOptions {
  /** The dump's name on the receiver; default: this host's name and the UTC time. */
  name?: string;
  tokenFile?: string;
  /** tls:// only: CA to verify the receiver with (default: the system's), and a client certificate. */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The dump is written out of order (the kdump format): protocol version 2, whose WRITE_AT frames the receiver puts in place. */
  positioned?: boolean;
}

const HIGH_WATER_MARK = 1 << 20;
const HANDSHAKE_TIMEOUT_MS = 30_000;
const KEEPALIVE_MS = 15_000;

interface Endpoint {
  url: string;
  secure: boolean;
  host: string;
  port: number;
}

export function parseNetworkUrl(target: string): Endpoint {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`output ${target} is not a valid URL (tcp://HOST[:PORT] or tls://HOST[:PORT])`);
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'tls:') throw new UsageError(`output ${target}: only tcp:// and tls:// are network outputs`);
  if (!url.hostname) throw new UsageError(`output ${target} names no host`);
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash || url.username) {
    throw new UsageError(`output ${target}: a ${url.protocol}// URL is only HOST[:PORT]; name the dump with --name`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : DEFAULT_PORT;
  return { url: `${url.protocol}//${url.host}${url.port ? '' : `:${port}`}`, secure: url.protocol === 'tls:', host, port };
}

async function readOption(file: string | undefined, option: string): Promise<Buffer | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    throw new IoError(`cannot read ${option} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function connect(endpoint: Endpoint, options: NetworkSinkOptions): Promise<Socket> {
  if (!endpoint.secure && (options.tlsCa || options.tlsCert || options.tlsKey)) throw new UsageError('--tls-ca, --tls-cert and --tls-key need a tls:// output');
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  const [ca, cert, key] = await Promise.all([readOption(options.tlsCa, '--tls-ca'), readOption(options.tlsCert, '--tls-cert'), readOption(options.tlsKey, '--tls-key')]);
  return new Promise((resolve, reject) => {
    const { host, port } = endpoint;
    const socket = endpoint.secure
      ? tls.connect({ host, port, ca, cert, key, servername: net.isIP(host) ? undefined : host, minVersion: 'TLSv1.2' })
      : net.connect({ host, port });
    // Until READY: a host that drops the SYN, or a receiver that never answers, is as good as down.
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS);
    socket.once('timeout', () => socket.destroy(new Error(`no answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)));
    const onError = (err: Error) => reject(new IoError(`cannot connect to ${endpoint.url}: ${describeConnectError(err, endpoint)}`, { cause: err }));
    socket.once('error', onError);
    socket.once(endpoint.secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', onError);
      socket.setKeepAlive(true, KEEPALIVE_MS);
      resolve(socket);
    });
  });
}

function describeConnectError(err: Error, endpoint: Endpoint): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused (is `slim-core receive` listening there?)';
  if (code === 'ECONNRESET' && endpoint.secure) return 'connection reset during the TLS handshake (is the receiver using TLS?)';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'TLS handshake failed: the receiver does not speak TLS (use tcp://, or start it with --tls-cert)';
  return endpoint.secure && !/^E[A-Z]+$/.test(code ?? '') ? `TLS handshake failed: ${tlsReason(err)}` : err.message;
}

/** Frames and hashes what the pipeline writes; every send waits for the socket's own backpressure. */
class FrameSender {
  readonly digest = createHash('sha256');
  dataBytes = 0;
  /** One past the furthest WRITE_AT byte. */
  extent = 0;
  /** The most bytes ever waiting in the sink: its Writable's queue and the socket's buffer. */
  maxBuffered = 0;
  /** DATA bytes the socket has handed to the kernel: their buffers are free for reuse (see DumpSink.onWritten). */
  flushedBytes = 0;
  onFlushed?: (total: number) => void;
  readonly stream: Writable;
  readonly replies: ReceiverReplies;

  constructor(private readonly socket: Socket, shownAs: string) {
    this.replies = new ReceiverReplies(socket, shownAs, () => this.dataBytes);
    this.stream = new Writable({
      highWaterMark: HIGH_WATER_MARK,
      write: (chunk: Buffer, _encoding, callback) => {
        this.sendPieces(chunk, (piece) => this.send(FrameType.DATA, piece)).then(() => callback(), callback);
      },
    });
    // The pipeline attaches its own listener later; until then a failed link must not crash the process.
    this.stream.on('error', () => undefined);
    this.replies.onFailure((err) => this.stream.destroy(err));
  }

  send(type: FrameType, payload: Buffer): Promise<void> {
    this.replies.throwIfFailed();
    const header = encodeFrameHeader(type, payload.length);
    this.digest.update(header).update(payload);
    if (type === FrameType.DATA) this.dataBytes += payload.length;
    if (type === FrameType.WRITE_AT) this.extent = Math.max(this.extent, Number(payload.readBigUInt64BE(0)) + payload.length - 8);
    this.socket.cork();
    this.socket.write(header);
    const more = this.socket.write(payload, type === FrameType.DATA ? () => this.flushed(payload.length) : undefined);
    this.socket.uncork();
    this.maxBuffered = Math.max(this.maxBuffered, this.stream.writableLength + this.socket.writableLength);
    return more ? Promise.resolve() : this.replies.drained();
  }

  private flushed(bytes: number): void {
    this.flushedBytes += bytes;
    this.onFlushed?.(this.flushedBytes);
  }

  async sendPieces(bytes: Buffer, send: (piece: Buffer, at: number) => Promise<void>): Promise<void> {
    for (let at = 0; at < bytes.length; at += MAX_DATA_PAYLOAD) await send(bytes.subarray(at, at + MAX_DATA_PAYLOAD), at);
  }

  /** END is not part of its own digest. */
  sendEnd(): void {
    this.replies.throwIfFailed();
    this.socket.write(encodeEnd({ dataBytes: this.size, digest: this.digest.digest() }));
  }

  /** The dump's size as the receiver will count it. */
  get size(): number {
    return Math.max(this.dataBytes, this.extent);
  }
}

export async function openNetworkSink(target: string, options: NetworkSinkOptions = {}): Promise<DumpSink> {
  const endpoint = parseNetworkUrl(target);
  const name = options.name ?? defaultDumpName(os.hostname(), new Date());
  const problem = dumpNameProblem(name);
  if (problem) throw new UsageError(`--name ${JSON.stringify(name)}: ${problem}`);
  const token = options.tokenFile === undefined ? Buffer.alloc(0) : await readTokenFile(options.tokenFile);
  const shownAs = `${endpoint.url} as ${name}`;
  const socket = await connect(endpoint, options);
  const frames = new FrameSender(socket, shownAs);
  const { replies } = frames;
  try {
    const version = options.positioned ? POSITIONED_PROTOCOL_VERSION : PROTOCOL_VERSION;
    await frames.send(FrameType.HELLO, helloPayload({ token, name, hostname: os.hostname(), version }));
    const ready = await replies.ready();
    socket.setTimeout(0);
    if (ready.version !== version || ready.name !== name) throw new IoError(`${shownAs}: the receiver answered for ${JSON.stringify(ready.name)} (version ${ready.version})`);
  } catch (err) {
    replies.close();
    socket.destroy();
    throw err;
  }
  return {
    name: shownAs,
    stream: frames.stream,
    onWritten(listener) {
      frames.onFlushed = listener;
    },
    canPatch: true,
    writeAt: options.positioned
      ? (offset, bytes) => frames.sendPieces(bytes, (piece, at) => frames.send(FrameType.WRITE_AT, encodePatchPayload(offset + at, piece)))
      : undefined,
    async patch(offset, bytes) {
      await frames.sendPieces(bytes, (piece, at) => frames.send(FrameType.PATCH, encodePatchPayload(offset + at, piece)));
    },
    async commit() {
      frames.sendEnd();
      const ack = await replies.ack();
      socket.end();
      if (ack.bytes !== frames.size) throw new IoError(`${shownAs}: the receiver acknowledged ${ack.bytes} bytes, but ${frames.size} were sent`);
      if (process.env.SLIMCORE_NET_STATS) {
        process.stderr.write(`slim-core: network: ${frames.size} bytes sent; at most ${frames.maxBuffered} bytes buffered in the sink (its queue and the socket's)\n`);
      }
    },
    async abort() {
      replies.close();
      socket.destroy();
    },
  };
}
