import test from 'ava';
import fc from 'fast-check';
import { BadInputError, UsageError } from '../src/errors.js';
import {
  CPU_VENDOR,
  decodeMceRecord,
  emptyMceRecord,
  encodeMceRecord,
  MCE_MIN_RECORD_SIZE,
  MCE_RECORD_SIZE,
  mceRecordFromJson,
  mceRecordToJson,
  type MceRecord,
} from '../src/mce/record.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const arbMceRecord: fc.Arbitrary<MceRecord> = fc.record({
  status: u64, misc: u64, addr: u64, mcgstatus: u64, ip: u64, tsc: u64, time: u64,
  cpuvendor: u8, injectFlags: u8, severity: u8, cpuid: u32, cs: u8, bank: u8, cpu: u8, finished: u8,
  extcpu: u32, socketid: u32, apicid: u32, mcgcap: u64, synd: u64, ipid: u64, ppin: u64, microcode: u32, kflags: u64,
});

/** A record with a distinct value in every field, so that a wrong offset shows. */
const RICH: MceRecord = {
  status: 0xbe00000000100134n,
  misc: 0x8cn,
  addr: 0x345000n,
  mcgstatus: 0x5n,
  ip: 0xffffffff99e592ebn,
  tsc: 0x79b82cb9cn,
  time: 0x6b08102dn,
  cpuvendor: 0x02,
  injectFlags: 0x01,
  severity: 0x07,
  cpuid: 0x00a00f11,
  cs: 0x10,
  bank: 0x11,
  cpu: 0x03,
  finished: 0x01,
  extcpu: 0x103,
  socketid: 0x1,
  apicid: 0x22,
  mcgcap: 0x100081cn,
  synd: 0x1122334455667788n,
  ipid: 0x000700b020350000n,
  ppin: 0x0123456789abcdefn,
  microcode: 0x0a0011d1,
  kflags: 0x4n,
};

// Written by hand from the uapi layout (primer §3), one line per field.
const RICH_LE = [
  '34011000000000be', // 0 status
  '8c00000000000000', // 8 misc
  '0050340000000000', // 16 addr
  '0500000000000000', // 24 mcgstatus
  'eb92e599ffffffff', // 32 ip
  '9ccb829b07000000', // 40 tsc
  '2d10086b00000000', // 48 time
  '02', '01', '07', '00', // 56 cpuvendor, inject_flags, severity, pad
  '110fa000', // 60 cpuid
  '10', '11', '03', '01', // 64 cs, bank, cpu, finished
  '03010000', // 68 extcpu
  '01000000', // 72 socketid
  '22000000', // 76 apicid
  '1c08000100000000', // 80 mcgcap
  '8877665544332211', // 88 synd
  '00003520b0000700', // 96 ipid
  'efcdab8967452301', // 104 ppin
  'd111000a', // 112 microcode
  '00000000', // 116 pad
  '0400000000000000', // 120 kflags
].join('');

const RICH_BE = [
  'be00000000100134',
  '000000000000008c',
  '0000000000345000',
  '0000000000000005',
  'ffffffff99e592eb',
  '000000079b82cb9c',
  '000000006b08102d',
  '02', '01', '07', '00',
  '00a00f11',
  '10', '11', '03', '01',
  '00000103',
  '00000001',
  '00000022',
  '000000000100081c',
  '1122334455667788',
  '000700b020350000',
  '0123456789abcdef',
  '0a0011d1',
  '00000000',
  '0000000000000004',
].join('');

test('constants', (t) => {
  t.is(MCE_RECORD_SIZE, 128);
  t.is(MCE_MIN_RECORD_SIZE, 88);
  t.is(CPU_VENDOR.INTEL, 0);
  t.is(CPU_VENDOR.AMD, 2);
  t.is(CPU_VENDOR.HYGON, 9);
  t.is(CPU_VENDOR.ZHAOXIN, 10);
  t.is(RICH_LE.length, 256);
  t.is(RICH_BE.length, 256);
});

test('encodes a record to hand-written bytes, little-endian', (t) => {
  t.is(encodeMceRecord(RICH, 'le').toString('hex'), RICH_LE);
});

test('encodes a record to hand-written bytes, big-endian', (t) => {
  t.is(encodeMceRecord(RICH, 'be').toString('hex'), RICH_BE);
});

test('decodes hand-written bytes in both byte orders', (t) => {
  t.deepEqual(decodeMceRecord(Buffer.from(RICH_LE, 'hex'), 'le', 128), RICH);
  t.deepEqual(decodeMceRecord(Buffer.from(RICH_BE, 'hex'), 'be', 128), RICH);
});

test('an 88-byte record ends at mcgcap; later fields stay 0', (t) => {
  const rec = decodeMceRecord(Buffer.from(RICH_LE, 'hex').subarray(0, 88), 'le', 88);
  t.is(rec.mcgcap, RICH.mcgcap);
  t.is(rec.apicid, RICH.apicid);
  t.is(rec.synd, 0n);
  t.is(rec.ipid, 0n);
  t.is(rec.ppin, 0n);
  t.is(rec.microcode, 0);
  t.is(rec.kflags, 0n);
});

test('a record size covers a field only when it covers it whole', (t) => {
  const buf = Buffer.from(RICH_BE, 'hex');
  const r100 = decodeMceRecord(buf, 'be', 100); // synd (88..96) yes, ipid (96..104) no
  t.is(r100.synd, RICH.synd);
  t.is(r100.ipid, 0n);
  const r116 = decodeMceRecord(buf, 'be', 116); // up to microcode
  t.is(r116.microcode, RICH.microcode);
  t.is(r116.kflags, 0n);
});

test('a record larger than 128 bytes: the known fields are read, the rest ignored', (t) => {
  const buf = Buffer.concat([Buffer.from(RICH_LE, 'hex'), Buffer.alloc(32, 0xee)]);
  t.deepEqual(decodeMceRecord(buf, 'le', 160), RICH);
});

test('record size below 88 or a short buffer is BadInputError', (t) => {
  const buf = Buffer.from(RICH_LE, 'hex');
  const e = t.throws(() => decodeMceRecord(buf, 'le', 87), { instanceOf: BadInputError });
  t.regex(e!.message, /87/);
  t.throws(() => decodeMceRecord(buf.subarray(0, 100), 'le', 128), { instanceOf: BadInputError });
  t.notThrows(() => decodeMceRecord(buf.subarray(0, 100), 'le', 100));
});

test('encode refuses a value too wide for its field', (t) => {
  t.throws(() => encodeMceRecord({ ...RICH, bank: 256 }, 'le'), { instanceOf: RangeError, message: /bank/ });
  t.throws(() => encodeMceRecord({ ...RICH, status: 1n << 64n }, 'le'), { instanceOf: RangeError, message: /status/ });
  t.throws(() => encodeMceRecord({ ...RICH, cpuid: -1 }, 'le'), { instanceOf: RangeError, message: /cpuid/ });
});

test('pad bytes are written as zero', (t) => {
  const all = { ...RICH };
  const buf = encodeMceRecord(all, 'le');
  t.is(buf[59], 0);
  t.is(buf.readUInt32LE(116), 0);
});

test('JSON: numbers, hex and decimal strings, vendor names', (t) => {
  const rec = mceRecordFromJson(
    { status: '0xBE00000000100134', misc: 140, addr: '3428352', bank: 1, cpu: '0x0', cpuvendor: 'amd', inject_flags: 1 },
    'test',
  );
  t.is(rec.status, 0xbe00000000100134n);
  t.is(rec.misc, 0x8cn);
  t.is(rec.addr, 0x345000n);
  t.is(rec.bank, 1);
  t.is(rec.cpuvendor, 2);
  t.is(rec.injectFlags, 1);
  t.is(rec.tsc, 0n);
  t.is(mceRecordFromJson({ status: 1, cpuvendor: 'Hygon' }, 'x').cpuvendor, 9);
});

test('JSON: unknown key is a UsageError naming the key and the place', (t) => {
  const e = t.throws(() => mceRecordFromJson({ status: 1, stauts: 2 }, 'faults.json record 1'), { instanceOf: UsageError });
  t.regex(e!.message, /faults\.json record 1/);
  t.regex(e!.message, /"stauts"/);
});

test('JSON: status is required', (t) => {
  t.throws(() => mceRecordFromJson({ addr: 1 }, 'r'), { instanceOf: UsageError, message: /"status" is required/ });
});

test('JSON: bad values are UsageErrors', (t) => {
  t.throws(() => mceRecordFromJson({ status: -1 }, 'r'), { instanceOf: UsageError, message: /status/ });
  t.throws(() => mceRecordFromJson({ status: 1.5 }, 'r'), { instanceOf: UsageError });
  t.throws(() => mceRecordFromJson({ status: 2 ** 60 }, 'r'), { instanceOf: UsageError, message: /0x/ });
  t.throws(() => mceRecordFromJson({ status: '0xzz' }, 'r'), { instanceOf: UsageError });
  t.throws(() => mceRecordFromJson({ status: null }, 'r'), { instanceOf: UsageError });
  t.throws(() => mceRecordFromJson({ status: 1, bank: 256 }, 'r'), { instanceOf: UsageError, message: /bank.*8 bits/ });
  t.throws(() => mceRecordFromJson({ status: '0x10000000000000000' }, 'r'), { instanceOf: UsageError, message: /64 bits/ });
  t.throws(() => mceRecordFromJson({ status: 1, cpuvendor: 'acme' }, 'r'), { instanceOf: UsageError });
  t.throws(() => mceRecordFromJson([1], 'r'), { instanceOf: UsageError, message: /object/ });
  t.throws(() => mceRecordFromJson({ status: 1, injectFlags: 1, inject_flags: 1 }, 'r'), { instanceOf: UsageError, message: /twice/ });
});

test('JSON: toJson writes 64-bit fields as hex strings, and reads back', (t) => {
  const json = mceRecordToJson(RICH);
  t.is(json.status, '0xbe00000000100134');
  t.is(json.ppin, '0x123456789abcdef');
  t.is(json.bank, 0x11);
  t.is(json.cpuid, 0x00a00f11);
  t.deepEqual(mceRecordFromJson(JSON.parse(JSON.stringify(json)), 'round trip'), RICH);
  t.deepEqual(Object.keys(json).length, 24);
});

test('emptyMceRecord is all zeros and encodes to 128 zero bytes', (t) => {
  t.true(encodeMceRecord(emptyMceRecord(), 'be').equals(Buffer.alloc(128)));
});

test('property: encode then decode is the identity, in both byte orders', (t) => {
  fc.assert(
    fc.property(arbMceRecord, fc.constantFrom<'le' | 'be'>('le', 'be'), (rec, endian) => {
      t.deepEqual(decodeMceRecord(encodeMceRecord(rec, endian), endian, 128), rec);
      t.deepEqual(mceRecordFromJson(JSON.parse(JSON.stringify(mceRecordToJson(rec))), 'p'), rec);
    }),
  );
});
