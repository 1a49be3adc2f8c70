// Read-error recovery against a file whose chosen pages fail with a real kernel EIO (FUSE): zero-fill, list, cap, report.

import test from 'ava';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { startReceiver } from '../src/net/receiver.js';
import { capture } from '../src/pipeline/capture.js';
import { OmitReason, OMITTED_FLAG_MAY_BE_INCOMPLETE } from '../src/notes/slimcore-notes.js';
import { type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { readBack } from './helpers/read-dump.js';
import { assertCopy, expectedRanges, faultyDump, overRead, PAGE } from './helpers/faulty-dump.js';
import { runCli, runShell } from './helpers/cli.js';
import { assertReadersAccept } from './helpers/elf-readers.js';

const TWO_SEGMENTS: SyntheticOptions = { segments: [{ paddr: 0x100000n, size: 64 * PAGE }, { paddr: 0x800000n, size: 64 * PAGE }] };

test('the first and the last page of a segment fail: zero-filled, listed in the dump, read at most twice', async (t) => {
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[0].fileOffset, d.segments[1].fileOffset + 63 * PAGE]);
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false });
  t.is(result.readErrors.pages, 2);
  t.true(result.readErrors.listedInDump);
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expectedRanges(dump, badPages));
  t.is(back.omitted?.flags, 0);
  t.regex(back.causes[0], /full dump; 2 unreadable page\(s\) zero-filled \(read errors\)/);
  t.deepEqual(await overRead(mount, dump), []);
  await assertReadersAccept(t, out);
});

test('a page across a chunk boundary and runs of failing pages', async (t) => {
  // Chunks of 16.5 pages: page 16 straddles the first chunk boundary.
  const chunkSize = 16 * PAGE + PAGE / 2;
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => {
    const s = d.segments[0].fileOffset;
    return [s + 16 * PAGE, s + 30 * PAGE, s + 31 * PAGE, s + 32 * PAGE, s + 33 * PAGE, d.segments[1].fileOffset + 10 * PAGE, d.segments[1].fileOffset + 11 * PAGE];
  });
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false, chunkSize });
  t.is(result.readErrors.pages, 7);
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expectedRanges(dump, badPages));
  t.is(back.omitted?.entries.length, 3, 'neighbouring pages are merged into one range');
  t.deepEqual(await overRead(mount, dump), []);
});

test('1,000 random failing pages in a 256 MiB dump: exactly those are zero and listed', async (t) => {
  const size = 128 << 20;
  const opts: SyntheticOptions = { segments: [{ paddr: 0x1000000n, size }, { paddr: 0x20000000n, size }] };
  const pages = (2 * size) / PAGE;
  const picked = new Set<number>();
  let seed = 12345;
  while (picked.size < 1000) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    picked.add(seed % pages);
  }
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, opts, (d) =>
    [...picked].map((p) => (p < size / PAGE ? d.segments[0].fileOffset + p * PAGE : d.segments[1].fileOffset + (p - size / PAGE) * PAGE)),
  );
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false, maxReadErrors: 1000 });
  t.is(result.readErrors.pages, 1000);
  const expected = expectedRanges(dump, badPages);
  const back = await readBack(out);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expected, 'every failed page listed, nothing else');
  // Stream-compare the rest: reading 256 MiB into one Buffer per side is fine for a test, but a hash per page is enough.
  const bad = new Set(badPages);
  const input = createReadStream(backing, { highWaterMark: 1 << 20 });
  let inputOffset = 0;
  const inputBytes: Buffer[] = [];
  for await (const chunk of input) inputBytes.push(chunk as Buffer);
  const inAll = Buffer.concat(inputBytes);
  let mismatches = 0;
  for (const load of dump.segments) {
    const got = back.segment(load.index);
    for (let at = 0; at < load.size; at += PAGE) {
      const page = got.subarray(at, at + PAGE);
      const isBad = bad.has(load.fileOffset + at);
      const ok = isBad ? page.every((b) => b === 0) : page.equals(inAll.subarray(load.fileOffset + at, load.fileOffset + at + PAGE));
      if (!ok) mismatches++;
    }
    inputOffset += load.size;
  }
  t.is(mismatches, 0);
  t.deepEqual(await overRead(mount, dump), []);
});

test('a failing page inside the notes is fatal, and the message says where', async (t) => {
  const { dir, mount } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.noteOffset - (d.noteOffset % PAGE)]);
  const out = path.join(dir, 'out.elf');
  const r = await runCli([mount.file, '-o', out, '--mode', 'full', '--no-klog']);
  t.is(r.code, 4);
  t.regex(r.stderr, /^slim-core: cannot read program header 0 \(PT_NOTE, 0x[0-9a-f]+ bytes at offset 0x[0-9a-f]+\): .*(EIO|input\/output error)/i);
  t.is(r.stderr.trimEnd().split('\n').length, 1);
});

test('past --max-read-errors the capture stops with exit 4, naming the count and the last address', async (t) => {
  const { dir, mount } = await faultyDump(t, TWO_SEGMENTS, (d) => [1, 5, 9, 13, 17].map((p) => d.segments[0].fileOffset + p * PAGE));
  const out = path.join(dir, 'out.elf');
  const r = await runCli([mount.file, '-o', out, '--mode', 'full', '--no-klog', '--max-read-errors', '3']);
  t.is(r.code, 4, r.stderr);
  t.regex(r.stderr, /4 pages failed to read, more than --max-read-errors 3; the last at physical address 0x10d000/);
  t.false((await import('node:fs')).existsSync(out), 'nothing left at the target');
});

test('a pipe sink: the dump is flagged incomplete, the report holds the list, exit 5', async (t) => {
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[1].fileOffset + 5 * PAGE]);
  const out = path.join(dir, 'piped.elf');
  const report = path.join(dir, 'report.json');
  const r = await runShell('$CLI "$1" --mode full --no-klog --report "$3" | cat > "$2"; echo "${PIPESTATUS[0]}"', [mount.file, out, report]);
  t.is(r.stdout.trim(), '5', r.stderr);
  t.regex(r.stderr, /1 page\(s\) failed to read and were zero-filled; 1 range\(s\) are listed in .*report\.json, not in the dump/);
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.is(back.omitted!.flags & OMITTED_FLAG_MAY_BE_INCOMPLETE, OMITTED_FLAG_MAY_BE_INCOMPLETE);
  t.deepEqual(back.omitted?.entries, []);
  const json = JSON.parse(await readFile(report, 'utf8'));
  t.is(json.readErrors.pages, 1);
  t.false(json.readErrors.listedInDump);
  t.deepEqual(json.readErrors.ranges.map((x: { paddr: string; length: string }) => [x.paddr, x.length]), [['0x805000', '0x1000']]);
});

test('a slow source: nothing times out and the progress keeps moving', async (t) => {
  const { dir, mount } = await faultyDump(t, { segments: [{ paddr: 0x100000n, size: 8 << 20 }] }, () => [], { slowReads: { everyNth: 4, sleepMs: 150 } });
  const out = path.join(dir, 'out.elf');
  const r = await runCli([mount.file, '-o', out, '--mode', 'full', '--no-klog', '--progress', '--chunk-size', String(256 << 10)]);
  t.is(r.code, 0, r.stderr);
  const done = [...r.stderr.matchAll(/(\d+\.\d)% /g)].map((m) => Number(m[1]));
  t.true(done.length >= 3, `progress lines: ${r.stderr}`);
  t.true(done.every((v, i) => i === 0 || v >= done[i - 1]), 'progress never goes back');
  t.is(done[done.length - 1], 100);
});

test('pages named as faults are never read at all: no read error, and the FUSE file saw no request for them', async (t) => {
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[0].fileOffset + 7 * PAGE, d.segments[1].fileOffset]);
  const out = path.join(dir, 'out.elf');
  const userFaults = badPages.map((offset) => {
    const load = dump.segments.find((s) => s.fileOffset <= offset && offset < s.fileOffset + s.size)!;
    return { paddr: load.paddr + BigInt(offset - load.fileOffset), length: 0n, origin: 'test' };
  });
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false, userFaults });
  t.is(result.readErrors.pages, 0);
  const counts = (await mount.readCounts()).counts;
  t.deepEqual(badPages.map((p) => counts[String(p)] ?? 0), [0, 0], 'the poisoned pages were never touched');
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => e.reason), [OmitReason.USER, OmitReason.USER]);
});

test('over tcp:// to the receiver, failed pages are patched into the remote dump, as in a local file (exit 0)', async (t) => {
  const { dir, mount, dump, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[0].fileOffset + 9 * PAGE]);
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'secret-token\n');
  const receiver = await startReceiver({ host: '127.0.0.1', port: 0, dir: path.join(dir, 'dumps'), token: Buffer.from('secret-token'), log: () => undefined });
  t.teardown(() => receiver.stop());
  const result = await capture({ input: mount.file, output: `tcp://127.0.0.1:${receiver.port}`, name: 'remote.elf', tokenFile, mode: 'full', kernelLog: false });
  t.true(result.readErrors.listedInDump);
  const back = await readBack(path.join(dir, 'dumps', 'remote.elf'));
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expectedRanges(dump, badPages));
  t.regex(back.causes[0], /1 unreadable page\(s\) zero-filled/);
});
