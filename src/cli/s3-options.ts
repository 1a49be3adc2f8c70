// The --s3-* options, shared by the capture (-o s3://) and the receiver (receive --to s3://), and what they mean.

import type { Argv } from 'yargs';
import { DEFAULT_QUEUE, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, type ChecksumMode, type S3Options } from '../sinks/s3-target.js';
import { parseSize } from './format.js';

export interface S3Args {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Credentials?: string;
  s3Ca?: string;
  s3Checksums?: ChecksumMode;
  s3PartSize?: string;
  s3Queue?: number;
  s3Timeout?: number;
  s3Retries?: number;
}

/** `appliesTo` heads each description: "s3://" for the capture, "--to s3://" for the receiver. */
export function withS3Options<T>(y: Argv<T>, appliesTo: string): Argv<T> {
  return y
    .option('s3-endpoint', { type: 'string', describe: `${appliesTo}: the store's URL, http(s)://HOST[:PORT] (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)` })
    .option('s3-region', { type: 'string', describe: `${appliesTo}: region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)` })
    .option('s3-path-style', { type: 'boolean', describe: `${appliesTo}: path-style requests (http://HOST/BUCKET/KEY), as most stores other than AWS want` })
    .option('s3-credentials', { type: 'string', describe: `${appliesTo}: AWS shared credentials file ([default] or AWS_PROFILE's section); default: the SDK's chain (environment, ~/.aws, ...)` })
    .option('s3-ca', { type: 'string', describe: `${appliesTo}: CA (PEM) to verify an https endpoint with` })
    .option('s3-checksums', { choices: ['when-required', 'when-supported'] as const, describe: `${appliesTo}: request and response checksums (default when-required: Ceph RGW 16 rejects the SDK's streamed ones)` })
    .option('s3-part-size', { type: 'string', describe: `${appliesTo}: multipart part size, 8M to 32M (default 8M)` })
    .option('s3-queue', { type: 'number', describe: `${appliesTo}: parts uploading at once (default ${DEFAULT_QUEUE}; queue x part size at most 32 MiB)` })
    .option('s3-timeout', { type: 'number', describe: `${appliesTo}: seconds without progress before a request fails (default ${DEFAULT_TIMEOUT_S})` })
    .option('s3-retries', { type: 'number', describe: `${appliesTo}: retries of a failed request, with backoff, before the dump fails (default ${DEFAULT_RETRIES})` });
}

export function s3OptionsOf(args: S3Args): S3Options {
  return {
    endpoint: args.s3Endpoint,
    region: args.s3Region,
    pathStyle: args.s3PathStyle,
    credentialsFile: args.s3Credentials,
    ca: args.s3Ca,
    checksums: args.s3Checksums,
    partSize: args.s3PartSize === undefined ? undefined : parseSize(args.s3PartSize, '--s3-part-size'),
    queue: args.s3Queue,
    timeoutSeconds: args.s3Timeout,
    retries: args.s3Retries,
  };
}
