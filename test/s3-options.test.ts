// s3:// without a store: URL and option checks (exit 2 before the SDK loads), the credentials file, the metadata limit.

import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { writeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { parseCredentialsFile } from '../src/sinks/s3-client.js';
import { METADATA_LIMIT, metadataBytes, s3Metadata } from '../src/sinks/s3-metadata.js';
import { parseS3Url } from '../src/sinks/s3-target.js';

test('s3:// URLs: bucket and key, with slashes in the key; bad ones refused', (t) => {
  t.deepEqual(parseS3Url('s3://dumps/2026/web-17.vmcore'), { url: 's3://dumps/2026/web-17.vmcore', bucket: 'dumps', key: '2026/web-17.vmcore' });
  for (const bad of ['s3://dumps', 's3://dumps/', 's3://dumps/dir/', 's3://Bad_Bucket/k']) t.throws(() => parseS3Url(bad), undefined, bad);
});

test('a credentials file: [default], or the profile asked for', (t) => {
  const text = '[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n\n[other]\naws_access_key_id=AK2\naws_secret_access_key=SK2\naws_session_token = T\n';
  t.deepEqual(parseCredentialsFile(text, 'f'), { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: undefined });
  t.deepEqual(parseCredentialsFile(text, 'f', 'other'), { accessKeyId: 'AK2', secretAccessKey: 'SK2', sessionToken: 'T' });
  t.throws(() => parseCredentialsFile(text, 'f', 'missing'), { message: /no \[missing\] section/ });
});

test('metadata stays within S3\'s 2 KB, cutting the cause, and is printable ASCII', (t) => {
  const facts = {
    mode: 'full' as const,
    format: 'kdump-flattened' as const,
    dumpLevel: 31,
    cause: `memory error: ${'x'.repeat(5000)}\u00e9`,
    mce: { bank: 1, status: '0xbe00000000100134', addr: '0x345000', records: 1 },
    kernelRelease: '6.1.0-56-amd64',
    hostname: 'web-17',
    crashTime: '1795690541',
    pageSize: 4096,
    pagesDumped: 103340,
    pagesOmitted: 1,
    pagesZeroFilled: 1,
    slimCoreVersion: '0.1.0',
  };
  const metadata = s3Metadata(facts, '0.1.0');
  t.true(metadataBytes(metadata) <= METADATA_LIMIT, `${metadataBytes(metadata)} bytes`);
  t.true(metadata['slimcore-cause'].endsWith('...'));
  t.is(metadata['slimcore-hostname'], 'web-17');
  t.is(metadata['slimcore-format'], 'kdump-flattened');
  t.is(metadata['slimcore-dump-level'], '31');
  t.true(Object.values(metadata).every((v) => /^[\x20-\x7e]*$/.test(v)));
});

test('bad s3 settings, and s3 options without an s3:// output, are usage errors (exit 2)', async (t) => {
  const dir = await tempDir(t, 's3-opt');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, { segments: [{ paddr: 0x100000n, size: 1 << 20 }] });
  await writeFile(path.join(dir, 'x'), '');
  const cases: [string[], RegExp][] = [
    [['-o', 's3://dumps/'], /want s3:\/\/BUCKET\/KEY/],
    [['-o', 's3://dumps/k', '--s3-part-size', '4M'], /--s3-part-size 4194304: want 8 to 32 MiB/],
    [['-o', 's3://dumps/k', '--s3-queue', '8'], /at most 32 MiB may be in flight/],
    [['-o', 's3://dumps/k', '--s3-endpoint', 'ftp://x'], /--s3-endpoint ftp:\/\/x/],
    [['-o', path.join(dir, 'out'), '--s3-path-style'], /--s3-path-style needs an s3:\/\/ output/],
    [['-o', 's3://dumps/k', '--tls-cert', path.join(dir, 'x')], /--tls-cert needs a tcp:\/\/ or tls:\/\/ output/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli([input, '--no-klog', ...args]);
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, message);
  }
});
