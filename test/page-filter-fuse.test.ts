// The hwpoison dump served through FUSE with its poisoned pages failing: a capture at any level never asks for them.

import test from 'ava';
import path from 'node:path';
import { PT_LOAD } from '../src/elf/constants.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { runCli } from './helpers/cli.js';
import { realFixturePath } from './helpers/fixture.js';
import { mountFaulty } from './helpers/faulty-mount.js';
import { readBack } from './helpers/read-dump.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const POISONED = [0x2000000, 0x4000000, 0x6000000, 0x7654000, 0x8000000, 0x14000000, 0x1d345000];

for (const level of [0, 31]) {
  test.serial(`-d ${level}: the poisoned pages are never requested from the input, and are listed with reason 5`, async (t) => {
    const input = await realFixturePath('hwpoison');
    const source = await readBack(input);
    // Every file offset that holds a poisoned page, in every PT_LOAD (0x14000000 is in the kernel-text mapping too).
    const badPages = source.prefix.phdrs.toArray().flatMap((ph) =>
      ph.type !== PT_LOAD ? [] : POISONED.filter((p) => BigInt(p) >= ph.paddr && BigInt(p + PAGE) <= ph.paddr + ph.filesz).map((p) => Number(ph.offset + BigInt(p) - ph.paddr)),
    );
    t.is(badPages.length, 8);
    const mount = await mountFaulty(t, { backing: input, badPages });
    const dir = await tempDir(t, `fuse-filter-${level}`);
    const out = path.join(dir, 'out.elf');
    const r = await runCli([mount.file, '-d', String(level), '--mode', 'full', '--no-sync', '--json', '-o', out]);
    t.is(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stderr.toString().trim().split('\n').pop()!);
    t.is(summary.readErrorPages, 0, 'no read error: no poisoned page was read');
    const counts = (await mount.readCounts()).counts;
    t.deepEqual(badPages.map((p) => counts[String(p)] ?? 0), badPages.map(() => 0), 'no request touched a poisoned page');
    const listed = (await readBack(out)).omitted!.entries.filter((e) => e.reason === OmitReason.PAGE_FLAG);
    for (const p of POISONED) t.true(listed.some((e) => BigInt(p) >= e.paddr && BigInt(p) < e.paddr + e.length), p.toString(16));
  });
}

test.serial('-d 31: kept pages that fail while looking for zero pages are tried once more alone, then zero, listed with reason 3, never read again', async (t) => {
  const input = await realFixturePath('mce');
  const dir = await tempDir(t, 'fuse-zero-scan');
  // The pages a -d 31 dump keeps with data in them: the zero-page scan reads each of them.
  const plain = path.join(dir, 'plain.elf');
  const first = await runCli([input, '-d', '31', '--mode', 'full', '--no-sync', '-o', plain]);
  t.is(first.code, 0, first.stderr);
  const kept = await readBack(plain);
  const source = await readBack(input);
  const phdrs = kept.prefix.phdrs.toArray();
  const loads = phdrs.filter((ph) => ph.type === PT_LOAD && ph.filesz >= BigInt(64 * PAGE));
  const picks = [loads[1], loads[Math.floor(loads.length / 2)], loads[loads.length - 1]].map((ph) => {
    const bytes = kept.segment(phdrs.indexOf(ph));
    const at = [...Array(Number(ph.filesz) / PAGE).keys()].find((k) => bytes.subarray(k * PAGE, (k + 1) * PAGE).some((b) => b !== 0))!;
    return ph.paddr + BigInt(at * PAGE);
  });
  const inputOffset = (paddr: bigint) => {
    const ph = source.prefix.phdrs.toArray().find((p) => p.type === PT_LOAD && paddr >= p.paddr && paddr < p.paddr + p.filesz)!;
    return Number(ph.offset + paddr - ph.paddr);
  };
  const badPages = picks.map(inputOffset);
  const mount = await mountFaulty(t, { backing: input, badPages });
  const out = path.join(dir, 'out.elf');
  const r = await runCli([mount.file, '-d', '31', '--mode', 'full', '--no-sync', '--json', '-o', out]);
  t.is(r.code, 0, r.stderr.toString());
  const counts = (await mount.readCounts()).counts;
  // One failing read of the run it was in, one of the page alone; the copy never asks for it.
  t.deepEqual(badPages.map((p) => counts[String(p)]), badPages.map(() => 2));
  const written = await readBack(out);
  const listed = written.omitted!.entries.filter((e) => e.reason === OmitReason.READ_ERROR);
  for (const p of picks) t.true(listed.some((e) => p >= e.paddr && p < e.paddr + e.length), `0x${p.toString(16)} listed as a read error`);
  t.regex(r.stderr.toString(), /read error|failed to read/i);
});
