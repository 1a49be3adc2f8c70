// Reads around named faults: the addon's readRuns (one call per window, off the main thread) and the main thread's fallback.

import test, { type ExecutionContext } from 'ava';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { loadMmapAddon, NO_ADDON_ENV, type ReadRuns } from '../src/sources/mmap-addon.js';
import { assertCopy, faultyDump, overRead, PAGE } from './helpers/faulty-dump.js';
import { runCli } from './helpers/cli.js';
import { type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

const TWO_SEGMENTS: SyntheticOptions = { segments: [{ paddr: 0x100000n, size: 64 * PAGE }, { paddr: 0x800000n, size: 64 * PAGE }] };
const NOTICE = /native reader unavailable/;
/** Read by the addon (native/slimcore_uring.c): its reads go through pread instead of io_uring. */
const NO_IO_URING_ENV = 'SLIMCORE_NO_IO_URING';

function readRuns(): ReadRuns {
  const loaded = loadMmapAddon();
  if ('problem' in loaded) throw new Error(`these tests need the addon: ${loaded.problem} (sh scripts/build-native.sh)`);
  if (!loaded.addon.readRuns) throw new Error('the addon has no readRuns: rebuild it (sh scripts/build-native.sh)');
  return loaded.addon.readRuns;
}

async function patternFile(t: Parameters<typeof tempDir>[0], pages: number): Promise<{ file: string; bytes: Buffer }> {
  const bytes = Buffer.alloc(pages * PAGE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) % 251 + 1;
  const file = path.join(await tempDir(t, 'runs'), 'f');
  writeFileSync(file, bytes);
  return { file, bytes };
}

test('readRuns reads each run, zero-fills the bytes between them and says which came back short', async (t) => {
  const { file, bytes } = await patternFile(t, 10);
  const fd = openSync(file, 'r');
  t.teardown(() => closeSync(fd));
  const dst = Buffer.alloc(12 * PAGE, 0xff);
  // dst[0] is file offset PAGE: the last run goes past the end of the file.
  const runs = new Float64Array([0, 100, 2 * PAGE, 4 * PAGE + 17, 5 * PAGE, 5 * PAGE, 7 * PAGE, 11 * PAGE]);
  const short = await readRuns()(fd, dst, PAGE, runs);
  t.deepEqual([...short], [7 * PAGE, 11 * PAGE, 2 * PAGE], 'only the run past the end, with the bytes it got');
  const want = Buffer.alloc(12 * PAGE);
  for (const [s, e] of [[0, 100], [2 * PAGE, 4 * PAGE + 17], [7 * PAGE, 9 * PAGE]]) bytes.copy(want, s, PAGE + s, PAGE + e);
  // What a short run did not get is left for the caller, who reads it again page by page.
  want.fill(0xff, 9 * PAGE, 11 * PAGE);
  t.true(dst.equals(want), 'runs hold the file bytes; the bytes between them are zero');
});

test('readRuns: a failing read is -errno in its triple, the others still read; bad runs are refused before anything is read', async (t) => {
  const { file, bytes } = await patternFile(t, 4);
  const fd = openSync(file, 'r');
  t.teardown(() => closeSync(fd));
  const dst = Buffer.alloc(4 * PAGE, 0xff);
  t.deepEqual([...(await readRuns()(fd, dst, 0, new Float64Array([0, 4 * PAGE])))], []);
  t.true(dst.equals(bytes));
  // Not a closed descriptor: tests run side by side, and another's pipe could take its number (a read that never ends).
  const badFd = 2 ** 31 - 1;
  t.deepEqual([...(await readRuns()(badFd, Buffer.alloc(PAGE), 0, new Float64Array([0, 10, 20, 30])))], [0, 10, -9, 20, 30, -9], 'EBADF for each run');
  for (const runs of [[0, 10, 5, 20], [10, 5], [0, 4 * PAGE + 1], [0, 10, 20]]) {
    t.throws(() => readRuns()(fd, Buffer.alloc(4 * PAGE), 0, new Float64Array(runs)), { instanceOf: TypeError }, JSON.stringify(runs));
  }
});

// Named faults (never to be read) beside pages that fail with EIO (read errors, to be retried page by page).
const FAULT_PAGES = [[0, 3], [0, 5], [0, 6], [0, 40], [1, 0], [1, 63]];
const EIO_PAGES = [[0, 4], [0, 20], [1, 62]];

async function captureAroundFaults(t: ExecutionContext, name: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const offsetOf = (d: { segments: { fileOffset: number }[] }, [s, p]: number[]) => d.segments[s].fileOffset + p * PAGE;
  const { dir, backing, dump, mount, badPages } = await faultyDump(t, TWO_SEGMENTS, (d) => [...FAULT_PAGES, ...EIO_PAGES].map((sp) => offsetOf(d, sp)));
  const faults = path.join(dir, 'faults.txt');
  await writeFile(faults, FAULT_PAGES.map(([s, p]) => `0x${(dump.segments[s].paddr + BigInt(p * PAGE)).toString(16)}`).join('\n'));
  const out = path.join(dir, 'out.elf');
  // Windows of 16.5 pages: runs cross window ends, and a window ends inside a page.
  const r = await runCli([mount.file, '-o', out, '--mode', 'full', '--no-klog', '--no-sync', '--faults', faults, '--chunk-size', String(16 * PAGE + PAGE / 2)], { env });
  t.is(r.code, 0, `${name}: ${r.stderr}`);
  t.is(r.stderr.split('\n').filter((l) => /read error: zero-filled/.test(l)).length, EIO_PAGES.length, `${name}: ${r.stderr}`);
  t.is(r.stderr.split('\n').filter((l) => NOTICE.test(l)).length, name === 'readRuns' ? 0 : 1, `${name}: ${r.stderr}`);
  const counts = (await mount.readCounts()).counts;
  t.deepEqual(FAULT_PAGES.map((sp) => counts[String(offsetOf(dump, sp))] ?? 0), FAULT_PAGES.map(() => 0), `${name}: the named pages were never read`);
  t.true(EIO_PAGES.every((sp) => (counts[String(offsetOf(dump, sp))] ?? 0) > 0), `${name}: the failing pages were asked for`);
  t.deepEqual(await overRead(mount, dump), [], `${name}: no page read more than twice`);
  const back = await assertCopy(t, out, backing, dump, badPages);
  const listed = (reason: number) => back.omitted!.entries.filter((e) => e.reason === reason).reduce((n, e) => n + Number(e.length) / PAGE, 0);
  t.is(listed(OmitReason.USER), FAULT_PAGES.length, name);
  t.is(listed(OmitReason.READ_ERROR), EIO_PAGES.length, name);
  return readFile(out);
}

test('named faults are never read, by readRuns (io_uring, pread) and on the main thread; read errors between them are zero-filled and listed; the same dump', async (t) => {
  const uring = await captureAroundFaults(t, 'readRuns', {});
  const pread = await captureAroundFaults(t, 'readRuns', { [NO_IO_URING_ENV]: '1' });
  const fallback = await captureAroundFaults(t, 'main thread', { [NO_ADDON_ENV]: '1' });
  t.true(uring.equals(fallback), 'io_uring and the main thread write the same bytes');
  t.true(pread.equals(fallback), 'pread in the addon and the main thread write the same bytes');
});
