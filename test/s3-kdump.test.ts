// --format kdump -o s3:// against a real Ceph RGW: the flattened stream, as on stdout, with its metadata; all or nothing.

import test from 'ava';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { assertNothingLeft, BUCKET, download, objectMetadata, removeObject, s3Args, useS3Store } from './helpers/s3-store.js';
import { runCli, runShell } from './helpers/cli.js';
import { realFixturePath } from './helpers/fixture.js';
import { mountFaulty } from './helpers/faulty-mount.js';
import { kdumpBitmaps } from './helpers/kdump-file-bitmaps.js';
import { crashSays, elfPageHashes, libkdumpfileRead, sample } from './helpers/kdump-readers.js';
import { assertSameFile } from './helpers/receiver-process.js';
import { writeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureVmlinux } from './helpers/vmlinux.js';

const MiB = 1 << 20;
const PAGE = 4096;
/** A file keeps room in its notes for pages that fail to read; a stream cannot. With none allowed, the notes are the same on every sink. */
const SAME_NOTES = ['--max-read-errors', '0'];

const store = useS3Store();

function lastJson(stderr: string): Record<string, unknown> & { metadata: Record<string, string> } {
  try {
    return JSON.parse(stderr.trim().split('\n').pop()!) as Record<string, unknown> & { metadata: Record<string, string> };
  } catch {
    throw new Error(`no --json summary on stderr: ${stderr}`);
  }
}

for (const [mode, level] of [['full', 31], ['slim', 0]] as const) {
  test.serial(`${mode} -d ${level} of the real fixture: the object is the stdout stream byte for byte, makedumpfile -R makes it the -o FILE dump, readers open it, metadata right`, async (t) => {
    const dir = await tempDir(t, 's3-kdump');
    const fixture = await realFixturePath('mce');
    const args = [fixture, '--mode', mode, '--format', 'kdump', '-d', String(level), ...SAME_NOTES, '--no-sync'];
    const plain = path.join(dir, 'plain.kdump');
    const local = await runCli([...args, '-q', '-o', plain]);
    t.is(local.code, 0, local.stderr);
    const flat = path.join(dir, 'stdout.flat');
    const piped = await runShell(`$CLI ${args.map((a) => `'${a}'`).join(' ')} -q -o - > "$1"`, [flat]);
    t.is(piped.code, 0, piped.stderr);
    const key = `kdump/${mode}-d${level}.flat`;
    const sent = await runCli([...args, '--json', '-o', `s3://${BUCKET}/${key}`, ...s3Args(store.cluster)]);
    t.is(sent.code, 0, sent.stderr);
    t.notRegex(sent.stderr, /Warning|\(node:/, 'nothing but slim-core\'s own lines');

    const got = path.join(dir, 'got.flat');
    await download(store.s3, key, got);
    await assertSameFile(t, got, flat);
    const rearranged = path.join(dir, 'rearranged.kdump');
    await runShell('makedumpfile -R "$1" < "$2"', [rearranged, got]);
    await assertSameFile(t, rearranged, plain);

    const bitmaps = await kdumpBitmaps(rearranged);
    const kept = [...bitmaps.dumpable].sort((x, y) => x - y);
    const pfns = sample(kept, mode === 'full' ? 499 : 7);
    const [view, expected] = await Promise.all([libkdumpfileRead(rearranged, pfns), elfPageHashes(fixture, pfns)]);
    t.is(view.osrelease, '6.1.0-56-amd64');
    for (const pfn of pfns) t.is(view.pages[`0x${pfn.toString(16)}`], expected[`0x${pfn.toString(16)}`], `page 0x${pfn.toString(16)}`);
    // libkdumpfile reads no flattened file; crash does, straight from what was downloaded (a slim dump holds too
    // little of the kernel for crash to start: libkdumpfile above is its reader).
    if (mode === 'full') {
      const crash = await crashSays(await fixtureVmlinux(), got, ['sys']);
      t.regex(crash, /PANIC: "Kernel panic - not syncing: Fatal machine check"/);
    }

    const summary = lastJson(sent.stderr);
    const meta = await objectMetadata(store.s3, key);
    t.deepEqual(meta, summary.metadata, '--json shows what the object carries');
    t.is(meta['slimcore-format'], 'kdump-flattened');
    t.is(meta['slimcore-dump-level'], String(level));
    t.is(meta['slimcore-mode'], mode);
    t.is(meta['slimcore-kernel-release'], '6.1.0-56-amd64');
    t.is(meta['slimcore-pages-dumped'], String(bitmaps.dumpable.size), 'the pages the dumpable bitmap holds');
    t.is(meta['slimcore-mce-addr'], '0x345000');
    t.is(summary.bytes, (await readFile(plain)).length, '--json counts the plain file, as for stdout');
    await removeObject(store.s3, key);
  });
}

test.serial('from a pipe: refused before anything is sent (exit 2, one line), no object, no pending upload', async (t) => {
  const fixture = await realFixturePath('mce');
  const key = 'kdump/pipe.flat';
  const r = await runShell(`cat "$1" | $CLI - --mode full --format kdump -o "s3://${BUCKET}/${key}" ${s3Args(store.cluster).join(' ')}`, [fixture]);
  t.is(r.code, 2, r.stderr);
  t.deepEqual(r.stderr.trimEnd().split('\n'), ['slim-core: --format kdump reads pages in physical order, so it needs a file or device as input, not a pipe']);
  await assertNothingLeft(t, store.s3, key);
});

test.serial('pages that fail to read (FUSE EIO): the object equals flattened stdout, exit 5 for both, the pages listed in --report and --json only', async (t) => {
  const dir = await tempDir(t, 's3-kdump-eio');
  const backing = path.join(dir, 'vmcore.elf');
  const dump = await writeSyntheticVmcore(backing, { segments: [{ paddr: 0x100000n, size: 12 * MiB }, { paddr: 0x10000000n, size: 12 * MiB }] });
  const badPages = [dump.segments[0].fileOffset + 5 * PAGE, dump.segments[1].fileOffset + 2000 * PAGE];
  const mount = await mountFaulty(t, { backing, badPages });
  const args = [mount.file, '--mode', 'full', '--format', 'kdump', '--no-klog', '--no-sync', '--json'];
  const flat = path.join(dir, 'stdout.flat');
  const stdoutReport = path.join(dir, 'stdout.report.json');
  const piped = await runShell(`$CLI ${args.map((a) => `'${a}'`).join(' ')} --report "$2" -o - > "$1"`, [flat, stdoutReport]);
  t.is(piped.code, 5, piped.stderr);
  const key = 'kdump/eio.flat';
  const s3Report = path.join(dir, 's3.report.json');
  const sent = await runCli([...args, '--report', s3Report, '-o', `s3://${BUCKET}/${key}`, ...s3Args(store.cluster)]);
  t.is(sent.code, 5, sent.stderr);
  const got = path.join(dir, 'got.flat');
  await download(store.s3, key, got);
  await assertSameFile(t, got, flat);
  for (const [stderr, report] of [[piped.stderr, stdoutReport], [sent.stderr, s3Report]]) {
    const summary = lastJson(stderr);
    t.is(summary.readErrorPages, 2);
    t.is(summary.readErrorsListedInDump, false);
    const written = JSON.parse(await readFile(report, 'utf8')) as { readErrors: { pages: number; listedInDump: boolean; ranges: unknown[] } };
    t.is(written.readErrors.pages, 2);
    t.is(written.readErrors.listedInDump, false);
    t.is(written.readErrors.ranges.length, 2);
  }
  const meta = await objectMetadata(store.s3, key);
  t.regex(meta['slimcore-cause'], /pages that fail to read are listed only in the capture report/);
  const rearranged = path.join(dir, 'rearranged.kdump');
  await runShell('makedumpfile -R "$1" < "$2"', [rearranged, got]);
  const bitmaps = await kdumpBitmaps(rearranged);
  t.is(bitmaps.dumpable.size, (24 * MiB) / PAGE, 'the pages that failed are in the file, zero-filled');
  await removeObject(store.s3, key);
});
