import test from 'ava';
import { UsageError } from '../src/errors.js';
import { parseFaultArg, parseFaultsFile } from '../src/faults/fault-input.js';

// ---- --fault ----

test('--fault: hex and decimal address, length defaults to 0 (the page holding it)', (t) => {
  t.deepEqual(parseFaultArg('0x345000'), { paddr: 0x345000n, length: 0n, origin: '--fault 0x345000' });
  t.deepEqual(parseFaultArg('3428352'), { paddr: 0x345000n, length: 0n, origin: '--fault 3428352' });
  t.deepEqual(parseFaultArg(' 0X345ABC '), { paddr: 0x345abcn, length: 0n, origin: '--fault 0X345ABC' });
});

test('--fault: PADDR+LEN, each hex or decimal', (t) => {
  t.deepEqual(parseFaultArg('0x345000+0x2000'), { paddr: 0x345000n, length: 0x2000n, origin: '--fault 0x345000+0x2000' });
  t.deepEqual(parseFaultArg('0x345000+8192'), { paddr: 0x345000n, length: 0x2000n, origin: '--fault 0x345000+8192' });
  t.deepEqual(parseFaultArg('3428352 + 0x10').length, 0x10n);
  t.is(parseFaultArg('0xffffffffffffffff').paddr, 0xffffffffffffffffn);
  t.is(parseFaultArg('0xfffffffffffff000+0x1000').length, 0x1000n);
});

test('--fault: bad arguments are UsageErrors naming the argument', (t) => {
  const bad = ['', 'zz', '0x', '0x345000+', '+0x1000', '0x345000+0', '0x345000+-1', '-5', '0x10000000000000000', '0xfffffffffffff000+0x1001', '1e6', '0x1 0x2'];
  for (const arg of bad) {
    const e = t.throws(() => parseFaultArg(arg), { instanceOf: UsageError }, arg);
    t.true(e!.message.startsWith(`--fault ${JSON.stringify(arg)}: `), e!.message);
  }
  t.regex(t.throws(() => parseFaultArg('0x345000+0'))!.message, /leave out "\+LEN"/);
});

// ---- faults files: plain addresses ----

test('file of addresses: comments, blank lines, origins with line numbers', (t) => {
  const text = '# poisoned pages\n\n0x345000\n  0x1000000+0x2000   # two pages\n\t\n4096+4096\r\n';
  const c = parseFaultsFile(text, 'faults.txt');
  t.deepEqual(c.faults.toRanges(), [
    { paddr: 0x345000n, length: 0n, reason: 2, origin: 'faults.txt line 3' },
    { paddr: 0x1000000n, length: 0x2000n, reason: 2, origin: 'faults.txt line 4' },
    { paddr: 4096n, length: 4096n, reason: 2, origin: 'faults.txt line 6' },
  ]);
  t.deepEqual(c.records, []);
  t.is(c.panicLine, undefined);
});

test('file of addresses: an error names the file and the line', (t) => {
  const e = t.throws(() => parseFaultsFile('0x345000\n0x12g000\n', 'faults.txt'), { instanceOf: UsageError });
  t.true(e!.message.startsWith('faults.txt line 2: "0x12g000": '), e!.message);
});

test('empty file and comment-only file: nothing', (t) => {
  t.is(parseFaultsFile('', 'f').faults.count, 0);
  t.is(parseFaultsFile('# nothing\n', 'f').faults.count, 0);
});

test('a comment quoting a kernel log line does not make the file a log', (t) => {
  const text = '# from: mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134\n0x345000\n';
  const c = parseFaultsFile(text, 'f');
  t.is(c.faults.count, 1);
  t.is(c.records.length, 0);
});

// ---- faults files: JSON records ----

test('JSON array of MCE records', (t) => {
  const text = JSON.stringify([
    { status: '0xbe00000000100134', misc: '0x8c', addr: '0x345000', bank: 1, cpu: 0, cpuvendor: 0 },
    { status: '0x9c00000000000000', addr: 4096 },
  ], null, 2);
  const c = parseFaultsFile(text, 'records.json');
  t.is(c.records.length, 2);
  t.is(c.records[0].status, 0xbe00000000100134n);
  t.is(c.records[0].misc, 0x8cn);
  t.is(c.records[1].addr, 4096n);
  t.is(c.faults.count, 0);
});

test('JSON: an unknown key names file, line and key', (t) => {
  const text = '[\n  {"status": "0x1"},\n  {"status": "0x2",\n   "adr": "0x345000"}\n]\n';
  const e = t.throws(() => parseFaultsFile(text, 'records.json'), { instanceOf: UsageError });
  t.regex(e!.message, /^records\.json line 3 \(record 2\): unknown key "adr"/);
});

test('JSON: a syntax error names file and line', (t) => {
  const e = t.throws(() => parseFaultsFile('[\n {"status": 1},\n {"status": }\n]', 'records.json'), { instanceOf: UsageError });
  t.regex(e!.message, /^records\.json line 3: not valid JSON/);
});

test('JSON: must be an array', (t) => {
  // An object does not start with '[': read as lines of addresses, and fails there, naming line 1.
  t.throws(() => parseFaultsFile('{"status": 1}', 'r.json'), { instanceOf: UsageError, message: /^r\.json line 1: / });
  t.is(parseFaultsFile('[]', 'r.json').faults.count, 0);
  t.deepEqual(parseFaultsFile('[]', 'r.json').records, []);
});

test('JSON: strings with brackets and escapes do not confuse line numbers', (t) => {
  const text = '[{"status": "0x1"}, \n{"status": "0x2", "x\\"]": 1}]';
  const e = t.throws(() => parseFaultsFile(text, 'r.json'), { instanceOf: UsageError });
  t.regex(e!.message, /^r\.json line 2 \(record 2\): unknown key "x\\"\]"/);
});

// ---- faults files: kernel log ----

const LOG = [
  '[  123.456789] mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: be00000000100134',
  '[  123.456789] mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff99e592eb> {native_safe_halt+0xb/0x10}',
  '[  123.456789] mce: [Hardware Error]: TSC 79b82cb9c ADDR 345000 MISC 8c',
  '[  123.456789] mce: [Hardware Error]: PROCESSOR 0:506e3 TIME 1795690541 SOCKET 0 APIC 0 microcode 1',
  '[  123.456790] Kernel panic - not syncing: Fatal machine check',
  '',
].join('\n');

test('kernel log text, even when it starts with "[" of a timestamp', (t) => {
  const c = parseFaultsFile(LOG, 'dmesg.txt');
  t.is(c.records.length, 1);
  t.is(c.records[0].addr, 0x345000n);
  t.is(c.panicLine, 'Kernel panic - not syncing: Fatal machine check');
  t.is(c.faults.count, 0);
});

test('kernel log text without timestamps', (t) => {
  const c = parseFaultsFile(LOG.replace(/^\[[^\]]*\] /gm, ''), 'dmesg.txt');
  t.is(c.records.length, 1);
});

test('a kernel log without any machine-check record is an error naming the file', (t) => {
  t.throws(() => parseFaultsFile('[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n', 'dmesg.txt'), {
    instanceOf: UsageError,
    message: /^dmesg\.txt: reads as a kernel log/,
  });
});
