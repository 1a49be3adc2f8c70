// One Ceph RGW per test file with a bucket and an SDK client of its own: download, check what is left, the CLI's s3 options.

import test, { type ExecutionContext } from 'ava';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startCephRgw, type RgwCluster } from './ceph-rgw.js';

export const BUCKET = 'dumps';

export interface S3Store {
  cluster: RgwCluster;
  s3: S3Client;
}

/** Registers the file's before and after hooks; the store is there once `before` ran. */
export function useS3Store(): { readonly cluster: RgwCluster; readonly s3: S3Client } {
  const store: Partial<S3Store> = {};
  test.before(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    store.cluster = await startCephRgw();
    store.s3 = new S3Client({
      endpoint: store.cluster.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: store.cluster.accessKey, secretAccessKey: store.cluster.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await store.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  test.after.always(async () => {
    store.s3?.destroy();
    await store.cluster?.stop();
  });
  return {
    get cluster() {
      return store.cluster!;
    },
    get s3() {
      return store.s3!;
    },
  };
}

/** The CLI options that reach the store (or a relay in front of it). */
export function s3Args(cluster: RgwCluster, endpoint = cluster.endpoint): string[] {
  return ['--s3-endpoint', endpoint, '--s3-path-style', '--s3-credentials', cluster.credentialsFile];
}

export async function download(s3: S3Client, key: string, file: string): Promise<void> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  await pipeline(out.Body as Readable, createWriteStream(file));
}

export async function removeObject(s3: S3Client, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
}

/** Neither an object nor a pending multipart upload under `key`. */
export async function assertNothingLeft(t: ExecutionContext, s3: S3Client, key: string): Promise<void> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => 'exists',
    (err: { $metadata?: { httpStatusCode?: number } }) => `HTTP ${err.$metadata?.httpStatusCode}`,
  );
  t.is(head, 'HTTP 404', `no object ${key}`);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
  t.deepEqual((uploads.Uploads ?? []).map((u) => u.Key), [], `no pending upload under ${key}`);
}

/** A pending upload's parts, once it has at least one: the capture is then mid-upload. */
export async function partsUploaded(s3: S3Client, key: string): Promise<number> {
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
  const upload = uploads.Uploads?.find((u) => u.Key === key);
  if (!upload) return 0;
  const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: upload.UploadId }));
  return parts.Parts?.length ?? 0;
}

export async function objectMetadata(s3: S3Client, key: string): Promise<Record<string, string>> {
  return (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).Metadata ?? {};
}
