// What `receive` does once its options are parsed: runs the server until SIGTERM or SIGINT.

import { readFile } from 'node:fs/promises';
import { IoError, UsageError } from '../errors.js';
import { startReceiver } from '../net/receiver.js';
import { readTokenFile } from '../net/token.js';
import { parseSize } from './format.js';
import { s3OptionsOf } from './s3-options.js';
import { S3_FLAGS, S3_URL } from '../sinks/s3-target.js';
import type { ReceiveArgs } from './receive-command.js';

export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--listen ${value}: want HOST:PORT, [IPV6]:PORT or PORT`);
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

async function readPem(file: string | undefined, option: string): Promise<Buffer | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    throw new IoError(`cannot read ${option} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export async function runReceiveCommand(args: ReceiveArgs): Promise<void> {
  const log = (line: string) => process.stderr.write(`slim-core receive: ${line}\n`);
  const { host, port } = parseListen(args.listen);
  if (args.tokenFile && args.insecure) throw new UsageError('--insecure and --token-file contradict each other: give one');
  if (!args.tokenFile && !args.insecure) throw new UsageError('receive needs --token-file FILE (or --insecure, to accept dumps from anyone who can connect)');
  if (Boolean(args.tlsCert) !== Boolean(args.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  if (args.tlsCa && !args.tlsCert) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
  if (!Number.isInteger(args.maxConnections) || args.maxConnections < 1) throw new UsageError(`--max-connections must be a whole number of at least 1`);
  if (!(args.idleTimeout > 0)) throw new UsageError('--idle-timeout must be a number of seconds above 0');
  if ((args.dir === undefined) === (args.to === undefined)) throw new UsageError('receive needs --dir DIR or --to s3://BUCKET[/PREFIX]: one of the two');
  if (args.to !== undefined && !S3_URL.test(args.to)) throw new UsageError(`--to ${args.to}: want s3://BUCKET[/PREFIX]`);
  const s3 = s3OptionsOf(args);
  const s3Given = Object.entries(s3).find(([, value]) => value !== undefined);
  if (s3Given && args.to === undefined) throw new UsageError(`${S3_FLAGS[s3Given[0] as keyof typeof S3_FLAGS]} needs --to s3://`);
  const maxSize = args.maxSize === undefined ? undefined : parseSize(args.maxSize, '--max-size');
  // Loaded only for --to: a receiver writing to a directory starts as before.
  const store = args.to === undefined ? undefined : await (await import('../net/receiver-s3.js')).s3Store(args.to, s3, maxSize);
  const [cert, key, ca] = await Promise.all([readPem(args.tlsCert, '--tls-cert'), readPem(args.tlsKey, '--tls-key'), readPem(args.tlsCa, '--tls-ca')]);
  const receiver = await startReceiver({
    host,
    port,
    dir: args.dir,
    store,
    token: args.tokenFile ? await readTokenFile(args.tokenFile) : undefined,
    maxSize,
    maxConnections: args.maxConnections,
    idleTimeoutMs: args.idleTimeout * 1000,
    tls: cert && key ? { cert, key, ca } : undefined,
    log,
  });
  const where = receiver.host.includes(':') ? `[${receiver.host}]:${receiver.port}` : `${receiver.host}:${receiver.port}`;
  log(`listening on ${where} (${cert ? (ca ? 'TLS, client certificates required' : 'TLS') : 'plain TCP'}${args.insecure ? ', no token: --insecure' : ''}), ${store ? store.describe : `writing to ${args.dir}`}`);
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log(`${signal}: no new connections; finishing ${receiver.active} transfer(s) in flight (send it again to cut them)`);
        void receiver.stop().then(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        });
      } else {
        log(`${signal}: cutting ${receiver.active} transfer(s) in flight`);
        void receiver.abort();
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  log('stopped');
}
