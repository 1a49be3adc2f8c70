// Builds the AWS SDK's S3 client for an s3:// output; the SDK is loaded here, only when such an output is used.

import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { IoError, UsageError } from '../errors.js';
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, type S3Options } from './s3-target.js';

export type S3Sdk = typeof import('@aws-sdk/client-s3');

export interface S3Connection {
  sdk: S3Sdk;
  client: InstanceType<S3Sdk['S3Client']>;
  /** For messages: the endpoint the requests go to. */
  endpoint: string;
  timeoutSeconds: number;
}

interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The SDK writes nothing to the user's terminal: what matters reaches them as our own one-line errors. */
const SILENT = { debug() {}, info() {}, warn() {}, error() {}, trace() {} };

/** An AWS shared credentials file: the section named by AWS_PROFILE, else [default]. */
export function parseCredentialsFile(text: string, file: string, profile = process.env.AWS_PROFILE ?? 'default'): StaticCredentials {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const pair = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (pair && current) current.set(pair[1].toLowerCase(), pair[2]);
  }
  const chosen = sections.get(profile);
  const accessKeyId = chosen?.get('aws_access_key_id');
  const secretAccessKey = chosen?.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw new IoError(`--s3-credentials ${file}: no [${profile}] section with aws_access_key_id and aws_secret_access_key`);
  return { accessKeyId, secretAccessKey, sessionToken: chosen?.get('aws_session_token') };
}

async function readOptional(file: string | undefined, option: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new IoError(`cannot read ${option} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export async function connectS3(options: S3Options, sockets: number): Promise<S3Connection> {
  const [credentialsText, ca] = await Promise.all([readOptional(options.credentialsFile, '--s3-credentials'), readOptional(options.ca, '--s3-ca')]);
  const credentials = credentialsText === undefined ? undefined : parseCredentialsFile(credentialsText, options.credentialsFile!);
  // Node 20 is supported until 2027; the SDK's notice about it is for developers, not for a crash capture's log.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // A slimmed install (a capture kernel's image) may leave the SDK out: say so in one line.
  const sdk = await import('@aws-sdk/client-s3').catch((err: Error) => {
    throw new UsageError(`s3:// needs the AWS SDK (@aws-sdk/client-s3), which does not load here: ${err.message.split('\n')[0]}`);
  });
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_S;
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  // Ceph's RGW (16.x) rejects the SDK's default aws-chunked bodies with trailing checksums: only when required.
  const checksums = options.checksums === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const agentOptions = { keepAlive: true, maxSockets: sockets };
  const client = new sdk.S3Client({
    endpoint: options.endpoint,
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: options.pathStyle ?? false,
    credentials,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: (options.retries ?? DEFAULT_RETRIES) + 1,
    logger: SILENT,
    requestHandler: {
      connectionTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent({ ...agentOptions, ca }),
      logger: SILENT,
    },
  });
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? 'AWS S3';
  return { sdk, client, endpoint, timeoutSeconds };
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** One line for a failed request: what the store (or the connection to it) said. */
export function describeS3Error(err: unknown, connection: Pick<S3Connection, 'endpoint' | 'timeoutSeconds'>, bucket: string): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? e.name ?? '';
  if (e.name === 'TimeoutError' || code === 'ETIMEDOUT') return `no answer from ${connection.endpoint} within ${connection.timeoutSeconds} s (--s3-timeout)`;
  if (code === 'ECONNREFUSED') return `connection refused by ${connection.endpoint}`;
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(e.message ?? '')) return `connection to ${connection.endpoint} lost`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${connection.endpoint}`;
  if (code === 'NoSuchBucket') return `bucket ${bucket} does not exist`;
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'CredentialsProviderError'].includes(code) || status === 403) {
    return `access denied${code && code !== '403' && code !== 'Forbidden' ? ` (${code})` : ''}: check the credentials and the bucket's policy`;
  }
  const text = (e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  return `${code && !text.startsWith(code) ? `${code}: ` : ''}${text}${status ? ` (HTTP ${status})` : ''}`;
}
