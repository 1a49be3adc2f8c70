// -o s3:// against a real Ceph RADOS Gateway started for this file: same bytes as -o FILE, metadata, all or nothing.

import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { rgwLog } from './helpers/ceph-rgw.js';
import { assertNothingLeft, BUCKET, download, partsUploaded, s3Args, useS3Store } from './helpers/s3-store.js';
import { runCli, runShell } from './helpers/cli.js';
import { realFixturePath, repoRoot } from './helpers/fixture.js';
import { mountFaulty } from './helpers/faulty-mount.js';
import { readBack } from './helpers/read-dump.js';
import { assertSameFile, feed, startSender } from './helpers/receiver-process.js';
import { writeSyntheticVmcore, makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { rssOf, startThrottledRelay } from './helpers/throttled-relay.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureVmlinux } from './helpers/vmlinux.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const PAGE = 4096;

const store = useS3Store();

function assertOneLineExit4(t: ExecutionContext, result: { code: number | null; stderr: string }, pattern: RegExp): void {
  t.is(result.code, 4, result.stderr);
  const lines = result.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one line: ${result.stderr}`);
  t.regex(lines[0], /^slim-core: s3:\/\//);
  t.regex(lines[0], pattern);
}

const packageVersion = async () => (JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The crashed kernel's host name as drgn reads it with the debug vmlinux: a reader nobody here wrote. */
async function drgnNodename(dump: string): Promise<string> {
  const script = 'import drgn,sys\np=drgn.Program()\np.set_core_dump(sys.argv[1])\np.load_debug_info([sys.argv[2]])\nprint(p["init_uts_ns"].name.nodename.string_().decode())';
  const { stdout } = await run('/usr/bin/python3', ['-c', script, dump, await fixtureVmlinux()], { timeout: 240_000 });
  return stdout.trim();
}

let nodename: Promise<string> | undefined;

for (const mode of ['full', 'slim'] as const) {
  for (const from of ['file', 'pipe'] as const) {
    test.serial(`a ${mode} dump of the real fixture from a ${from}: the object equals -o FILE byte for byte, with its metadata`, async (t) => {
      const dir = await tempDir(t, 's3-id');
      const fixture = await realFixturePath('mce');
      nodename ??= drgnNodename(fixture);
      const key = `real/${mode}-${from}.elf`;
      const expected = path.join(dir, 'expected.elf');
      const capture = (out: string, extra: string[]) =>
        from === 'file'
          ? runCli([fixture, '--mode', mode, '--no-sync', '-o', out, ...extra])
          : runShell(`cat "$1" | $CLI - --mode ${mode} --no-sync -o "$2" ${extra.map((a) => `'${a}'`).join(' ')}`, [fixture, out]);
      const local = await capture(expected, ['-q']);
      t.is(local.code, 0, local.stderr);
      const result = await capture(`s3://${BUCKET}/${key}`, ['--json', ...s3Args(store.cluster)]);
      t.is(result.code, 0, result.stderr);
      const got = path.join(dir, 'got.elf');
      await download(store.s3, key, got);
      await assertSameFile(t, got, expected);

      const summary = JSON.parse(result.stderr.trim().split('\n').pop()!) as { metadata: Record<string, string>; output: string };
      t.is(summary.output, `s3://${BUCKET}/${key}`);
      const head = await store.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      t.deepEqual(head.Metadata, summary.metadata, '--json shows what the object carries');
      const back = await readBack(expected);
      const meta: Record<string, string | undefined> = head.Metadata!;
      t.is(meta['slimcore-mode'], mode);
      t.is(meta['slimcore-version'], await packageVersion());
      t.is(meta['slimcore-kernel-release'], back.prefix.vmcoreinfo!.get('OSRELEASE'));
      t.is(meta['slimcore-kernel-release'], '6.1.0-56-amd64');
      t.is(meta['slimcore-crash-time'], back.prefix.vmcoreinfo!.get('CRASHTIME'));
      t.is(meta['slimcore-mce-bank'], String(back.mce[0].bank));
      t.is(meta['slimcore-mce-status'], `0x${back.mce[0].status.toString(16)}`);
      t.is(meta['slimcore-mce-addr'], `0x${back.mce[0].addr.toString(16)}`);
      t.is(meta['slimcore-cause'], back.causes[0], 'no read errors: the planned cause is the final one');
      t.is(meta['slimcore-hostname'], await nodename);
      const omittedPages = back.omitted!.entries.reduce((sum, e) => sum + Math.ceil(Number(e.length) / PAGE), 0);
      t.is(meta['slimcore-pages-omitted'], String(omittedPages));
      await store.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    });
  }
}

test.serial('pages that fail to read (FUSE EIO): the object equals -o FILE, OMITTED and CAUSE notes patched', async (t) => {
  const dir = await tempDir(t, 's3-eio');
  const backing = path.join(dir, 'vmcore.elf');
  const dump = await writeSyntheticVmcore(backing, { segments: [{ paddr: 0x100000n, size: 12 * MiB }, { paddr: 0x10000000n, size: 12 * MiB }] });
  const badPages = [dump.segments[0].fileOffset + 5 * PAGE, dump.segments[1].fileOffset + 2000 * PAGE];
  const mount = await mountFaulty(t, { backing, badPages });
  const expected = path.join(dir, 'expected.elf');
  const local = await runCli([mount.file, '--mode', 'full', '--no-klog', '--no-sync', '-q', '-o', expected]);
  t.is(local.code, 0, local.stderr);
  const key = 'eio/full.elf';
  const result = await runCli([mount.file, '--mode', 'full', '--no-klog', '-q', '-o', `s3://${BUCKET}/${key}`, ...s3Args(store.cluster)]);
  t.is(result.code, 0, result.stderr);
  const got = path.join(dir, 'got.elf');
  await download(store.s3, key, got);
  await assertSameFile(t, got, expected);
  const back = await readBack(got);
  t.is(back.omitted!.entries.filter((e) => e.reason === OmitReason.READ_ERROR).length, 2);
  t.regex(back.causes[0], /2 unreadable page\(s\) zero-filled/);
  await store.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
});

test.serial('wrong credentials: exit 4 with one line, nothing stored', async (t) => {
  const dir = await tempDir(t, 's3-cred');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, { segments: [{ paddr: 0x100000n, size: MiB }] });
  const wrong = path.join(dir, 'credentials');
  await writeFile(wrong, `[default]\naws_access_key_id = ${store.cluster.accessKey}\naws_secret_access_key = not-the-secret\n`);
  const key = 'fail/credentials.elf';
  const result = await runCli([input, '--no-klog', '-o', `s3://${BUCKET}/${key}`, '--s3-endpoint', store.cluster.endpoint, '--s3-path-style', '--s3-credentials', wrong]);
  assertOneLineExit4(t, result, /access denied \(SignatureDoesNotMatch\)|access denied/);
  await assertNothingLeft(t, store.s3, key);
});

test.serial('a bucket that does not exist: exit 4 with one line naming it', async (t) => {
  const dir = await tempDir(t, 's3-nobucket');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, { segments: [{ paddr: 0x100000n, size: MiB }] });
  const result = await runCli([input, '--no-klog', '-o', 's3://no-such-bucket/x.elf', ...s3Args(store.cluster)]);
  assertOneLineExit4(t, result, /bucket no-such-bucket does not exist/);
});

/** Starts a capture from a pipe, and feeds it until the store holds a part; the rest is fed in the background. */
async function midUpload(t: ExecutionContext, key: string, extra: string[]) {
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 48 * MiB }, { paddr: 0x10000000n, size: 48 * MiB }] });
  const sender = startSender(t, ['-', '--mode', 'full', '--no-klog', '-q', '-o', `s3://${BUCKET}/${key}`, ...s3Args(store.cluster), ...extra], { SLIMCORE_DEBUG: process.env.SLIMCORE_DEBUG ?? '' });
  let at = 0;
  const piece = 256 * 1024;
  while ((await partsUploaded(store.s3, key)) === 0) {
    if (at >= 40 * MiB) throw new Error(`no part reached the store after ${at} bytes: ${await rgwLog(store.cluster)}`);
    const end = Math.min(at + 4 * MiB, dump.bytes.length);
    for (; at < end; at += piece) await feed(sender.child.stdin, dump.bytes.subarray(at, at + piece));
  }
  const { stdin } = sender.child;
  // The sender stops reading when it fails: feed only while its stdin is open, or the last write waits for ever.
  const rest = (async () => {
    for (; at < dump.bytes.length && !stdin.destroyed; at += piece) await feed(stdin, dump.bytes.subarray(at, at + piece));
    if (!stdin.destroyed) stdin.end();
  })();
  return { sender, rest };
}

test.serial('RGW killed mid-upload: the upload is aborted once RGW is back, exit 4 with one line, nothing stored', async (t) => {
  const key = 'fail/killed.elf';
  const { sender, rest } = await midUpload(t, key, ['--s3-retries', '1']);
  await store.cluster.killRgw();
  // Long enough for the part's retries to be spent against a dead port; the sender then keeps trying to abort.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await store.cluster.startRgw();
  const result = await sender.exited;
  await rest;
  assertOneLineExit4(t, result, /uploading part \d+: (connection refused by|connection to) http:\/\/127\.0\.0\.1:\d+/);
  await assertNothingLeft(t, store.s3, key);
});

test.serial('RGW stopped (SIGSTOP) mid-upload: a timeout naming its value, the upload aborted once RGW resumes, nothing stored', async (t) => {
  const key = 'fail/stopped.elf';
  const { sender, rest } = await midUpload(t, key, ['--s3-timeout', '2', '--s3-retries', '1']);
  store.cluster.signalRgw('SIGSTOP');
  let resumed = false;
  t.teardown(() => {
    if (!resumed) store.cluster.signalRgw('SIGCONT');
  });
  // Two tries of 2 s each fail the part; the abort then waits for RGW.
  await new Promise((resolve) => setTimeout(resolve, 9000));
  store.cluster.signalRgw('SIGCONT');
  resumed = true;
  const result = await sender.exited;
  await rest;
  assertOneLineExit4(t, result, /no answer from http:\/\/127\.0\.0\.1:\d+ within 2 s \(--s3-timeout\)/);
  await assertNothingLeft(t, store.s3, key);
});

test.serial('RGW behind a relay at 8 MiB/s: the sender reads only as fast as it uploads, RSS within 128 MiB', async (t) => {
  const dir = await tempDir(t, 's3-bp');
  const RATE = 8 * MiB;
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 48 * MiB }, { paddr: 0x10000000n, size: 48 * MiB }] });
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dump.bytes);
  const expected = path.join(dir, 'expected.elf');
  // From a pipe, as the sender below reads: a file input would reserve room for read errors in the notes.
  const local = await runShell('cat "$1" | $CLI - --mode full --no-klog --no-sync -q -o "$2"', [input, expected]);
  t.is(local.code, 0, local.stderr);
  const relay = await startThrottledRelay(store.cluster.port, RATE);
  t.teardown(() => relay.close());
  const key = 'slow/full.elf';
  const sender = startSender(t, ['-', '--mode', 'full', '--no-klog', '-q', '-o', `s3://${BUCKET}/${key}`, ...s3Args(store.cluster, `http://127.0.0.1:${relay.port}`)], { SLIMCORE_S3_STATS: '1' });
  let fed = 0;
  const samples: { fed: number; forwarded: number; rss?: number }[] = [];
  const sampler = setInterval(() => {
    const at = { fed, forwarded: relay.forwarded() };
    void rssOf(sender.child.pid!).then((rss) => samples.push({ ...at, rss }));
  }, 100);
  const piece = 256 * 1024;
  for (let at = 0; at < dump.bytes.length; at += piece) {
    await feed(sender.child.stdin, dump.bytes.subarray(at, at + piece));
    fed = Math.min(at + piece, dump.bytes.length);
  }
  sender.child.stdin.end();
  const result = await sender.exited;
  clearInterval(sampler);
  t.is(result.code, 0, result.stderr);
  const got = path.join(dir, 'got.elf');
  await download(store.s3, key, got);
  await assertSameFile(t, got, expected);

  const stats = /part buffers (\d+) bytes/.exec(result.stderr);
  t.truthy(stats, result.stderr);
  // The held first part, the parts in flight (2 x 8 MiB), the read pool (4 x 4 MiB), the pipe and the sockets' queues.
  const leadBound = Number(stats![1]) + 16 * MiB + 16 * MiB;
  const lead = Math.max(...samples.map((s) => s.fed - s.forwarded));
  const rss = Math.max(...samples.map((s) => s.rss ?? 0));
  t.log(`input read ahead of what passed the relay, most ever: ${(lead / MiB).toFixed(1)} MiB (bound ${(leadBound / MiB).toFixed(1)}); part buffers ${(Number(stats![1]) / MiB).toFixed(0)} MiB`);
  t.log(`sender RSS at most ${(rss / MiB).toFixed(1)} MiB over ${samples.length} samples`);
  t.true(lead <= leadBound, `read ${lead} bytes ahead of the store`);
  t.true(rss <= 128 * MiB, `RSS reached ${rss} bytes`);
  await store.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
});
