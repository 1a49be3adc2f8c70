// The kdump format on both real 6.1 dumps: crash, libkdumpfile and makedumpfile's own output agree with what we write.

import test from 'ava';
import path from 'node:path';
import { statSync } from 'node:fs';
import { FIXTURE_NAMES, realFixturePath } from './helpers/fixture.js';
import { fixtureVmlinux } from './helpers/vmlinux.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { kdumpBitmaps, minus } from './helpers/kdump-file-bitmaps.js';
import { crashSays, elfPageHashes, libkdumpfileRead, makedumpfile, sample } from './helpers/kdump-readers.js';
import { DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD } from '../src/kdump/header.js';

const MCE_PAGE = 0x345;
for (const [name, level] of FIXTURE_NAMES.flatMap((n) => [[n, 0], [n, 31]] as const)) {
  test.serial(`${name}: --format kdump -d ${level} (zlib) against makedumpfile -c -d ${level}: the same bitmaps (the page filter's), a size within 5%, the same pages for libkdumpfile`, async (t) => {
    const input = await realFixturePath(name);
    const dir = await tempDir(t, `kdump-${name}`);
    const ours = path.join(dir, 'ours.kdump');
    const theirs = path.join(dir, 'theirs.kdump');
    const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '-d', String(level), '-o', ours, '--no-sync', '-q']);
    t.is(r.code, 0, r.stderr);
    const report = await makedumpfile(['--message-level', '31', '-c', '-d', String(level), input, theirs]);
    const [a, b] = await Promise.all([kdumpBitmaps(ours), kdumpBitmaps(theirs)]);
    t.is(a.status, DUMP_DH_COMPRESSED_ZLIB);
    t.is(a.maxMapnr, b.maxMapnr);
    t.deepEqual(minus(a.present, b.present), []);
    t.deepEqual(minus(b.present, a.present), []);
    t.deepEqual(minus(b.dumpable, a.dumpable), [], 'every page makedumpfile keeps, we keep');
    t.deepEqual(minus(a.dumpable, b.dumpable), [], 'and no other: poisoned pages are left out');
    const [oursSize, theirsSize] = [statSync(ours).size, statSync(theirs).size];
    t.log(`${name}: ours ${oursSize} bytes, makedumpfile -c -d ${level} ${theirsSize} bytes (${((oursSize / theirsSize - 1) * 100).toFixed(2)}%)`);
    t.true(Math.abs(oursSize / theirsSize - 1) < 0.05);

    // The FILTER note counts what makedumpfile's report counts, zero pages included (found while writing).
    const inspected = await runCli(['inspect', '--json', ours]);
    t.is(inspected.code, 0, inspected.stderr);
    const ourPages = (JSON.parse(inspected.stdout.toString()) as { filter: { pages: Record<string, number> }[] }).filter[0].pages;
    for (const [label, key] of [['Pages filled with zero', 'zero'], ['Non-private cache pages', 'cache'], ['Private cache pages', 'cachePrivate'], ['User process data pages', 'user'], ['Free pages', 'free']] as const) {
      const m = new RegExp(`${label}\\s*: 0x([0-9a-f]+)`).exec(report);
      t.truthy(m, `makedumpfile reports "${label}"`);
      t.is(ourPages[key] ?? 0, Number.parseInt(m![1], 16), `${key} pages as makedumpfile counts them`);
    }

    const kept = [...a.dumpable].sort((x, y) => x - y);
    const pfns = [...sample(kept, 997), MCE_PAGE];
    const [view, expected] = await Promise.all([libkdumpfileRead(ours, pfns), elfPageHashes(input, pfns)]);
    t.is(view.format, 'diskdump');
    t.is(view.osrelease, '6.1.0-56-amd64', 'libkdumpfile finds VMCOREINFO');
    for (const pfn of pfns) {
      const key = `0x${pfn.toString(16)}`;
      if (a.dumpable.has(pfn)) t.is(view.pages[key], expected[key], `page ${key}`);
      else t.regex(view.pages[key], /^nodata: Excluded page/, `page ${key} is excluded`);
    }
  });
}

test.serial('mce: crash reads sys, log and bt from the kdump file exactly as from the ELF input, rd -p shows kept pages and "page excluded" for the MCE page', async (t) => {
  const [input, vmlinux] = await Promise.all([realFixturePath('mce'), fixtureVmlinux()]);
  const dir = await tempDir(t, 'kdump-crash');
  const out = path.join(dir, 'full.kdump');
  const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '-o', out, '--no-sync', '-q']);
  t.is(r.code, 0, r.stderr);
  // One crash session per file: loading the vmlinux is what takes the time.
  const commands = ['sys', 'bt', 'log', 'rd -64 -p 0x100000 4', 'rd -64 -p 0x1000000 4', `rd -p 0x${(MCE_PAGE * 4096).toString(16)}`];
  const [fromKdump, fromElf] = await Promise.all([crashSays(vmlinux, out, commands), crashSays(vmlinux, input, commands)]);
  t.regex(fromKdump, /PANIC: "Kernel panic - not syncing: Fatal machine check"/);
  t.regex(fromKdump, /#\d+ \[[0-9a-f]+\] mce_panic at/);
  t.regex(fromKdump, /\n\s+100000:  [0-9a-f]{16} /);
  t.regex(fromKdump, /rd: page excluded: physical address: 345000/);
  // The one difference: the ELF input still holds the MCE page.
  const withoutMcePage = (text: string) => text.split('\n').filter((l) => !/^\s*345000:|page excluded: physical address: 345000/.test(l)).join('\n');
  t.is(withoutMcePage(fromKdump), withoutMcePage(fromElf));
});

test.serial('hwpoison: --compress none stores every page raw; libkdumpfile reads the same bytes', async (t) => {
  const input = await realFixturePath('hwpoison');
  const out = path.join(await tempDir(t, 'kdump-raw'), 'raw.kdump');
  const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '--compress', 'none', '-o', out, '--no-sync', '-q']);
  t.is(r.code, 0, r.stderr);
  const bitmaps = await kdumpBitmaps(out);
  t.is(bitmaps.status, 0);
  const kept = [...bitmaps.dumpable].sort((x, y) => x - y);
  t.true(statSync(out).size >= kept.length * 4096);
  const pfns = sample(kept, 1999);
  const [view, expected] = await Promise.all([libkdumpfileRead(out, pfns), elfPageHashes(input, pfns)]);
  for (const pfn of pfns) t.is(view.pages[`0x${pfn.toString(16)}`], expected[`0x${pfn.toString(16)}`]);
});

for (const method of ['snappy', 'zstd'] as const) {
  test.serial(`mce: --compress ${method}: the header says so, libkdumpfile reads the same pages as in the input, dmesg reads the log`, async (t) => {
    const input = await realFixturePath('mce');
    const out = path.join(await tempDir(t, `kdump-${method}`), `full.${method}`);
    const r = await runCli([input, '--mode', 'full', '--format', 'kdump', '--compress', method, '-o', out, '--no-sync', '-q']);
    t.is(r.code, 0, r.stderr);
    const bitmaps = await kdumpBitmaps(out);
    t.is(bitmaps.status, method === 'snappy' ? DUMP_DH_COMPRESSED_SNAPPY : DUMP_DH_COMPRESSED_ZSTD);
    const pfns = sample([...bitmaps.dumpable].sort((x, y) => x - y), 1499);
    const [view, expected] = await Promise.all([libkdumpfileRead(out, pfns), elfPageHashes(input, pfns)]);
    for (const pfn of pfns) t.is(view.pages[`0x${pfn.toString(16)}`], expected[`0x${pfn.toString(16)}`]);
    t.log(`${method}: ${statSync(out).size} bytes`);
    const dmesg = await runCli(['dmesg', out]);
    t.regex(dmesg.stdout.toString(), /Kernel panic - not syncing: Fatal machine check\n$/);
  });
}
