// The three kernel log layouts, built from documented structs: decoded records, dmesg text, and agreement with vmcore-dmesg.

import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { readKernelLog } from '../src/klog/kernel-log.js';
import { formatDmesg, formatDmesgBytes, formatTimestamp } from '../src/klog/dmesg-format.js';
import { tempDir } from './helpers/tmp.js';
import {
  buildLogBufPlain, buildLogBufRecords, buildPrintkRingbuffer, I386, PPC64, X86_64,
  type Arch, type SyntheticKlog,
} from './helpers/synthetic-klog.js';

const run = promisify(execFile);
const read = (k: SyntheticKlog) => readKernelLog(k.memory, k.vmcoreinfo, k.addressMap, k.arch.endian, k.arch.wordSize);

const ringRecords = [
  { ts: 1_000_000n, text: 'Linux version 6.1.0-synthetic', level: 5 },
  { ts: 1_500_000_123n, text: 'tab\there \x01 bin \xff', subsystem: 'pci', device: '+pci:0000:00:01.0' },
  { ts: 2_000_000_000n, text: null, textLen: 5 },
  { ts: 2_100_000_000n, text: 'still being written', state: 'reserved' as const },
  { ts: 2_200_000_000n, text: 'committed, not finalized', state: 'committed' as const },
  { ts: 2_300_000_000n, text: 'a lap behind', staleId: true },
  { ts: 123456_999_999_999n, text: 'x'.repeat(100) },
  { ts: 8_000_000_000n, text: 'two\nlines' },
  { ts: 8_179_119_000n, text: 'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134', level: 0 },
  { ts: 8_188_493_669n, text: 'Kernel panic - not syncing: Fatal machine check', level: 0 },
];
const ringExpected = [
  '[    0.001000] Linux version 6.1.0-synthetic\n',
  '[    1.500000] tab\there \\x01 bin \\xff\n',
  '[    2.000000] \n',
  '[    2.200000] committed, not finalized\n',
  `[123456.999999] ${'x'.repeat(100)}\n`,
  '[    8.000000] two\nlines\n',
  '[    8.179119] mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134\n',
  '[    8.188493] Kernel panic - not syncing: Fatal machine check\n',
].join('');

/** Ids start three short of the id space's end and the data starts mid-ring, so both wrap. */
function ring(arch: Arch, dynamic = false): SyntheticKlog {
  const firstId = (1n << BigInt(arch.wordSize * 8 - 2)) - 3n;
  return buildPrintkRingbuffer(arch, { countBits: 4, sizeBits: 10, firstId, firstLpos: 3n * 1024n + 700n, dynamic, records: ringRecords });
}

const recordsExpected = [
  '[    0.000001] first\n',
  '[    0.000002] second \\x7f\n',
  '[    0.000000] \n',
  `[    0.000003] ${'z'.repeat(80)}\n`,
  '[    4.000000] last\n',
].join('');

function logBufRecords(arch: Arch, oldNames = false): SyntheticKlog {
  // Headers at 400 and 424; the 96-byte third record does not fit at 488, so a zeroed header marks the wrap.
  return buildLogBufRecords(arch, {
    bufLen: 512, startIdx: 400, oldNames, records: [
      { ts: 1_000n, text: 'first', level: 3, facility: 0 },
      { ts: 2_000n, text: 'second \x7f', dict: 'SUBSYSTEM=pci\nDEVICE=+pci:0000:00:01.0' },
      { ts: 3_000n, text: 'z'.repeat(80) },
      { ts: 4_000_000_000n, text: 'last', level: 0 },
    ],
  });
}

const plainWritten = '<6>[    0.000000] Linux version 2.6.32\n<4>[    1.000000] warn \xff\x01\n<0>[    2.000000] Kernel panic - not syncing: x\n';

function plain(arch: Arch): SyntheticKlog {
  return buildLogBufPlain(arch, { bufLen: 64, text: plainWritten });
}

test('formatTimestamp pads seconds to five columns and truncates to microseconds', (t) => {
  t.is(formatTimestamp(0n), '[    0.000000] ');
  t.is(formatTimestamp(8_188_493_669n), '[    8.188493] ');
  t.is(formatTimestamp(123456_999_999_999n), '[123456.999999] ');
  t.is(formatTimestamp(2n ** 64n - 1n), '[18446744073.709551] ');
});

test('lockless ring: prints finalized and committed records in id order, skips reserved and stale ones', (t) => {
  const log = read(ring(X86_64));
  t.is(log.format, 'printk-ringbuffer');
  t.is(formatDmesg(log), ringExpected);
  t.is(log.records[0].level, 5);
  t.is(log.records[1].dict, 'SUBSYSTEM=pci\nDEVICE=+pci:0000:00:01.0');
  t.deepEqual(log.records[1].raw, Buffer.from('tab\there \x01 bin \xff', 'latin1'));
  t.is(log.records[6].text, 'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134');
  t.deepEqual(Object.keys(log.symbolsUsed), ['prb']);
});

test('lockless ring: a wrapped data block is read from the start of the ring', (t) => {
  const k = ring(X86_64);
  const descs = k.memory.read(k.addressMap.toPhysical(k.region('descs').vaddr)!, k.region('descs').size)!;
  const wrappedBlocks = [...Array(16).keys()].filter((slot) => {
    const begin = descs.readBigUInt64LE(slot * 24 + 8);
    const next = descs.readBigUInt64LE(slot * 24 + 16);
    return (begin & 1n) === 0n && begin % 1024n > next % 1024n;
  });
  t.true(wrappedBlocks.length > 0);
  t.is(formatDmesg(read(k)), ringExpected);
});

test('lockless ring: rings allocated in the direct map (printk_rb_dynamic) read the same', (t) => {
  t.is(formatDmesg(read(ring(X86_64, true))), ringExpected);
});

test('lockless ring: text_len longer than the block is cut to the block, as vmcore-dmesg does', (t) => {
  const k = buildPrintkRingbuffer(X86_64, { countBits: 2, sizeBits: 8, records: [{ ts: 0n, text: 'cut', textLen: 300 }] });
  // An 8-byte id, then "cut" padded to 8 bytes: the padding is printed.
  t.is(formatDmesg(read(k)), '[    0.000000] cut\\x00\\x00\\x00\\x00\\x00\n');
});

test('log_buf records: a wrapped log prints the wrap marker as vmcore-dmesg does', (t) => {
  const log = read(logBufRecords(X86_64));
  t.is(log.format, 'log_buf-records');
  t.is(formatDmesg(log), recordsExpected);
  t.deepEqual(log.records.map((r) => r.wrapMarker ?? false), [false, false, true, false, false]);
  t.is(log.records[0].level, 3);
  t.is(log.records[1].dict, 'SUBSYSTEM=pci\nDEVICE=+pci:0000:00:01.0');
});

test('log_buf records: the 3.5-3.10 names SIZE(log) and OFFSET(log.*) work too', (t) => {
  t.is(formatDmesg(read(logBufRecords(X86_64, true))), recordsExpected);
});

test('log_buf records: log_first_idx on the wrap marker starts with the marker', (t) => {
  const k = buildLogBufRecords(X86_64, { bufLen: 512, startIdx: 480, records: [{ ts: 0n, text: 'first' }, { ts: 0n, text: 'second' }] });
  t.is(formatDmesg(read(k)), '[    0.000000] \n[    0.000000] first\n[    0.000000] second\n');
});

test('plain log_buf: the last log_buf_len characters, raw, with their <level> prefixes', (t) => {
  const log = read(plain(X86_64));
  t.is(log.format, 'log_buf-plain');
  t.is(formatDmesg(log), plainWritten.slice(-64));
  t.deepEqual(formatDmesgBytes(log), Buffer.from(plainWritten.slice(-64), 'latin1'));
  const panic = log.records.find((r) => r.text.startsWith('Kernel panic'));
  t.like(panic, { level: 0, tsNanos: 2_000_000_000n, text: 'Kernel panic - not syncing: x' });
});

test('plain log_buf: a log that never filled the ring is printed whole', (t) => {
  const k = buildLogBufPlain(X86_64, { bufLen: 4096, text: plainWritten });
  t.is(formatDmesg(read(k)), plainWritten);
  t.is(read(k).records.length, 3);
});

const archs: [string, Arch][] = [['x86-64', X86_64], ['i386 (ELF32)', I386], ['ppc64 (big-endian)', PPC64]];
const layouts: [string, (arch: Arch) => SyntheticKlog, string][] = [
  ['lockless ring', (a) => ring(a), ringExpected],
  ['lockless dynamic ring', (a) => ring(a, true), ringExpected],
  ['log_buf records', (a) => logBufRecords(a), recordsExpected],
  ['plain log_buf', plain, plainWritten.slice(-64)],
];

for (const [archName, arch] of archs) {
  for (const [layoutName, build, expected] of layouts) {
    test(`${layoutName}, ${archName}: byte for byte what vmcore-dmesg prints`, async (t) => {
      const k = build(arch);
      const file = path.join(await tempDir(t, 'klog'), 'vmcore');
      await writeFile(file, k.fileBytes);
      const theirs = await run('/usr/sbin/vmcore-dmesg', [file], { encoding: 'buffer' });
      const ours = formatDmesgBytes(read(k));
      t.deepEqual(ours, theirs.stdout);
      t.is(ours.toString('latin1'), expected);
    });
  }
}
