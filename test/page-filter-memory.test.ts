// The page filter's memory on a sparse 256 GiB machine with real page tables and mem_map: flat, and under 128 MiB.

import test from 'ava';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeSparseMmInput } from '../bench/sparse-mm-input.js';
import { runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** Two cycles of 2^25 pfns: 256 GiB of RAM, 4 GiB of struct pages (read as holes: the test's file is dropped after). */
const BIG_PAGES = 1 << 26;
const SMALL_PAGES = 1 << 20;
/** From pfn 4096 on, every page is in an order-10 free block (bench/sparse-mm-input.ts). */
const freePages = (pages: number) => pages - 4096;

/** Runs a capture under /usr/bin/time: its exit status, peak RSS in KiB and --json summary. */
async function measured(dir: string, args: readonly string[]) {
  const r = await runShell('/usr/bin/time -o "$1/rss" -f "%M" $CLI "${@:2}" --no-klog --no-sync --json 2>"$1/err"; echo "exit=$?"', [dir, ...args]);
  const stderr = await readFile(path.join(dir, 'err'), 'utf8');
  const summary = stderr.trimEnd().split('\n').pop()!;
  return { code: Number(/exit=(\d+)/.exec(r.stdout)?.[1]), rss: Number(await readFile(path.join(dir, 'rss'), 'utf8')), summary, stderr };
}

test('-d 31 on 256 GiB of RAM (two cycles): ELF and kdump under 128 MiB, the ELF capture within 16 MiB of its peak at 4 GiB', async (t) => {
  const dir = await tempDir(t, 'mm-big');
  const peaks: Record<string, number> = {};
  for (const pages of [SMALL_PAGES, BIG_PAGES]) {
    const input = path.join(dir, `in-${pages}.elf`);
    writeSparseMmInput(input, pages);
    for (const format of ['elf', 'kdump']) {
      const output = path.join(dir, `out.${format}`);
      const r = await measured(dir, [input, '--mode', 'full', '-d', '31', '--format', format, '-o', output]);
      t.is(r.code, 0, r.stderr);
      t.is(JSON.parse(r.summary).filter.pages.free, freePages(pages), r.summary);
      t.true(r.rss > 0 && r.rss < 128 * 1024, `${format}, ${pages} pages: peak RSS ${r.rss} KiB`);
      t.log(`${format}, ${pages / 2 ** 18} GiB: peak RSS ${(r.rss / 1024).toFixed(1)} MiB`);
      peaks[`${format}-${pages}`] = r.rss;
      await rm(output);
    }
    // Removing the input drops the page cache its holes took.
    await rm(input);
  }
  t.true(peaks[`elf-${BIG_PAGES}`] - peaks[`elf-${SMALL_PAGES}`] < 16 * 1024, JSON.stringify(peaks));
});
