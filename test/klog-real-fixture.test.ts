// The real 6.1 kdump vmcore: our dmesg must equal vmcore-dmesg's, and must end with the machine check and the panic.

import { ProgramHeaderTable } from '../src/elf/program-header-table.js';
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PT_LOAD } from '../src/elf/constants.js';
import { buildAddressMap } from '../src/klog/address-map.js';
import { formatDmesg, formatDmesgBytes } from '../src/klog/dmesg-format.js';
import { readKernelLog } from '../src/klog/kernel-log.js';
import { openFileMemory } from '../src/klog/physical-memory.js';
import { loadKernelLog } from '../src/pipeline/kernel-log-source.js';
import { realFixturePath } from './helpers/fixture.js';

const run = promisify(execFile);

const MCE_TAIL = [
  'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
  'mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff99e592eb> {native_safe_halt+0xb/0x10}',
  'mce: [Hardware Error]: TSC 79b82cb9c ADDR 345000 MISC 8c ',
  'mce: [Hardware Error]: PROCESSOR 0:506e3 TIME 1795690541 SOCKET 0 APIC 0 microcode 1',
  "mce: [Hardware Error]: Run the above through 'mcelog --ascii'",
  'mce: [Hardware Error]: Machine check: Processor context corrupt',
  'Kernel panic - not syncing: Fatal machine check',
];

test('dmesg of the real vmcore is byte for byte what vmcore-dmesg prints', async (t) => {
  const file = await realFixturePath();
  const [theirs, log] = await Promise.all([run('/usr/sbin/vmcore-dmesg', [file], { encoding: 'buffer', maxBuffer: 64 << 20 }), loadKernelLog(file)]);
  t.is(log.format, 'printk-ringbuffer');
  t.true(theirs.stdout.length > 10_000);
  t.deepEqual(formatDmesgBytes(log), theirs.stdout);
});

test('the real log ends with the machine-check lines and the panic', async (t) => {
  const log = await loadKernelLog(await realFixturePath());
  t.deepEqual(log.records.slice(-MCE_TAIL.length).map((r) => r.text), MCE_TAIL);
  t.true(formatDmesg(log).endsWith('] Kernel panic - not syncing: Fatal machine check\n'));
  const seqs = log.records.map((r) => r.seq);
  t.deepEqual(seqs, [...seqs].sort((a, b) => (a! < b! ? -1 : 1)));
  t.is(log.records.at(-1)?.level, 0);
});

test('the real log says which symbol and which pages it used', async (t) => {
  const file = await realFixturePath();
  const log = await loadKernelLog(file);
  t.deepEqual(log.symbolsUsed, { prb: 0xffffffff9ae643e0n });
  // prb sits in the kernel image: 0xffffffff9ae643e0 - __START_KERNEL_map + phys_base (-0xf600000).
  t.true(log.pagesTouched.includes(0xb864000n));
  t.true(log.pagesTouched.every((p) => p % 4096n === 0n));
  t.true(log.pagesTouched.length >= 10 && log.pagesTouched.length < 1000);
});

test('without the kernel-text PT_LOAD, phys_base (negative here) and KASLR still map the symbols', async (t) => {
  const opened = await openFileMemory(await realFixturePath());
  try {
    const withText = buildAddressMap(opened.phdrs, opened.vmcoreinfo, opened.machine);
    const ramOnly = opened.phdrs.toArray().filter((ph) => !(ph.type === PT_LOAD && ph.vaddr >= 0xffffffff80000000n));
    t.is(ramOnly.length, opened.phdrs.length - 1);
    const fromPhysBase = buildAddressMap(ProgramHeaderTable.from(ramOnly), opened.vmcoreinfo, opened.machine);
    t.is(fromPhysBase.toPhysical(0xffffffff99400000n), 0x9e00000n);
    t.is(fromPhysBase.toPhysical(0xffffffff9ae643e0n), withText.toPhysical(0xffffffff9ae643e0n));
    const a = readKernelLog(opened.memory, opened.vmcoreinfo, withText, 'le', 8);
    const b = readKernelLog(opened.memory, opened.vmcoreinfo, fromPhysBase, 'le', 8);
    t.is(formatDmesg(b), formatDmesg(a));
  } finally {
    await opened.close();
  }
});
