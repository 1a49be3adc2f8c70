import test from 'ava';
import { CPU_VENDOR } from '../src/mce/record.js';
import { looksLikeKernelLog, parseMceLog } from '../src/mce/log-parser.js';
import { judgeMce } from '../src/mce/rules.js';

// The end of the crashed kernel's log in shared/fixtures/vmcore-6.1-mce.elf.gz, exactly as its README gives it.
const FIXTURE_LINES = [
  'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
  'mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff99e592eb> {native_safe_halt+0xb/0x10}',
  'mce: [Hardware Error]: TSC 79b82cb9c ADDR 345000 MISC 8c',
  'mce: [Hardware Error]: PROCESSOR 0:506e3 TIME 1795690541 SOCKET 0 APIC 0 microcode 1',
  "mce: [Hardware Error]: Run the above through 'mcelog --ascii'",
  'mce: [Hardware Error]: Machine check: Processor context corrupt',
  'Kernel panic - not syncing: Fatal machine check',
];

function checkFixtureRecord(t: import('ava').ExecutionContext, text: string): void {
  const parsed = parseMceLog(text);
  t.is(parsed.records.length, 1);
  const r = parsed.records[0];
  t.is(r.status, 0xbe00000000100134n);
  t.is(r.mcgstatus, 5n);
  t.is(r.bank, 1);
  t.is(r.cpu, 0);
  t.is(r.extcpu, 0);
  t.is(r.cs, 0x10);
  t.is(r.ip, 0xffffffff99e592ebn);
  t.is(r.tsc, 0x79b82cb9cn);
  t.is(r.addr, 0x345000n);
  t.is(r.misc, 0x8cn);
  t.is(r.cpuvendor, CPU_VENDOR.INTEL);
  t.is(r.cpuid, 0x506e3);
  t.is(r.time, 1795690541n);
  t.is(r.socketid, 0);
  t.is(r.apicid, 0);
  t.is(r.microcode, 1);
  t.is(r.synd, 0n);
  t.is(r.ipid, 0n);
  t.is(parsed.panicLine, 'Kernel panic - not syncing: Fatal machine check');
}

test('the fixture lines, exactly', (t) => {
  checkFixtureRecord(t, FIXTURE_LINES.join('\n'));
  const v = judgeMce(parseMceLog(FIXTURE_LINES.join('\n')).records[0], 'kernel-log', 4096);
  t.deepEqual(v.skip, { paddr: 0x345000n, length: 0x1000n });
  t.true(v.fatal);
});

test('the fixture lines with printk timestamps, CRLF and surrounding noise', (t) => {
  const text = [
    '[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)',
    '[   12.000000] tsc: Refined TSC clocksource calibration: 2591.999 MHz',
    ...FIXTURE_LINES.map((l, i) => `[  123.45678${i}] ${l}`),
    '[  123.999999] Kernel Offset: 0x18400000 from 0xffffffff81000000',
  ].join('\r\n');
  checkFixtureRecord(t, text);
});

test('printk caller ids, log levels, syslog and journal prefixes', (t) => {
  const prefixes = ['<0>[  123.456789] ', '[  123.456789][    C0] ', 'Nov 26 11:41:00 host kernel: ', 'kern  :emerg : [Wed Nov 26 11:41:00 2025] '];
  for (const prefix of prefixes) {
    const text = FIXTURE_LINES.map((l) => prefix + l).join('\n');
    checkFixtureRecord(t, text);
  }
});

test('AMD SMCA variant: "Machine Check:" without Exception, SYND and IPID, vendor 2', (t) => {
  const text = [
    'mce: [Hardware Error]: Machine check events logged',
    'mce: [Hardware Error]: CPU 12: Machine Check: 0 Bank 16: bc00080001010135',
    'mce: [Hardware Error]: TSC 0 ADDR 1f4c23fc0 MISC d01a0ffe00000000 PPIN 2b7b6d3e2f9b1a3c SYND 5d000002 IPID 9600150f00',
    'mce: [Hardware Error]: PROCESSOR 2:a00f11 TIME 1700000000 SOCKET 1 APIC 1c microcode a0011d1',
  ].join('\n');
  const { records, panicLine } = parseMceLog(text);
  t.is(records.length, 1);
  const r = records[0];
  t.is(r.extcpu, 12);
  t.is(r.cpu, 12);
  t.is(r.mcgstatus, 0n);
  t.is(r.bank, 16);
  t.is(r.status, 0xbc00080001010135n);
  t.is(r.ip, 0n, 'no RIP line');
  t.is(r.addr, 0x1f4c23fc0n);
  t.is(r.misc, 0xd01a0ffe00000000n);
  t.is(r.ppin, 0x2b7b6d3e2f9b1a3cn);
  t.is(r.synd, 0x5d000002n);
  t.is(r.ipid, 0x9600150f00n);
  t.is(r.cpuvendor, CPU_VENDOR.AMD);
  t.is(r.cpuid, 0xa00f11);
  t.is(r.socketid, 1);
  t.is(r.apicid, 0x1c);
  t.is(r.microcode, 0xa0011d1);
  t.is(panicLine, undefined, 'non-fatal: no panic line');
});

test('no MISC, no ADDR, and SYND1/SYND2 of newer kernels are tolerated', (t) => {
  const text = [
    'mce: [Hardware Error]: CPU 3: Machine Check: 0 Bank 5: bea0000000000108',
    'mce: [Hardware Error]: TSC 1234 SYND 1 SYND1 2 SYND2 3 IPID 500b000000000',
    'mce: [Hardware Error]: PROCESSOR 2:a10f11 TIME 1700000001 SOCKET 0 APIC 6 microcode a101148',
  ].join('\n');
  const [r] = parseMceLog(text).records;
  t.is(r.tsc, 0x1234n);
  t.is(r.addr, 0n);
  t.is(r.misc, 0n);
  t.is(r.synd, 1n);
  t.is(r.ipid, 0x500b000000000n);
});

test('several records, in order, with the panic line of the last panic', (t) => {
  const text = [
    '[   50.1] mce: [Hardware Error]: CPU 1: Machine Check: 0 Bank 7: 8c00004000010090',
    '[   50.1] mce: [Hardware Error]: TSC 100 ADDR 7fff000 MISC 140000086',
    '[   50.1] mce: [Hardware Error]: PROCESSOR 0:50657 TIME 1700000000 SOCKET 0 APIC 2 microcode 5003302',
    '[   60.0] Kernel panic - not syncing: something earlier',
    '[   99.0] mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
    '[   99.0] mce: [Hardware Error]: RIP 10:<ffffffff81000000> {foo+0x0/0x10}',
    '[   99.0] mce: [Hardware Error]: TSC 200 ADDR 345000 MISC 8c',
    '[   99.0] mce: [Hardware Error]: PROCESSOR 0:50657 TIME 1700000100 SOCKET 0 APIC 0 microcode 5003302',
    '[   99.0] mce: [Hardware Error]: CPU 1: Machine Check Exception: 5 Bank 1: b200000000000800',
    '[   99.0] mce: [Hardware Error]: TSC 201',
    '[   99.0] mce: [Hardware Error]: PROCESSOR 0:50657 TIME 1700000100 SOCKET 0 APIC 2 microcode 5003302',
    '[   99.1] Kernel panic - not syncing: Fatal machine check',
  ].join('\n');
  const { records, panicLine } = parseMceLog(text);
  t.deepEqual(records.map((r) => r.status), [0x8c00004000010090n, 0xbe00000000100134n, 0xb200000000000800n]);
  t.deepEqual(records.map((r) => r.extcpu), [1, 0, 1]);
  t.is(records[0].misc, 0x140000086n);
  t.is(records[1].ip, 0xffffffff81000000n);
  t.is(records[1].cs, 0x10);
  t.is(records[2].addr, 0n);
  t.is(panicLine, 'Kernel panic - not syncing: Fatal machine check');
  t.false(judgeMce(records[0], 'kernel-log', 4096).uncorrected);
});

test('a record whose PROCESSOR line is missing still counts', (t) => {
  const text = [
    'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
    'mce: [Hardware Error]: TSC 0 ADDR 345000 MISC 8c',
    'mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 16: bc00080001010135',
    'mce: [Hardware Error]: TSC 0 ADDR 1000 SYND 5d000002 IPID 9600150f00',
  ].join('\n');
  const { records } = parseMceLog(text);
  t.is(records.length, 2);
  t.is(records[0].addr, 0x345000n);
  t.is(records[0].cpuvendor, CPU_VENDOR.INTEL);
  t.is(records[1].cpuvendor, CPU_VENDOR.AMD, 'SYND/IPID are printed only on SMCA');
});

test('pr_cont pieces split onto lines of their own', (t) => {
  const text = [
    'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
    'mce: [Hardware Error]: TSC 79b82cb9c ',
    'ADDR 345000 MISC 8c',
    'mce: [Hardware Error]: PROCESSOR 0:506e3 TIME 1795690541 SOCKET 0 APIC 0 microcode 1',
  ].join('\n');
  const [r] = parseMceLog(text).records;
  t.is(r.addr, 0x345000n);
  t.is(r.misc, 0x8cn);
});

test('older kernels: no HW_ERR prefix, padded MCG_STATUS, no microcode', (t) => {
  const text = [
    '<0>[  812.1] CPU 2: Machine Check Exception:                5 Bank 4: b200000000070f0f',
    '<0>[  812.1] RIP !INEXACT! 10:<ffffffff8100b3a1> {mwait_idle+0x61/0x90}',
    '<0>[  812.1] TSC 2d2ab4a1c ADDR 12345000 MISC 8c',
    '<0>[  812.1] PROCESSOR 0:206d7 TIME 1400000000 SOCKET 0 APIC 4',
    '<0>[  812.1] Kernel panic - not syncing: Fatal Machine check',
  ].join('\n');
  const { records, panicLine } = parseMceLog(text);
  t.is(records.length, 1);
  t.is(records[0].extcpu, 2);
  t.is(records[0].mcgstatus, 5n);
  t.is(records[0].bank, 4);
  t.is(records[0].addr, 0x12345000n);
  t.is(records[0].apicid, 4);
  t.is(records[0].microcode, 0);
  t.is(records[0].time, 1400000000n);
  t.is(panicLine, 'Kernel panic - not syncing: Fatal Machine check');
});

test('a record printed twice is kept once', (t) => {
  const text = [...FIXTURE_LINES.slice(0, 4), ...FIXTURE_LINES].join('\n');
  t.is(parseMceLog(text).records.length, 1);
});

test('noise and garbage are ignored', (t) => {
  const text = [
    'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be0000000010013434', // 18 digits: garbage
    'mce: [Hardware Error]: TSC 1 ADDR 345000',
    'TSC deadline timer available',
    'mce: CPU0: Thermal monitoring enabled (TM2)',
    'RIP: 0010:native_safe_halt+0xb/0x10',
  ].join('\n');
  t.deepEqual(parseMceLog(text), { records: [] });
  t.deepEqual(parseMceLog(''), { records: [] });
});

test('continuation lines before any CPU line are ignored', (t) => {
  const text = ['mce: [Hardware Error]: TSC 1 ADDR 345000 MISC 8c', ...FIXTURE_LINES].join('\n');
  const { records } = parseMceLog(text);
  t.is(records.length, 1);
  t.is(records[0].tsc, 0x79b82cb9cn);
});

test('looksLikeKernelLog', (t) => {
  t.true(looksLikeKernelLog(FIXTURE_LINES.join('\n')));
  t.true(looksLikeKernelLog('CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134'));
  t.true(looksLikeKernelLog('Kernel panic - not syncing: Fatal machine check'));
  t.false(looksLikeKernelLog('0x345000\n0x1000+4096\n'));
});
