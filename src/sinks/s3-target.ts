// The s3:// output: its URL, the settings that reach the store, and their limits (checked before the SDK loads).

import { UsageError } from '../errors.js';

const MiB = 1 << 20;
export const MIN_PART_SIZE = 8 * MiB;
export const MAX_PART_SIZE = 32 * MiB;
export const DEFAULT_PART_SIZE = 8 * MiB;
/** Two in flight kept pace with RGW on two cores (the store, not the sender, is the limit there): bench/README.md. */
export const DEFAULT_QUEUE = 2;
/**
 * Part buffers (queue x part size) stay under this: with the held first part (8 MiB), the read pool (16 MiB), the SDK
 * (about 25 MiB) and Node itself, the sender stays within 128 MiB.
 */
export const MAX_PARTS_IN_FLIGHT_BYTES = 32 * MiB;
export const DEFAULT_TIMEOUT_S = 30;
export const DEFAULT_RETRIES = 3;
export type ChecksumMode = 'when-required' | 'when-supported';

export interface S3Options {
  /** Default: the SDK's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  pathStyle?: boolean;
  /** A shared credentials file (INI, [default] or AWS_PROFILE's section); default: the SDK's chain. */
  credentialsFile?: string;
  /** PEM CA bundle for an https endpoint (default: the system's). */
  ca?: string;
  checksums?: ChecksumMode;
  partSize?: number;
  queue?: number;
  /** Seconds without progress on a connection before a request counts as failed. */
  timeoutSeconds?: number;
  /** Retries of one request (with the SDK's backoff) before the capture fails. */
  retries?: number;
}

export interface S3Target {
  url: string;
  bucket: string;
  key: string;
}

/** Each setting's command-line flag, for messages. */
export const S3_FLAGS: Record<keyof S3Options, string> = {
  endpoint: '--s3-endpoint',
  region: '--s3-region',
  pathStyle: '--s3-path-style',
  credentialsFile: '--s3-credentials',
  ca: '--s3-ca',
  checksums: '--s3-checksums',
  partSize: '--s3-part-size',
  queue: '--s3-queue',
  timeoutSeconds: '--s3-timeout',
  retries: '--s3-retries',
};

export const S3_URL = /^s3:\/\//i;

/** s3://BUCKET/KEY; the key may hold slashes, and may not end in one. */
export function parseS3Url(target: string): S3Target {
  const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(target);
  if (!match || match[2].endsWith('/')) throw new UsageError(`output ${target}: want s3://BUCKET/KEY`);
  const [, bucket, key] = match;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UsageError(`output ${target}: ${JSON.stringify(bucket)} is not a valid bucket name`);
  if (Buffer.byteLength(key) > 1024) throw new UsageError(`output ${target}: the key is longer than S3's 1024 bytes`);
  return { url: `s3://${bucket}/${key}`, bucket, key };
}

export interface PartPlan {
  partSize: number;
  queue: number;
}

export function partPlan(options: S3Options): PartPlan {
  const partSize = options.partSize ?? DEFAULT_PART_SIZE;
  const queue = options.queue ?? DEFAULT_QUEUE;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new UsageError(`--s3-part-size ${partSize}: want 8 to 32 MiB`);
  }
  if (!Number.isInteger(queue) || queue < 1) throw new UsageError(`--s3-queue ${queue}: want a whole number from 1`);
  if (queue * partSize > MAX_PARTS_IN_FLIGHT_BYTES) {
    throw new UsageError(`--s3-queue ${queue} parts of ${partSize / MiB} MiB: at most ${MAX_PARTS_IN_FLIGHT_BYTES / MiB} MiB may be in flight`);
  }
  return { partSize, queue };
}

export function checkS3Options(options: S3Options): void {
  partPlan(options);
  const { timeoutSeconds, retries, checksums } = options;
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) throw new UsageError(`--s3-timeout ${timeoutSeconds}: want seconds above 0`);
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 10)) throw new UsageError(`--s3-retries ${retries}: want 0 to 10`);
  if (checksums !== undefined && checksums !== 'when-required' && checksums !== 'when-supported') throw new UsageError(`--s3-checksums ${checksums}: want when-required or when-supported`);
  if (options.endpoint !== undefined && !/^https?:\/\/[^/]+/i.test(options.endpoint)) throw new UsageError(`--s3-endpoint ${options.endpoint}: want http://HOST[:PORT] or https://HOST[:PORT]`);
}
