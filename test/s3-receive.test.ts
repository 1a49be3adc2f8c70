// `slim-core receive --to s3://` against a real Ceph RGW: dumps sent over tcp:// become objects; a cut one leaves nothing.

import test from 'ava';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { assertNothingLeft, BUCKET, download, objectMetadata, partsUploaded, removeObject, s3Args, useS3Store } from './helpers/s3-store.js';
import { runCli, runShell } from './helpers/cli.js';
import { realFixturePath } from './helpers/fixture.js';
import { mountFaulty } from './helpers/faulty-mount.js';
import { readBack } from './helpers/read-dump.js';
import { assertSameFile, feed, startReceiverProcess, startSender } from './helpers/receiver-process.js';
import { makeSyntheticVmcore, writeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';

const MiB = 1 << 20;
const PAGE = 4096;
const PREFIX = 'fleet';

const store = useS3Store();

async function receiverIntoS3(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 's3-recv');
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'gateway-token\n');
  const receiver = await startReceiverProcess(t, `s3://${BUCKET}/${PREFIX}/`, ['--token-file', tokenFile, ...s3Args(store.cluster)]);
  const to = ['-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile];
  return { dir, receiver, to };
}

test.serial('ELF with pages that fail to read (FUSE EIO), through tcp:// into S3: the object equals -o FILE, its patched notes included', async (t) => {
  const { dir, receiver, to } = await receiverIntoS3(t);
  t.regex(receiver.lines()[0], new RegExp(`storing into s3://${BUCKET}/${PREFIX}/`));
  const backing = path.join(dir, 'vmcore.elf');
  const dump = await writeSyntheticVmcore(backing, { segments: [{ paddr: 0x100000n, size: 12 * MiB }, { paddr: 0x10000000n, size: 12 * MiB }] });
  const mount = await mountFaulty(t, { backing, badPages: [dump.segments[0].fileOffset + 5 * PAGE, dump.segments[1].fileOffset + 2000 * PAGE] });
  const expected = path.join(dir, 'expected.elf');
  const local = await runCli([mount.file, '--mode', 'full', '--no-klog', '--no-sync', '-q', '-o', expected]);
  t.is(local.code, 0, local.stderr);
  const sent = await runCli([mount.file, '--mode', 'full', '--no-klog', '-q', ...to, '--name', 'web-17.elf']);
  t.is(sent.code, 0, sent.stderr);
  const line = await receiver.waitForLine(/name="web-17.elf".*result=/);
  t.regex(line, /result=ok/);
  const key = `${PREFIX}/web-17.elf`;
  const got = path.join(dir, 'got.elf');
  await download(store.s3, key, got);
  await assertSameFile(t, got, expected);
  t.is((await readBack(got)).omitted!.entries.filter((e) => e.reason === OmitReason.READ_ERROR).length, 2);
  const meta = await objectMetadata(store.s3, key);
  t.is(meta['slimcore-format'], 'elf');
  t.truthy(meta['slimcore-sender'], 'the sender\'s host name, from its HELLO');
  t.regex(meta['slimcore-sender-address'], /^127\.0\.0\.1:\d+$/);
  // The receiver refuses to replace an object, as it refuses to replace a file.
  const again = await runCli([mount.file, '--mode', 'full', '--no-klog', '-q', ...to, '--name', 'web-17.elf']);
  t.is(again.code, 4, again.stderr);
  t.regex(again.stderr, /already exists/);
  await removeObject(store.s3, key);
});

test.serial('kdump -d 31 of the real fixture through tcp:// into S3: the positioned writes stored as flattened records; makedumpfile -R gives the -o FILE dump', async (t) => {
  const { dir, to } = await receiverIntoS3(t);
  const fixture = await realFixturePath('mce');
  const args = [fixture, '--mode', 'full', '--format', 'kdump', '-d', '31', '--no-sync', '-q'];
  const plain = path.join(dir, 'plain.kdump');
  const local = await runCli([...args, '-o', plain]);
  t.is(local.code, 0, local.stderr);
  const sent = await runCli([...args, ...to, '--name', 'db7.kdump']);
  t.is(sent.code, 0, sent.stderr);
  const key = `${PREFIX}/db7.kdump`;
  const got = path.join(dir, 'got.flat');
  await download(store.s3, key, got);
  const rearranged = path.join(dir, 'rearranged.kdump');
  await runShell('makedumpfile -R "$1" < "$2"', [rearranged, got]);
  await assertSameFile(t, rearranged, plain);
  t.is((await objectMetadata(store.s3, key))['slimcore-format'], 'kdump-flattened');
  await removeObject(store.s3, key);
});

test.serial('a sender killed mid-dump: the receiver aborts the upload; no object, no pending upload', async (t) => {
  const { receiver, to } = await receiverIntoS3(t);
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 48 * MiB }, { paddr: 0x10000000n, size: 48 * MiB }] });
  // A small look-ahead, so that what is fed goes on to the receiver at once rather than waiting in the sender.
  const sender = startSender(t, ['-', '--mode', 'full', '--no-klog', '--lookahead', String(MiB), '-q', ...to, '--name', 'cut.elf']);
  const key = `${PREFIX}/cut.elf`;
  let at = 0;
  const piece = 256 * 1024;
  while ((await partsUploaded(store.s3, key)) === 0) {
    if (at >= 80 * MiB) throw new Error(`no part reached the store after ${at} bytes; the receiver said:\n${receiver.lines().join('\n')}`);
    for (const end = at + 4 * MiB; at < end; at += piece) await feed(sender.child.stdin, dump.bytes.subarray(at, at + piece));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.true(at < dump.bytes.length, 'the sender is mid-dump');
  sender.child.kill('SIGKILL');
  await sender.exited;
  const line = await receiver.waitForLine(/name="cut.elf".*result=/, 30_000);
  t.regex(line, /result=cut/);
  await assertNothingLeft(t, store.s3, key);
});

test.serial('receive: --dir and --to together, --to that is not s3://, and --s3-* without --to are usage errors (exit 2)', async (t) => {
  const dir = await tempDir(t, 's3-recv-usage');
  const cases: [string[], RegExp][] = [
    [['--dir', dir, '--to', `s3://${BUCKET}`], /--dir DIR or --to s3:\/\/BUCKET\[\/PREFIX\]: one of the two/],
    [['--to', '/tmp/x'], /--to \/tmp\/x: want s3:\/\/BUCKET\[\/PREFIX\]/],
    [['--dir', dir, '--s3-path-style'], /--s3-path-style needs --to s3:\/\//],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['receive', '--insecure', '--listen', '127.0.0.1:0', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
  // A bucket that does not exist fails at start, not at the first dump.
  const missing = await runCli(['receive', '--insecure', '--listen', '127.0.0.1:0', '--to', 's3://no-such-bucket/x', ...s3Args(store.cluster)]);
  t.is(missing.code, 4, missing.stderr);
  t.regex(missing.stderr, /bucket no-such-bucket does not exist/);
});
