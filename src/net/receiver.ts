// The dump receiver: a TCP or TLS server that stores each sender's dump into one directory or bucket, several at once.

import net, { type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { IoError } from '../errors.js';
import { ErrorCode } from './protocol.js';
import { formatOutcome, peerOf, refuseAndClose, serveConnection, type ConnectionPolicy } from './receiver-connection.js';
import type { DumpStore } from './dump-store.js';
import { directoryStore } from './receiver-file.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from './receiver-defaults.js';

export { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS };

export interface ReceiverTls {
  cert: Buffer;
  key: Buffer;
  /** When given, senders must show a certificate signed by it. */
  ca?: Buffer;
}

export interface ReceiverOptions {
  host: string;
  port: number;
  /** A directory for the dumps, or another store (receive --to s3://): one of the two. */
  dir?: string;
  store?: DumpStore;
  /** Undefined only under --insecure: then anyone who can connect may send a dump. */
  token?: Buffer;
  /** Bytes one dump may occupy (a directory; a store given as `store` applies its own). */
  maxSize?: number;
  maxConnections?: number;
  tls?: ReceiverTls;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** One line per dump, and a few about the server itself. */
  log: (line: string) => void;
}

export interface Receiver {
  host: string;
  port: number;
  /** Transfers in flight. */
  readonly active: number;
  /** Stops taking connections; resolves once every transfer in flight has finished. */
  stop(): Promise<void>;
  /** Cuts every transfer in flight now (each deletes its incomplete file), then stops. */
  abort(): Promise<void>;
}

function createServer(options: ReceiverOptions, onSocket: (socket: Socket) => void): Server {
  if (!options.tls) return net.createServer(onSocket);
  const server = tls.createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.ca,
      requestCert: Boolean(options.tls.ca),
      rejectUnauthorized: Boolean(options.tls.ca),
      minVersion: 'TLSv1.2',
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    },
    onSocket,
  );
  server.on('tlsClientError', (err, socket) => {
    options.log(formatOutcome({ name: '-', peer: peerOf(socket), bytes: 0, seconds: 0, result: 'refused', reason: `TLS handshake: ${(err as Error & { reason?: string }).reason ?? err.message.split('\n')[0]}` }));
  });
  return server;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new IoError(`cannot listen on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  let store = options.store;
  if (!store) {
    if (options.dir === undefined) throw new Error('startReceiver needs a dir or a store');
    const directory = await directoryStore(options.dir, options.maxSize);
    if (directory.tightened) options.log(`tightened ${options.dir} to mode 0700`);
    store = directory;
  }
  const policy: ConnectionPolicy = {
    store,
    token: options.token,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  };
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const transfers = new Map<Socket, Promise<void>>();

  const server = createServer(options, (socket) => {
    if (transfers.size >= maxConnections) {
      refuseAndClose(socket, ErrorCode.BUSY, `the receiver is busy: ${maxConnections} transfers in flight (--max-connections)`);
      options.log(formatOutcome({ name: '-', peer: peerOf(socket), bytes: 0, seconds: 0, result: 'refused', reason: 'busy' }));
      return;
    }
    const done = serveConnection(socket, policy).then(
      (outcome) => options.log(formatOutcome(outcome)),
      (err: Error) => options.log(`internal error on a connection from ${peerOf(socket)}: ${err.message}`),
    );
    transfers.set(socket, done.finally(() => transfers.delete(socket)));
  });
  await listen(server, options.host, options.port);
  const address = server.address() as net.AddressInfo;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(transfers.values());
      await closed;
      store.close?.();
    })();
    return stopped;
  };
  return {
    host: address.address,
    port: address.port,
    get active() {
      return transfers.size;
    },
    stop,
    async abort() {
      for (const socket of transfers.keys()) socket.destroy();
      await stop();
    },
  };
}
