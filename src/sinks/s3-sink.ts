// The s3:// sink: a multipart upload that becomes an object only once complete, and is aborted on any failure.

import { IoError } from '../errors.js';
import type { DumpFacts } from '../pipeline/dump-facts.js';
import { slimCoreVersion } from '../version.js';
import type { DumpSink } from './dump-sink.js';
import { connectS3, describeS3Error, type S3Connection } from './s3-client.js';
import { s3Metadata } from './s3-metadata.js';
import { PartWriter } from './s3-parts.js';
import { checkS3Options, parseS3Url, partPlan, type S3Options } from './s3-target.js';

/** How long a failed capture keeps trying to abort its upload (the store may be restarting) before leaving it. */
const ABORT_PATIENCE_MS = 60_000;
const ABORT_FIRST_WAIT_MS = 500;
const ABORT_LONGEST_WAIT_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** HeadBucket: a missing bucket or wrong keys fail at once, before anything is uploaded; the client is destroyed then. */
export async function checkBucket(connection: S3Connection, url: string, bucket: string): Promise<void> {
  const { sdk, client } = connection;
  try {
    await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    client.destroy();
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new IoError(`${url}: bucket ${bucket} does not exist at ${connection.endpoint}`, { cause: err });
    throw new IoError(`${url}: checking the bucket: ${describeS3Error(err, connection, bucket)}`, { cause: err });
  }
}

/** `fixedMetadata` is stored whatever describe() is given (the receiver's, which has no facts of the dump). */
export async function openS3Sink(target: string, options: S3Options = {}, fixedMetadata: Record<string, string> = {}): Promise<DumpSink> {
  const { url, bucket, key } = parseS3Url(target);
  checkS3Options(options);
  const { partSize, queue } = partPlan(options);
  const connection = await connectS3(options, queue + 2);
  const { sdk, client } = connection;
  const failed = (doing: string, err: unknown) => new IoError(`${url}: ${doing}: ${describeS3Error(err, connection, bucket)}`, { cause: err });
  await checkBucket(connection, url, bucket);

  let metadata = { ...s3Metadata(undefined, slimCoreVersion()), ...fixedMetadata };
  let uploadId: Promise<string> | undefined;
  const createUpload = () =>
    (uploadId ??= client
      .send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: metadata, ContentType: 'application/octet-stream' }))
      .then(
        (out) => {
          if (!out.UploadId) throw new Error('the store returned no UploadId');
          return out.UploadId;
        },
        (err) => {
          throw failed('starting the upload', err);
        },
      ));

  const writer = new PartWriter(
    async (PartNumber, Body, abortSignal) => {
      const UploadId = await createUpload();
      try {
        const out = await client.send(new sdk.UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body, ContentLength: Body.length }), { abortSignal });
        return out.ETag ?? '';
      } catch (err) {
        throw failed(`uploading part ${PartNumber}`, err);
      }
    },
    partSize,
    queue,
  );

  return {
    name: url,
    stream: writer.stream,
    onWritten(listener) {
      writer.onWritten = listener;
    },
    // Only the held first part (headers and notes) can be rewritten. Hook for formats that patch further in (kdump's
    // header and bitmaps): they use their flattened form, whose patches are records appended to the stream.
    canPatch: true,
    async patch(offset, bytes) {
      writer.patch(offset, bytes);
    },
    describe(facts: DumpFacts) {
      metadata = { ...s3Metadata(facts, slimCoreVersion()), ...fixedMetadata };
      return { ...metadata };
    },
    async commit() {
      const parts = await writer.finish();
      const UploadId = await createUpload();
      try {
        await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
      } catch (err) {
        throw failed('completing the upload', err);
      }
      // Ceph 16 answers Complete with an empty ETag: the object's own size is the check that holds everywhere.
      const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key })).catch((err) => {
        throw failed('checking the object', err);
      });
      if (head.ContentLength !== writer.written) {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
        throw new IoError(`${url}: the store holds ${head.ContentLength} bytes, but ${writer.written} were sent; the object was deleted`);
      }
      if (process.env.SLIMCORE_S3_STATS) {
        const { parts: count, bufferBytes } = writer.stats;
        process.stderr.write(`slim-core: s3: ${writer.written} bytes in ${count} parts; part buffers ${bufferBytes} bytes\n`);
      }
      client.destroy();
    },
    async abort() {
      await writer.cancelAll();
      const id = await uploadId?.catch(() => undefined);
      try {
        if (id) await abortPatiently(connection, bucket, key, id);
      } finally {
        client.destroy();
      }
    },
  };
}

/** AbortMultipartUpload, tried again (the SDK retries each try too) until it works or the patience runs out. */
async function abortPatiently({ sdk, client }: S3Connection, bucket: string, key: string, UploadId: string): Promise<void> {
  const deadline = Date.now() + ABORT_PATIENCE_MS;
  for (let wait = ABORT_FIRST_WAIT_MS; ; wait = Math.min(wait * 2, ABORT_LONGEST_WAIT_MS)) {
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      return;
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchUpload') return;
      if (Date.now() + wait > deadline) throw err;
      await sleep(wait);
    }
  }
}
