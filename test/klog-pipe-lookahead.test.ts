// A kernel log past a pipe's look-ahead (the common case with many CPUs): never silent, refused under --strict, read
// as the data streams past, its poisoned page zeroed and listed afterwards on a file, exit 5 on stdout.

import test from 'ava';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { realFixturePath } from './helpers/fixture.js';
import { runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { readDumpPrefix, type RangeReader } from '../src/dump/prefix.js';

const POISONED = 0x345000n;
const PAGE = 4096;
const SMALL_LOOKAHEAD = '1048576';

interface Inspected {
  cause: string[];
  mce: { fields: { addr: string }; fatal: boolean; provenance: { origin: string } | null }[];
  omitted: { count: number; entries: { paddr: string; reason: number }[] }[];
}

/** The poisoned page's bytes in every PT_LOAD of `file` that holds it. */
async function poisonedPages(file: string): Promise<Buffer[]> {
  const fh = await open(file);
  try {
    const read: RangeReader = async (offset, length) => {
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, offset);
      return buf;
    };
    const prefix = await readDumpPrefix(read);
    const holders = prefix.phdrs.toArray().filter((ph) => ph.type === 1 && ph.paddr <= POISONED && POISONED < ph.paddr + ph.filesz);
    return Promise.all(holders.map((ph) => read(Number(ph.offset + POISONED - ph.paddr), PAGE, 'page')));
  } finally {
    await fh.close();
  }
}

test('pipe, log past the look-ahead, --strict: refused at once with KLOG, nothing written', async (t) => {
  const dir = await tempDir(t);
  const out = path.join(dir, 'o.elf');
  const r = await runShell(`cat "$1" | $CLI - --lookahead ${SMALL_LOOKAHEAD} --strict -q -o "$2"`, [await realFixturePath('mce'), out]);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /kernel log: .*beyond the look-ahead.*\(KLOG, fatal under --strict\)/);
  t.false(existsSync(out));
});

test('pipe, log past the look-ahead, to a file: a KLOG warning, then the log read as it streams past zeroes and lists the poisoned page', async (t) => {
  const dir = await tempDir(t);
  const out = path.join(dir, 'o.elf');
  const input = await realFixturePath('mce');
  const r = await runShell(`cat "$1" | $CLI - --lookahead ${SMALL_LOOKAHEAD} -o "$2" --no-sync`, [input, out]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warning: kernel log: .*beyond the look-ahead/);
  t.regex(r.stderr, /gathered as it streamed past: \d+ records, 1 machine-check record/);

  const report = JSON.parse((await runCli(['inspect', '--json', out])).stdout.toString()) as Inspected;
  t.regex(report.cause.at(-1) ?? '', /^memory error: MCE bank 1 status 0xbe00000000100134 addr 0x345000 .*found in the crashed kernel's log as it streamed past; full dump; 1 range\(s\) zero-filled after the copy: 0x345000\+0x1000/);
  t.deepEqual(report.mce.map((m) => [m.fields.addr, m.fatal, m.provenance?.origin]), [['0x345000', true, 'kernel-log']]);
  t.deepEqual(report.omitted.at(-1)?.entries.map((e) => [e.paddr, e.reason]), [['0x345000', 4]]);

  const inputPages = await poisonedPages(input);
  t.true(inputPages.some((p) => p.some((b) => b !== 0)), 'the input page holds data');
  const pages = await poisonedPages(out);
  t.true(pages.length > 0);
  for (const page of pages) t.deepEqual(page, Buffer.alloc(PAGE));
  // The same bytes from a file give the same memory: vmcore-dmesg reads the same log from both.
  const fromFile = path.join(dir, 'f.elf');
  t.is((await runCli([input, '--mode', 'full', '-o', fromFile, '--no-sync', '-q'])).code, 0);
  const dmesg = async (f: string) => (await runShell('/usr/sbin/vmcore-dmesg "$1"', [f])).stdout;
  t.is(await dmesg(out), await dmesg(fromFile));
});

test('pipe, log past the look-ahead, to stdout: the page cannot be zeroed afterwards, so exit 5 and the report lists it', async (t) => {
  const dir = await tempDir(t);
  const reportFile = path.join(dir, 'r.json');
  const r = await runShell(`set -o pipefail; cat "$1" | $CLI - --lookahead ${SMALL_LOOKAHEAD} -q --report "$2" > /dev/null`, [await realFixturePath('mce'), reportFile]);
  t.is(r.code, 5, r.stderr);
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as { cause: string; omitted: unknown[]; kernelLogAfterCopy: { listedInDump: boolean; ranges: { paddr: string; reason: number }[] } };
  t.false(report.kernelLogAfterCopy.listedInDump);
  // Once per PT_LOAD holding the page.
  t.true(report.kernelLogAfterCopy.ranges.length > 0);
  for (const e of report.kernelLogAfterCopy.ranges) t.deepEqual([e.paddr, e.reason], ['0x345000', 4]);
  t.deepEqual(report.omitted, []);
  t.regex(report.cause, /NOT zero-filled/);
});
