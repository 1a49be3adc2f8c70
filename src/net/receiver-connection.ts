// One sender's connection on the receiver: handshake, data and patches into the store, END, verification, ACK.

import { createHash, type Hash } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  dumpNameProblem,
  encodeAck,
  encodeError,
  encodeFrameHeader,
  encodeReady,
  ErrorCode,
  FrameDecoder,
  FrameType,
  parseEnd,
  parseHello,
  parsePatch,
  PROTOCOL_VERSION,
  POSITIONED_PROTOCOL_VERSION,
  ProtocolError,
  SUPPORTED_VERSIONS,
  type End,
  type Frame,
} from './protocol.js';
import type { DumpStore, IncomingTarget } from './dump-store.js';
import { TransferRefused } from './receiver-file.js';
import { tokensMatch } from './token.js';

export interface ConnectionPolicy {
  store: DumpStore;
  /** Undefined only under --insecure. */
  token?: Buffer;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
}

export type TransferResult = 'ok' | 'refused' | 'failed' | 'cut';

export interface TransferOutcome {
  name: string;
  peer: string;
  bytes: number;
  seconds: number;
  result: TransferResult;
  reason?: string;
}

/** The sender went away (closed, reset, or silent too long) without finishing. */
class CutTransfer extends Error {}

// Long enough for the sender to read our ERROR frame before the connection is reset under it.
const LINGER_MS = 2000;

/** A socket that is already gone (a TLS client that hung up) no longer knows its address. */
export function peerOf(socket: Socket): string {
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown';
}

export function formatOutcome(o: TransferOutcome): string {
  const reason = o.reason === undefined ? '' : ` reason=${JSON.stringify(o.reason)}`;
  return `dump name=${JSON.stringify(o.name)} peer=${o.peer} bytes=${o.bytes} seconds=${o.seconds.toFixed(3)} result=${o.result}${reason}`;
}

/** Sends an ERROR frame and half-closes, reading and dropping what the sender still has in flight. */
export function refuseAndClose(socket: Socket, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  socket.end(encodeError(code, message));
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

async function* framesOf(socket: Socket): AsyncGenerator<Frame, never> {
  const decoder = new FrameDecoder();
  try {
    // Not destroyed on return: after a refusal the socket still has to carry the ERROR frame.
    for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
      yield* decoder.push(chunk as Buffer);
    }
  } catch (err) {
    throw new CutTransfer(describeSocketError(err));
  }
  throw new CutTransfer(decoder.idle ? 'the sender closed the connection before END' : 'the sender closed the connection inside a frame');
}

function describeSocketError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET') return 'the sender reset the connection';
  return (err as Error).message;
}

function hashFrame(digest: Hash, frame: Frame): void {
  digest.update(encodeFrameHeader(frame.type, frame.payload.length));
  digest.update(frame.payload);
}

function write(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(new CutTransfer(describeSocketError(err))) : resolve())));
}

export async function serveConnection(socket: Socket, policy: ConnectionPolicy): Promise<TransferOutcome> {
  const started = process.hrtime.bigint();
  const outcome = { name: '-', peer: peerOf(socket), bytes: 0 };
  const finish = (result: TransferResult, reason?: string): TransferOutcome => ({ ...outcome, result, reason, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  // Errors also reach us through the iterator; this listener keeps a late one from crashing the receiver.
  socket.on('error', () => undefined);
  socket.setTimeout(policy.handshakeTimeoutMs);
  socket.on('timeout', () => socket.destroy(new Error(`nothing received for ${Math.round(socket.timeout! / 1000)} s`)));
  const frames = framesOf(socket);
  let file: IncomingTarget | undefined;
  let accepted = false;
  try {
    const digest = createHash('sha256');
    const hello = await next(frames);
    if (hello.type !== FrameType.HELLO) throw new ProtocolError(`expected a HELLO frame first, got ${FrameType[hello.type]}`);
    hashFrame(digest, hello);
    const { version, token, name, hostname } = parseHello(hello.payload);
    if (!SUPPORTED_VERSIONS.includes(version)) throw new TransferRefused(ErrorCode.UNSUPPORTED_VERSION, `protocol version ${version} is not supported (this receiver speaks ${SUPPORTED_VERSIONS.join(' and ')})`);
    if (policy.token && !tokensMatch(policy.token, token)) throw new TransferRefused(ErrorCode.BAD_TOKEN, 'the token does not match the receiver\'s --token-file');
    outcome.name = name;
    const problem = dumpNameProblem(name);
    if (problem) throw new TransferRefused(ErrorCode.BAD_NAME, `refusing the dump name ${JSON.stringify(name)}: ${problem}`);
    file = await policy.store.open({ name, positioned: version >= POSITIONED_PROTOCOL_VERSION, hostname, peer: outcome.peer });
    accepted = true;
    socket.setTimeout(policy.idleTimeoutMs);
    await write(socket, encodeReady(name, version));
    const end = await receiveBody(frames, file, digest, version >= POSITIONED_PROTOCOL_VERSION);
    // A large file may take long to reach the disk; the sender is waiting for the ACK meanwhile.
    socket.setTimeout(0);
    outcome.bytes = file.size;
    if (end.dataBytes !== file.size) throw new TransferRefused(ErrorCode.CHECKSUM, `the sender sent ${end.dataBytes} bytes, but ${file.size} arrived`);
    await file.sync();
    if (!digest.digest().equals(end.digest)) throw new TransferRefused(ErrorCode.CHECKSUM, 'the SHA-256 of the frames received does not match the one in END');
    await file.publish();
    file = undefined;
    await new Promise<void>((resolve) => {
      socket.once('close', resolve);
      socket.end(encodeAck(outcome.bytes, name), resolve);
    });
    return finish('ok');
  } catch (err) {
    if (file) {
      outcome.bytes = file.size;
      await file.discard();
    }
    if (err instanceof CutTransfer) {
      socket.destroy();
      return finish('cut', err.message);
    }
    const refusal =
      err instanceof TransferRefused ? err
      : err instanceof ProtocolError ? new TransferRefused(ErrorCode.PROTOCOL, err.message)
      : new TransferRefused(ErrorCode.RECEIVER_IO, `receiver error: ${(err as Error).message}`);
    refuseAndClose(socket, refusal.code, refusal.message);
    return finish(accepted ? 'failed' : 'refused', refusal.message);
  } finally {
    await frames.return(undefined as never);
  }
}

async function next(frames: AsyncGenerator<Frame, never>): Promise<Frame> {
  const { value } = await frames.next();
  return value;
}

/** DATA, PATCH (and from version 2 WRITE_AT) frames until END; every frame is hashed as received. */
async function receiveBody(frames: AsyncGenerator<Frame, never>, file: IncomingTarget, digest: Hash, positioned: boolean): Promise<End> {
  for (;;) {
    const frame = await next(frames);
    switch (frame.type) {
      case FrameType.DATA:
        hashFrame(digest, frame);
        await file.append(frame.payload);
        break;
      case FrameType.PATCH: {
        hashFrame(digest, frame);
        const { offset, bytes } = parsePatch(frame.payload);
        await file.patch(offset, bytes);
        break;
      }
      case FrameType.WRITE_AT: {
        if (!positioned) throw new ProtocolError(`WRITE_AT frame in a version ${PROTOCOL_VERSION} transfer`);
        hashFrame(digest, frame);
        const { offset, bytes } = parsePatch(frame.payload, 'WRITE_AT');
        await file.writeAt(offset, bytes);
        break;
      }
      case FrameType.END:
        return parseEnd(frame.payload);
      default:
        throw new ProtocolError(`unexpected ${FrameType[frame.type]} frame during the transfer`);
    }
  }
}
