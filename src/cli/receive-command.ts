// `receive`'s options: a long-running server that stores the dumps senders push with `-o tcp://` or `-o tls://`.

import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_PORT } from '../net/protocol.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from '../net/receiver-defaults.js';
import { withS3Options, type S3Args } from './s3-options.js';

export interface ReceiveArgs extends S3Args {
  listen: string;
  dir?: string;
  to?: string;
  tokenFile?: string;
  insecure: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  maxSize?: string;
  maxConnections: number;
  idleTimeout: number;
}

export const receiveCommand: CommandModule<object, ReceiveArgs> = {
  command: 'receive',
  describe: 'Receive dumps from senders (slim-core ... -o tcp://HOST:PORT or tls://) into a directory or an S3 bucket, until SIGTERM',
  builder: (y: Argv) =>
    withS3Options(y
      .option('listen', { type: 'string', default: `127.0.0.1:${DEFAULT_PORT}`, describe: 'HOST:PORT to listen on (port 0: any free port, printed at start)' })
      .option('dir', { type: 'string', describe: 'directory for the dumps (created, or tightened, to mode 0700)' })
      .option('to', { type: 'string', describe: 's3://BUCKET[/PREFIX]: store each dump as the object PREFIX/NAME instead (docs/network-protocol.md); the credentials stay here' })
      .option('token-file', { type: 'string', describe: 'file holding the token every sender must present (its --token-file)' })
      .option('insecure', { type: 'boolean', default: false, describe: 'accept dumps without a token from anyone who can connect' })
      .option('tls-cert', { type: 'string', describe: 'serve TLS with this certificate (PEM); needs --tls-key' })
      .option('tls-key', { type: 'string', describe: 'private key (PEM) of --tls-cert' })
      .option('tls-ca', { type: 'string', describe: 'require client certificates signed by this CA (PEM)' })
      .option('max-size', { type: 'string', describe: 'the most one dump may occupy, e.g. 64G; a bigger dump is refused and deleted' })
      .option('max-connections', { type: 'number', default: DEFAULT_MAX_CONNECTIONS, describe: 'transfers at once; more are refused as busy' })
      .option('idle-timeout', { type: 'number', default: DEFAULT_IDLE_TIMEOUT_MS / 1000, describe: 'seconds without data before a transfer is cut' }), '--to s3://') as unknown as Argv<ReceiveArgs>,
  handler: async (args) => {
    const { runReceiveCommand } = await import('./receive-run.js');
    await runReceiveCommand(args);
  },
};
