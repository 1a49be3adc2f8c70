// The sender's side of the receiver's answers: READY, ACK or ERROR frames, and a link that fails, each as one IoError.

import type { Socket } from 'node:net';
import { IoError } from '../errors.js';
import { ErrorCode, FrameDecoder, FrameType, parseAck, parseError, parseReady, ProtocolError, type Frame } from '../net/protocol.js';

type Waiter = { want: FrameType; resolve: (frame: Frame) => void; reject: (err: Error) => void };

export class ReceiverReplies {
  private readonly decoder = new FrameDecoder();
  private waiter: Waiter | undefined;
  private drainWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private failure: IoError | undefined;
  private failureListeners: ((err: IoError) => void)[] = [];
  private acknowledged = false;
  private closing = false;

  /** `sent` says how far the transfer got, for messages. */
  constructor(private readonly socket: Socket, private readonly shownAs: string, private readonly sent: () => number) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.settleDrains());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.describe(err)));
    socket.on('end', () => this.fail(this.closedEarly('the receiver closed the connection')));
    socket.on('close', () => this.fail(this.closedEarly('the connection closed')));
  }

  ready(): Promise<{ version: number; name: string }> {
    return this.expect(FrameType.READY).then((frame) => parseReady(frame.payload));
  }

  ack(): Promise<{ bytes: number; name: string }> {
    return this.expect(FrameType.ACK).then((frame) => {
      this.acknowledged = true;
      return parseAck(frame.payload);
    });
  }

  /** Resolves on the socket's next 'drain'; rejects if the link fails first. */
  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  onFailure(listener: (err: IoError) => void): void {
    this.failureListeners.push(listener);
  }

  /** We are cutting the link ourselves: what follows is not the receiver's doing. */
  close(): void {
    this.closing = true;
  }

  private expect(want: FrameType): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { want, resolve, reject };
    });
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.fail(`the receiver's answer is not slim-core's protocol: ${err.message}`);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === FrameType.ERROR) {
      const { code, message } = parseError(frame.payload);
      this.fail(`the receiver refused the dump: ${message} (${ErrorCode[code] ?? `error ${code}`})`);
      this.socket.destroy();
      return;
    }
    const waiter = this.waiter;
    if (!waiter || waiter.want !== frame.type) {
      this.fail(`the receiver sent an unexpected ${FrameType[frame.type]} frame`);
      this.socket.destroy();
      return;
    }
    this.waiter = undefined;
    waiter.resolve(frame);
  }

  private describe(err: NodeJS.ErrnoException): string {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return `the connection was reset after ${this.sent()} bytes (${err.code}): did the receiver stop?`;
    if (err.code?.startsWith('ERR_SSL') || err.code?.startsWith('ERR_TLS')) {
      const reason = tlsReason(err);
      return `TLS: ${reason}${/certificate required/.test(reason) ? ' (the receiver wants a client certificate: --tls-cert and --tls-key)' : ''}`;
    }
    return err.message;
  }

  private closedEarly(what: string): string {
    if (this.waiter?.want === FrameType.READY) return `${what} before answering (is it \`slim-core receive\`? A TLS receiver needs tls://)`;
    return `${what} after ${this.sent()} bytes, before acknowledging the dump`;
  }

  private fail(message: string): void {
    if (this.failure || this.acknowledged || this.closing) return;
    this.failure = new IoError(`${this.shownAs}: ${message}`);
    this.waiter?.reject(this.failure);
    this.waiter = undefined;
    this.settleDrains();
    for (const listener of this.failureListeners) listener(this.failure);
  }

  private settleDrains(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) (this.failure ? w.reject(this.failure) : w.resolve());
  }
}

/** OpenSSL's reason ("tlsv13 alert certificate required"), without its multi-line error-queue dump. */
export function tlsReason(err: Error): string {
  return (err as Error & { reason?: string }).reason ?? err.message.split('\n')[0];
}
