// The mmap reader against real SIGBUS: FUSE pages whose reads fail, and a file truncated under the mapping.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { capture } from '../src/pipeline/capture.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { loadMmapAddon, NO_ADDON_ENV } from '../src/sources/mmap-addon.js';
import { assertCopy, expectedRanges, faultyDump, PAGE } from './helpers/faulty-dump.js';
import { readBack } from './helpers/read-dump.js';
import { runCli, runShell } from './helpers/cli.js';
import { repoRoot } from './helpers/fixture.js';
import { writeSyntheticVmcore, type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

const TWO_SEGMENTS: SyntheticOptions = { segments: [{ paddr: 0x100000n, size: 64 * PAGE }, { paddr: 0x800000n, size: 64 * PAGE }] };
const THROUGH_PAGE_CACHE = { directIo: false };

test.before(() => {
  const loaded = loadMmapAddon();
  if ('problem' in loaded) throw new Error(`these tests need the mmap addon: ${loaded.problem} (sh scripts/build-native.sh)`);
});

test('pages whose fault fails raise SIGBUS: exactly those are zero and listed as SIGBUS, every other byte identical', async (t) => {
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[0].fileOffset, d.segments[0].fileOffset + 17 * PAGE, d.segments[1].fileOffset + 63 * PAGE], THROUGH_PAGE_CACHE);
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false, reader: 'mmap' });
  t.is(result.reader, 'mmap');
  t.is(result.readErrors.pages, 3);
  t.deepEqual([...new Set(result.readErrors.ranges.map((r) => r.error))], ['SIGBUS']);
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expectedRanges(dump, badPages));
  const counts = (await mount.readCounts()).counts;
  t.true(badPages.every((p) => (counts[String(p)] ?? 0) > 0), 'the failing pages were really asked for');
});

test('the process survives 1,000 SIGBUS faults; the report and --json name the signal', async (t) => {
  const size = 16 << 20;
  const pages = size / PAGE;
  const picked = new Set<number>();
  for (let seed = 777; picked.size < 1000; ) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    picked.add((seed >>> 8) % pages);
  }
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, { segments: [{ paddr: 0x1000000n, size }] }, (d) => [...picked].map((p) => d.segments[0].fileOffset + p * PAGE), THROUGH_PAGE_CACHE);
  const out = path.join(dir, 'out.elf');
  const report = path.join(dir, 'report.json');
  const r = await runCli([mount.file, '-o', out, '--mode', 'full', '--no-klog', '--no-sync', '--reader', 'mmap', '--max-read-errors', '1000', '--report', report, '--json']);
  t.is(r.code, 0, r.stderr);
  t.is(r.signal, null);
  const summary = JSON.parse(r.stderr.trim().split('\n').pop()!);
  t.is(summary.reader, 'mmap');
  t.is(summary.readErrorPages, 1000);
  t.deepEqual(summary.readErrorKinds, ['SIGBUS']);
  const json = JSON.parse(await readFile(report, 'utf8'));
  t.is(json.reader, 'mmap');
  t.true(json.readErrors.ranges.every((x: { error: string }) => x.error === 'SIGBUS'));
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), expectedRanges(dump, badPages));
});

test('past --max-read-errors under mmap: exit 4, as with read(2)', async (t) => {
  const { dir, mount } = await faultyDump(t, TWO_SEGMENTS, (d) => [1, 5, 9, 13, 17].map((p) => d.segments[0].fileOffset + p * PAGE), THROUGH_PAGE_CACHE);
  const r = await runCli([mount.file, '-o', path.join(dir, 'out.elf'), '--mode', 'full', '--no-klog', '--reader', 'mmap', '--max-read-errors', '3']);
  t.is(r.code, 4, r.stderr);
  t.regex(r.stderr, /4 pages failed to read, more than --max-read-errors 3; the last at physical address 0x10d000 .*SIGBUS/);
});

test('pages named as faults are never mapped: the FUSE file saw no request for them, and the guard never fired', async (t) => {
  // Past the first 128 KiB of data: through the page cache, the kernel's readahead for the header reads (read(2), on
  // any regular file; /proc/vmcore has no page cache) may bring in the pages right after them.
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [d.segments[0].fileOffset + 47 * PAGE, d.segments[0].fileOffset + 48 * PAGE, d.segments[1].fileOffset], THROUGH_PAGE_CACHE);
  const userFaults = badPages.map((offset) => {
    const load = dump.segments.find((s) => s.fileOffset <= offset && offset < s.fileOffset + s.size)!;
    return { paddr: load.paddr + BigInt(offset - load.fileOffset), length: 0n, origin: 'test' };
  });
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input: mount.file, output: out, mode: 'full', sync: false, kernelLog: false, userFaults, reader: 'mmap' });
  t.is(result.reader, 'mmap');
  t.is(result.readErrors.pages, 0);
  const counts = (await mount.readCounts()).counts;
  t.deepEqual(badPages.map((p) => counts[String(p)] ?? 0), [0, 0, 0], 'the poisoned pages were never read');
  const back = await assertCopy(t, out, backing, dump, badPages);
  t.deepEqual(back.omitted?.entries.map((e) => e.reason), [OmitReason.USER, OmitReason.USER]);
});

// A child process, so that the SIGBUS that must kill it kills only it.
const CHILD = `
import { openSync, writeFileSync, truncateSync } from 'node:fs';
import { loadMmapAddon } from ${JSON.stringify(path.join(repoRoot, 'src/sources/mmap-addon.ts'))};
const { addon } = loadMmapAddon();
const file = process.env.SLIMCORE_CHILD_FILE;
const how = process.env.SLIMCORE_CHILD_HOW;
writeFileSync(file, Buffer.alloc(16 * 4096, 0x5a));
const fd = openSync(file, 'r');
truncateSync(file, 4 * 4096);
const dst = Buffer.alloc(16 * 4096, 0xff);
const faults = await addon.copy(fd, dst, 0, new Float64Array([0, 16 * 4096]));
const zero = dst.subarray(4 * 4096).every((b) => b === 0) && dst.subarray(0, 4 * 4096).every((b) => b === 0x5a);
process.stdout.write(JSON.stringify({ faults: [...faults], zero }) + '\\n');
if (how === 'unguarded') addon.touchUnguarded(fd, 8 * 4096);
if (how === 'sent') process.kill(process.pid, 'SIGBUS');
await new Promise((resolve) => setTimeout(resolve, 100));
process.stdout.write('still alive\\n');
`;

function runChild(file: string, how: string) {
  // Through the environment: how argv reaches an -e script under --import varies.
  return spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', CHILD], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SLIMCORE_CHILD_FILE: file, SLIMCORE_CHILD_HOW: how } });
}

test('a file truncated under the mapping: the pages past the end are SIGBUS faults, zeroed and reported; the process lives', async (t) => {
  const r = runChild(path.join(await tempDir(t, 'mmap'), 'f'), 'none');
  t.is(r.status, 0, r.stderr);
  const first = JSON.parse(r.stdout.split('\n')[0]);
  // Pages 4..15 faulted one by one and merged into one range.
  t.deepEqual(first, { faults: [4 * PAGE, 16 * PAGE], zero: true });
  t.regex(r.stdout, /still alive/);
});

test('the guard is scoped: a SIGBUS outside a guarded copy still kills the process, a fault or a sent signal alike', async (t) => {
  const dir = await tempDir(t, 'mmap');
  for (const how of ['unguarded', 'sent']) {
    const r = runChild(path.join(dir, how), how);
    t.is(r.signal, 'SIGBUS', `${how}: status ${r.status}, stderr ${r.stderr}`);
    t.notRegex(r.stdout, /still alive/, how);
    t.deepEqual(JSON.parse(r.stdout.split('\n')[0]).faults, [4 * PAGE, 16 * PAGE], `${how}: the guarded copy before it survived`);
  }
});

test('without the addon (simulated): the read(2) path, one notice, the same dump', async (t) => {
  const dir = await tempDir(t, 'mmap');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, TWO_SEGMENTS);
  const outs: Buffer[] = [];
  for (const [name, env] of [['mapped', {}], ['fallback', { [NO_ADDON_ENV]: '1' }]] as const) {
    const out = path.join(dir, `${name}.elf`);
    const r = await runCli([input, '-o', out, '--mode', 'full', '--no-klog', '--no-sync', '--reader', 'mmap'], { env });
    t.is(r.code, 0, r.stderr);
    const notices = r.stderr.split('\n').filter((l) => /mmap reader unavailable/.test(l));
    t.is(notices.length, name === 'fallback' ? 1 : 0, r.stderr);
    outs.push(await readFile(out));
  }
  const json = (await runCli([input, '-o', '/dev/null', '--mode', 'full', '--no-klog', '--json', '--reader', 'mmap'], { env: { [NO_ADDON_ENV]: '1' } })).stderr;
  t.regex(json, /"reader":"read"/);
  t.true(outs[0].equals(outs[1]));
});

test('auto reads a regular file with read(2), and says nothing about it (only /proc/vmcore is mapped by default)', async (t) => {
  const dir = await tempDir(t, 'mmap');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, TWO_SEGMENTS);
  for (const env of [{}, { [NO_ADDON_ENV]: '1' }]) {
    const r = await runCli([input, '-o', '/dev/null', '--mode', 'full', '--no-klog'], { env });
    t.is(r.code, 0, r.stderr);
    t.notRegex(r.stderr, /mmap reader|cannot mmap/);
    t.regex((await runCli([input, '-o', '/dev/null', '--mode', 'full', '--no-klog', '--json'], { env })).stderr, /"reader":"read"/);
  }
});

test('a pipe is always read, even with --reader mmap', async (t) => {
  const dir = await tempDir(t, 'mmap');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, TWO_SEGMENTS);
  const r = await runShell('cat "$1" | $CLI --mode full --no-klog --reader mmap --json -o "$2"', [input, path.join(dir, 'out.elf')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /"reader":"read"/);
  const back = await readBack(path.join(dir, 'out.elf'));
  t.is(back.segment(1).length, 64 * PAGE);
});
