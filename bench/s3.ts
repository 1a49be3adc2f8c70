// Bench: a full dump of the real fixture to S3 (-o s3://) against the SDK's own multipart upload of the same file, same RGW.
// Run: node --import=tsx bench/s3.ts [rounds]   (starts its own Ceph RGW: scripts/apt-deps.sh installs it)

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startCephRgw } from '../test/helpers/ceph-rgw.js';
import { realFixturePath, repoRoot } from '../test/helpers/fixture.js';

const run = promisify(execFile);
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const MiB = 1 << 20;

/** The SDK's own way: lib-storage's Upload from a file stream, 8 MiB parts, 4 in flight (its documented defaults but the part size). */
const SDK_UPLOAD = `
import { createReadStream } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
const [file, endpoint, accessKeyId, secretAccessKey, key] = process.argv.slice(1);
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
await new Upload({ client, params: { Bucket: 'bench', Key: key, Body: createReadStream(file) }, partSize: 8 << 20, queueSize: 4, leavePartsOnError: false }).done();
client.destroy();
`;

async function timed(file: string, args: string[]): Promise<{ seconds: number; rssMiB: number }> {
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIME %e %M', file, ...args], {
    cwd: repoRoot,
    maxBuffer: 16 << 20,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const m = /TIME ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no timing in: ${stderr}`);
  return { seconds: Number(m[1]), rssMiB: Number(m[2]) / 1024 };
}

const rounds = Number(process.argv[2] ?? 2);
const fixture = await realFixturePath('mce');
const cluster = await startCephRgw();
try {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const s3 = new S3Client({ endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: cluster.accessKey, secretAccessKey: cluster.secretKey } });
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  const rows: { what: string; seconds: number; rssMiB: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    const ours = await timed(process.execPath, [CLI, fixture, '--mode', 'full', '-q', '-o', 's3://bench/slim-core.elf', '--s3-endpoint', cluster.endpoint, '--s3-path-style', '--s3-credentials', cluster.credentialsFile]);
    rows.push({ what: 'slim-core --mode full -o s3://', ...ours });
    await s3.send(new DeleteObjectCommand({ Bucket: 'bench', Key: 'slim-core.elf' }));
    const sdk = await timed(process.execPath, ['--input-type=module', '-e', SDK_UPLOAD, fixture, cluster.endpoint, cluster.accessKey, cluster.secretKey, 'sdk.elf']);
    rows.push({ what: 'lib-storage Upload (file stream)', ...sdk });
    await s3.send(new DeleteObjectCommand({ Bucket: 'bench', Key: 'sdk.elf' }));
  }
  s3.destroy();
  const size = 423_288_832;
  for (const r of rows) console.log(`${r.what.padEnd(36)} ${r.seconds.toFixed(2)} s  ${(size / MiB / r.seconds).toFixed(1)} MiB/s  max RSS ${r.rssMiB.toFixed(0)} MiB`);
  const best = (what: string) => Math.min(...rows.filter((r) => r.what.startsWith(what)).map((r) => r.seconds));
  console.log(`speed ratio slim-core / SDK (best of ${rounds}): ${(best('lib-storage') / best('slim-core')).toFixed(2)}`);
} finally {
  await cluster.stop();
}
