// The real Linux 6.1 dump with no hint: the machine check found in its own log, a slim dump crash can read, a full dump that skips the page.

import test from 'ava';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { realFixturePath } from './helpers/fixture.js';
import { fixtureVmlinux } from './helpers/vmlinux.js';
import { runCli, runShell } from './helpers/cli.js';
import { assertReadersAccept } from './helpers/elf-readers.js';
import { readBack } from './helpers/read-dump.js';
import { tempDir } from './helpers/tmp.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';

const run = promisify(execFile);
const POISONED = 0x345000n;
const PANIC = 'Kernel panic - not syncing: Fatal machine check';

async function vmcoreDmesg(file: string): Promise<string> {
  return (await run('/usr/sbin/vmcore-dmesg', [file], { maxBuffer: 64 << 20 })).stdout;
}

/** What `crash --minimal` prints for `log`, without its banner. */
async function crashLog(vmlinux: string, dump: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', 'printf "log\\nexit\\n" | crash --minimal "$1" "$2"', 'bash', vmlinux, dump], { maxBuffer: 64 << 20, timeout: 300_000 });
  const start = stdout.indexOf('[    0.000000]');
  return start < 0 ? stdout : stdout.slice(start);
}

async function sha256(file: string, start: number, length: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { start, end: start + length - 1, highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('no flags: a slim dump whose MCE note holds the record from the log, and whose cause quotes the panic', async (t) => {
  const input = await realFixturePath();
  const out = path.join(await tempDir(t, 'klogreal'), 'auto.elf');
  const r = await runCli([input, '-o', out]);
  t.is(r.code, 0, r.stderr);
  const back = await readBack(out);
  t.is(back.mce.length, 1);
  t.deepEqual([back.mce[0].status, back.mce[0].addr, back.mce[0].misc, back.mce[0].bank, back.mce[0].mcgstatus], [0xbe00000000100134n, POISONED, 0x8cn, 1, 5n]);
  t.regex(back.causes[0], new RegExp(`^unrecoverable memory error: MCE bank 1 status 0xbe00000000100134 addr 0x345000 \\(physical\\); the kernel said "${PANIC}"`));
  const size = statSync(out).size;
  t.log(`slim dump with the kernel log's pages: ${size} bytes`);
  t.true(size < 1 << 20, "well under 1 MiB");
  // Every left-out range is listed with reason 6; nothing else was left out.
  t.true(back.omitted!.entries.length > 4);
  t.true(back.omitted!.entries.every((e) => e.reason === OmitReason.SLIM));
  t.is(await vmcoreDmesg(out), await vmcoreDmesg(input), 'vmcore-dmesg reads the same log from the slim dump');
  const inspected = await runCli(['inspect', out]);
  t.regex(inspected.stdout.toString(), /Kernel log: \d+ records \(printk-ringbuffer\), panic: "Kernel panic - not syncing: Fatal machine check"/);
  t.regex(inspected.stdout.toString(), /machine check in the log: cpu 0 bank 1 status 0xbe00000000100134 .* addr 0x345000 .*fatal/);
  await assertReadersAccept(t, out);
});

test('crash --minimal prints the whole log from the slim dump, machine check and panic included', async (t) => {
  const [input, vmlinux] = await Promise.all([realFixturePath(), fixtureVmlinux()]);
  const dir = await tempDir(t, 'klogcrash');
  const slim = path.join(dir, 'slim.elf');
  t.is((await runCli([input, '-o', slim, '-q'])).code, 0);
  const bare = path.join(dir, 'bare.elf');
  t.is((await runCli([input, '-o', bare, '-q', '--slim-keep', 'none'])).code, 0);
  const [fromSlim, fromOriginal, fromBare] = await Promise.all([crashLog(vmlinux, slim), crashLog(vmlinux, input), crashLog(vmlinux, bare)]);
  t.true(fromOriginal.includes(PANIC), 'crash reads the original');
  t.is(fromSlim, fromOriginal);
  t.regex(fromSlim, /mce: \[Hardware Error\]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134/);
  t.false(fromBare.includes(PANIC), 'a bare slim dump (--slim-keep none) holds no log');
});

test('--mode full zero-fills exactly page 0x345000 and lists it with reason 4', async (t) => {
  const input = await realFixturePath();
  const out = path.join(await tempDir(t, 'klogreal'), 'full.elf');
  const r = await runCli([input, '-o', out, '--mode', 'full', '--no-sync']);
  t.is(r.code, 0, r.stderr);
  const back = await readBack(out);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), [[POISONED, 0x1000n, OmitReason.KERNEL_LOG]]);
  const index = back.prefix.phdrs.toArray().findIndex((ph, i) => i > 0 && ph.paddr <= POISONED && POISONED < ph.paddr + ph.filesz);
  const seg = back.segment(index);
  const at = Number(POISONED - back.prefix.phdrs.toArray()[index].paddr);
  t.true(seg.subarray(at, at + 0x1000).every((b) => b === 0));
  // The rest of that segment equals the input's.
  const inPrefix = await readBack(input).then((x) => x.prefix);
  const inOffset = Number(inPrefix.phdrs.toArray()[index].offset);
  const outOffset = Number(back.prefix.phdrs.toArray()[index].offset);
  t.is(await sha256(out, outOffset, at), await sha256(input, inOffset, at));
  const after = seg.length - at - 0x1000;
  t.is(await sha256(out, outOffset + at + 0x1000, after), await sha256(input, inOffset + at + 0x1000, after));
});

test('from a pipe: the log is found in the look-ahead, the slim dump ends promptly and the producer gets SIGPIPE', async (t) => {
  const input = await realFixturePath();
  const out = path.join(await tempDir(t, 'klogpipe'), 'piped.elf');
  const r = await runShell('cat "$1" | $CLI -o "$2"; echo "${PIPESTATUS[0]} ${PIPESTATUS[1]}"', [input, out]);
  const [producer, slim] = r.stdout.trim().split(' ').map(Number);
  t.is(slim, 0, r.stderr);
  t.is(producer, 141, 'cat was cut short: slim-core stopped reading after the look-ahead');
  const back = await readBack(out);
  t.is(back.mce[0].addr, POISONED);
  t.is(await vmcoreDmesg(out), await vmcoreDmesg(input), 'the kernel-text copies of the log pages are kept');
});

test('a look-ahead too small for the log: a KLOG warning says so, and the capture goes on', async (t) => {
  const input = await realFixturePath();
  const out = path.join(await tempDir(t, 'klogpipe'), 'small.elf');
  const r = await runShell('cat "$1" | $CLI --lookahead 8388608 --mode slim -o "$2"', [input, out]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warning: kernel log: .*beyond the look-ahead.*machine checks it names are not known before the data/);
});
