// The crashed kernel's log as a fault source, on synthetic dumps: fatal or not, usable or not, aliases, holes, several records.

import test from 'ava';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { MCE_PANIC_MESSAGES } from '../src/mce/log-parser.js';
import type { Warning } from '../src/errors.js';
import { buildPrintkRingbuffer, X86_64, type SyntheticKlog } from './helpers/synthetic-klog.js';
import { readBack } from './helpers/read-dump.js';
import { assertReadersAccept } from './helpers/elf-readers.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 0x1000n;
// The synthetic kernel image sits at physical 0x1000000; its pages are also in a RAM PT_LOAD (an alias).
const IMAGE_PAGE = 0x1000000n;

function mceLines(status: string, addr: string, misc: string, bank = 1): string[] {
  return [
    `mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank ${bank}: ${status}`,
    'mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff81234567> {native_safe_halt+0xb/0x10}',
    `mce: [Hardware Error]: TSC 79b82cb9c ADDR ${addr} MISC ${misc}`,
    'mce: [Hardware Error]: PROCESSOR 0:506e3 TIME 1795690541 SOCKET 0 APIC 0 microcode 1',
  ];
}

function dumpWithLog(lines: string[], recordsBefore = 5): SyntheticKlog {
  const text = [...Array.from({ length: recordsBefore }, (_, i) => `boot message ${i}`), ...lines];
  return buildPrintkRingbuffer(X86_64, { countBits: 6, sizeBits: 13, records: text.map((line, i) => ({ ts: BigInt(i + 1) * 1_000_000n, text: line })) });
}

async function run(t: import('ava').ExecutionContext, klog: SyntheticKlog, mode?: 'full' | 'slim') {
  const dir = await tempDir(t, 'klogcap');
  const input = path.join(dir, 'in.elf');
  await writeFile(input, klog.fileBytes);
  const out = path.join(dir, 'out.elf');
  const warnings: Warning[] = [];
  const notices: string[] = [];
  const result = await capture({ input, output: out, mode, sync: false, onWarning: (w) => warnings.push(w), onNotice: (l) => notices.push(l) });
  return { result, back: await readBack(out), warnings, notices, out, input };
}

const FATAL = 'be00000000100134';
const PANIC = 'Kernel panic - not syncing: Fatal machine check';

test('auto mode: a fatal machine check in the log makes a slim dump whose MCE note holds the record', async (t) => {
  const { result, back, out } = await run(t, dumpWithLog([...mceLines(FATAL, '1003000', '8c'), PANIC]));
  t.is(result.plan.mode, 'slim');
  t.is(back.mce.length, 1);
  t.is(back.mce[0].status, 0xbe00000000100134n);
  t.is(back.mce[0].addr, 0x1003000n);
  t.is(back.mce[0].misc, 0x8cn);
  t.regex(back.causes[0], /unrecoverable memory error: MCE bank 1 status 0xbe00000000100134 addr 0x1003000 \(physical\); the kernel said "Kernel panic - not syncing: Fatal machine check"/);
  await assertReadersAccept(t, out);
});

test('full mode: the page is zero in both the kernel-image PT_LOAD and the RAM PT_LOAD that alias it, listed with reason 4', async (t) => {
  const klog = dumpWithLog([...mceLines(FATAL, '1003000', '8c'), PANIC]);
  const { back } = await run(t, klog, 'full');
  const holders = back.prefix.phdrs.toArray().map((ph, i) => [ph, i] as const).filter(([ph]) => ph.type === 1 && ph.paddr <= IMAGE_PAGE + 3n * PAGE && IMAGE_PAGE + 3n * PAGE < ph.paddr + ph.filesz);
  t.is(holders.length, 2, 'two PT_LOADs hold the page');
  for (const [ph, i] of holders) {
    const at = Number(IMAGE_PAGE + 3n * PAGE - ph.paddr);
    t.true(back.segment(i).subarray(at, at + 4096).every((b) => b === 0), `segment ${i}`);
  }
  t.deepEqual(
    back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]),
    [
      [0x1003000n, PAGE, OmitReason.KERNEL_LOG],
      [0x1003000n, PAGE, OmitReason.KERNEL_LOG],
    ],
  );
});

test('a page in no PT_LOAD: the record and cause still go into the notes, with a warning, and nothing is zero-filled', async (t) => {
  const { result, back, warnings } = await run(t, dumpWithLog([...mceLines(FATAL, '7000000', '8c'), PANIC]), 'full');
  t.is(result.plan.mode, 'full');
  t.deepEqual(warnings.map((w) => w.code), ['FAULT_OUTSIDE_SEGMENTS']);
  t.is(back.mce.length, 1);
  t.regex(back.causes[0], /addr 0x7000000 \(physical\)/);
  t.deepEqual(back.omitted?.entries, []);
});

test('a corrected machine check skips nothing and keeps a full dump', async (t) => {
  const { result, back, notices } = await run(t, dumpWithLog(mceLines('9c00000000000134', '1003000', '8c')));
  t.is(result.plan.mode, 'full');
  t.deepEqual(back.omitted?.entries, []);
  t.true(notices.some((n) => /corrected/i.test(n)), notices.join('\n'));
});

test('an address that is not physical (MISC mode linear) is reported and never skipped', async (t) => {
  const { back, notices } = await run(t, dumpWithLog([...mceLines(FATAL, '1003000', '4c'), PANIC]), 'full');
  t.deepEqual(back.omitted?.entries, []);
  t.true(notices.some((n) => /not usable/i.test(n) && /linear/.test(n)), notices.join('\n'));
});

test('several records: each usable page is skipped', async (t) => {
  const lines = [...mceLines('bd00000000100134', '1002000', '8c', 2), ...mceLines(FATAL, '2000000', '8c'), PANIC];
  const { back } = await run(t, dumpWithLog(lines), 'full');
  t.is(back.mce.length, 2);
  t.deepEqual(
    [...new Set(back.omitted?.entries.map((e) => e.paddr))],
    [0x1002000n, 0x2000000n],
  );
});

test('a log that does not end in a machine-check panic: an uncorrected record without PCC is not the cause', async (t) => {
  const { result } = await run(t, dumpWithLog([...mceLines('b400000000100134', '1003000', '8c'), 'Kernel panic - not syncing: Attempted to kill init!']));
  t.is(result.plan.mode, 'full');
});

test('a corrupt ring: one notice, and the capture goes on without the log', async (t) => {
  const klog = dumpWithLog([...mceLines(FATAL, '1003000', '8c'), PANIC]);
  const ring = klog.region('printk_ringbuffer');
  const corrupt = klog.patched([{ vaddr: ring.vaddr, bytes: Buffer.from([60, 0, 0, 0]) }]);
  const { result, notices } = await run(t, corrupt);
  t.is(result.plan.mode, 'full');
  t.true(notices.some((n) => /^kernel log: .*going on without it$/.test(n)), notices.join('\n'));
});

test('--no-klog leaves the log alone', async (t) => {
  const dir = await tempDir(t, 'klogcap');
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dumpWithLog([...mceLines(FATAL, '1003000', '8c'), PANIC]).fileBytes);
  const result = await capture({ input, output: path.join(dir, 'out.elf'), kernelLog: false, sync: false });
  t.is(result.plan.mode, 'full');
  t.is(result.plan.records.length, 0);
});

// A record without PCC: only the log's word that mce_panic() killed the kernel makes it the cause (rule 7).
const UC_NO_PCC = 'bc00000000100134';

for (const message of MCE_PANIC_MESSAGES) {
  test(`auto mode: a log ending in mce_panic("${message}") makes its uncorrected record fatal`, async (t) => {
    const { result } = await run(t, dumpWithLog([...mceLines(UC_NO_PCC, '1003000', '8c'), `Kernel panic - not syncing: ${message}`]));
    t.is(result.plan.mode, 'slim');
    t.true(result.plan.records[0].verdict.fatal);
  });
}

test('auto mode: mce_panic()\'s "Machine check: SEVERITY" line before any panic message makes the record fatal', async (t) => {
  const lines = [...mceLines(UC_NO_PCC, '1003000', '8c'), 'mce: [Hardware Error]: Machine check: Action required: data load in error recoverable area of kernel', 'Kernel panic - not syncing: some future wording'];
  const { result } = await run(t, dumpWithLog(lines));
  t.is(result.plan.mode, 'slim');
});

test('auto mode: an uncorrected record without PCC in a log that panicked for another reason is not the cause', async (t) => {
  const { result, back } = await run(t, dumpWithLog([...mceLines(UC_NO_PCC, '1003000', '8c'), 'Kernel panic - not syncing: sysrq triggered crash']));
  t.is(result.plan.mode, 'full');
  t.false(result.plan.records[0].verdict.fatal);
  t.deepEqual(back.omitted?.entries.map((e) => e.reason), [OmitReason.KERNEL_LOG, OmitReason.KERNEL_LOG]);
});
