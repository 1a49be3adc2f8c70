// Page filtering on both real dumps, against makedumpfile 1.7.2: the same kept pages, makedumpfile -E's table, zeros elsewhere.

import test from 'ava';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PT_LOAD } from '../src/elf/constants.js';
import { bitIsSet } from '../src/mm/page-selection.js';
import { decodeFilterNote, FilterFlag, NT_SLIMCORE_FILTER, PageClassCode } from '../src/notes/filter-note.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { CLI, runCli } from './helpers/cli.js';
import { FIXTURE_NAMES, realFixturePath, type FixtureName } from './helpers/fixture.js';
import { makedumpfileBitmaps } from './helpers/kdump-bitmaps.js';
import { readBack, type ReadBack } from './helpers/read-dump.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const PAGE = 4096;
/** The pages crash shows as hwpoison in each dump (../shared/fixtures/README.md); 0x2000000 heads a slab block. */
const POISONED: Record<FixtureName, number[]> = {
  mce: [0x345000],
  hwpoison: [0x2000000, 0x4000000, 0x6000000, 0x7654000, 0x8000000, 0x14000000, 0x1d345000],
};
const LEVELS = [1, 2, 8, 16, 31];

/** Each pfn's bytes in an ELF dump, from the first PT_LOAD that holds it whole in its file data. */
function pagesWithData(dump: ReadBack): Map<number, Buffer> {
  const pages = new Map<number, Buffer>();
  for (const ph of dump.prefix.phdrs.toArray()) {
    if (ph.type !== PT_LOAD || ph.filesz === 0n) continue;
    const first = Math.ceil(Number(ph.paddr) / PAGE);
    const end = Math.floor(Number(ph.paddr + ph.filesz) / PAGE);
    for (let pfn = first; pfn < end; pfn++) {
      if (pages.has(pfn)) continue;
      const at = Number(ph.offset) + pfn * PAGE - Number(ph.paddr);
      pages.set(pfn, dump.bytes.subarray(at, at + PAGE));
    }
  }
  return pages;
}

function loadsOf(dump: ReadBack): string[] {
  return dump.prefix.phdrs.toArray().filter((p) => p.type === PT_LOAD).map((p) => `${p.paddr.toString(16)}+${p.filesz.toString(16)}/${p.memsz.toString(16)}`);
}

const ZERO = Buffer.alloc(PAGE);

for (const name of FIXTURE_NAMES) {
  test.serial(`${name}: at every level the kept pages are makedumpfile's, with the input's bytes; the table is makedumpfile -E's`, async (t) => {
    const input = await realFixturePath(name);
    const dir = await tempDir(t, `filter-${name}`);
    const source = await readBack(input);
    const sourcePages = pagesWithData(source);
    for (const level of LEVELS) {
      const out = path.join(dir, `d${level}.elf`);
      const mdfElf = path.join(dir, `mdf${level}.elf`);
      const [r, bitmaps] = await Promise.all([
        runCli([input, '-d', String(level), '--mode', 'full', '--no-sync', '-o', out]),
        makedumpfileBitmaps(input, level, dir),
        run('makedumpfile', ['-E', '-d', String(level), '-f', input, mdfElf], { maxBuffer: 1 << 24 }),
      ]);
      t.is(r.code, 0, r.stderr);
      const ours = await readBack(out);
      t.deepEqual(loadsOf(ours), loadsOf(await readBack(mdfElf)), `-d ${level}: the PT_LOADs of makedumpfile -E`);
      await rm(mdfElf, { force: true });
      const pages = pagesWithData(ours);
      let kept = 0;
      let wrong = 0;
      for (const [pfn, bytes] of pages) {
        const isKept = pfn < bitmaps.maxMapnr && bitIsSet(bitmaps.kept, pfn);
        const want = isKept ? sourcePages.get(pfn)! : ZERO;
        if (isKept) kept++;
        if (!bytes.equals(want)) wrong++;
      }
      t.is(wrong, 0, `-d ${level}: every page with data holds the input's bytes if makedumpfile keeps it, zeros if not`);
      // Every page makedumpfile keeps is there, but zero pages at bit 1, which read as zeros either way.
      let missing = 0;
      for (let pfn = 0; pfn < bitmaps.maxMapnr; pfn++) {
        if (!bitIsSet(bitmaps.kept, pfn) || pages.has(pfn)) continue;
        if (!(level & 1) || !sourcePages.get(pfn)?.equals(ZERO)) missing++;
      }
      t.is(missing, 0, `-d ${level}: no page makedumpfile keeps is missing`);
      t.true(kept > 0);
      const filterNote = ours.prefix.notes.notes.find((n) => n.name === 'SLIMCORE' && n.type === NT_SLIMCORE_FILTER);
      t.truthy(filterNote, 'a FILTER note');
      const summary = decodeFilterNote(filterNote!.desc, 'le');
      t.is(summary.dumpLevel, level);
      t.true((summary.flags & FilterFlag.PAGE_FLAGS_CHECKED) !== 0, 'page flags checked');
      // First match wins, as in makedumpfile: a free page with PG_hwpoison counts as free at -d 16.
      if (name === 'hwpoison') t.true((summary.pages.get(PageClassCode.HWPOISON) ?? 0) > 0, 'poisoned pages counted');
      await rm(out, { force: true });
    }
  });

  test.serial(`${name}: poisoned pages are zero and listed with reason 5 at -d 0, and the rest is the input byte for byte`, async (t) => {
    const input = await realFixturePath(name);
    const dir = await tempDir(t, `filter0-${name}`);
    const out = path.join(dir, 'd0.elf');
    const r = await runCli([input, '--mode', 'full', '--no-sync', '-o', out]);
    t.is(r.code, 0, r.stderr);
    const [ours, source] = await Promise.all([readBack(out), readBack(input)]);
    // The MCE dump's page is named by its log too; where sources overlap, the lower reason (4, the log) is listed.
    const listed = (ours.omitted?.entries ?? []).filter((e) => e.reason === OmitReason.PAGE_FLAG || e.reason === OmitReason.KERNEL_LOG);
    for (const paddr of POISONED[name]) {
      t.true(listed.some((e) => BigInt(paddr) >= e.paddr && BigInt(paddr) < e.paddr + e.length), `${paddr.toString(16)} listed with reason 5 (or 4)`);
    }
    if (name === 'hwpoison') t.true(listed.every((e) => e.reason === OmitReason.PAGE_FLAG));
    const inList = (pfn: number) => listed.some((e) => BigInt(pfn * PAGE) >= e.paddr && BigInt(pfn * PAGE) < e.paddr + e.length);
    const ourPages = pagesWithData(ours);
    let differ = 0;
    for (const [pfn, bytes] of pagesWithData(source)) {
      const want = inList(pfn) ? ZERO : bytes;
      if (!ourPages.get(pfn)?.equals(want)) differ++;
    }
    t.is(differ, 0, 'poisoned pages zero, every other page as in the input');
    t.deepEqual(loadsOf(ours), loadsOf(source), 'the input table at -d 0');
    t.regex(ours.causes[0], /zero-filled/);
  });
}

test('from a pipe, a dump level other than 0 is a usage error that says why', async (t) => {
  const input = await realFixturePath('hwpoison');
  const r = await run('bash', ['-c', 'cat "$1" | node "$2" - -d 31 -o /dev/null; echo "exit $?"', 'bash', input, CLI]).catch((e) => e as { stdout: string; stderr: string });
  t.regex(r.stdout, /exit 2/);
  t.regex(r.stderr, /--dump-level 31 needs an input that can seek/);
  t.is(r.stderr.trim().split('\n').length, 1);
});

test('--dump-level refuses what is not a level', async (t) => {
  const input = await realFixturePath('hwpoison');
  const r = await runCli([input, '-d', '32', '-o', '/dev/null']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--dump-level must be a whole number from 0 to 31/);
});

test('inspect --pages: the classes, the exact size at each level, and the poisoned pages of the hwpoison dump', async (t) => {
  const input = await realFixturePath('hwpoison');
  const r = await runCli(['inspect', '--pages', '--json', input]);
  t.is(r.code, 0, r.stderr);
  const usage = JSON.parse(r.stdout.toString()) as { presentPages: number; classes: Record<string, number>; levels: { level: number; pages: number }[]; poisoned: { paddr: string; pages: number }[] };
  const dir = await tempDir(t, 'usage');
  const bitmaps = await makedumpfileBitmaps(input, 16, dir);
  let kept16 = 0;
  for (let pfn = 0; pfn < bitmaps.maxMapnr; pfn++) if (bitIsSet(bitmaps.kept, pfn)) kept16++;
  t.is(usage.levels.find((l) => l.level === 16)?.pages, kept16, 'level 16: makedumpfile keeps as many');
  const c = usage.classes;
  t.is(usage.levels.find((l) => l.level === 31)?.pages, c.kernelData, 'level 31 keeps the kernel data');
  t.is(c.zero + c.cache + c.cachePrivate + c.user + c.free + c.kernelData + c.hwpoison, usage.presentPages, 'the classes add up');
  for (const paddr of POISONED.hwpoison) t.true(usage.poisoned.some((p) => BigInt(p.paddr) <= BigInt(paddr) && BigInt(paddr) < BigInt(p.paddr) + BigInt(p.pages * PAGE)), paddr.toString(16));
  const text = await runCli(['inspect', '--pages', input]);
  t.regex(text.stdout.toString(), /^FREE\s+\d+\s+yes/m);
});
