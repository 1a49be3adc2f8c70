import test from 'ava';
import fc from 'fast-check';
import { BadInputError } from '../src/errors.js';
import type { Endian } from '../src/elf/byte-order.js';
import { parseNotes } from '../src/elf/note.js';
import { emptyMceRecord, encodeMceRecord, type MceRecord } from '../src/mce/record.js';
import {
  decodeCauseNote,
  decodeMceNote,
  decodeMceNoteWithProvenance,
  decodeOmittedNote,
  MCE_PROVENANCE_CRASH_OWN,
  MCE_PROVENANCE_FATAL,
  MceOrigin,
  encodeCauseNote,
  encodeMceNote,
  encodeOmittedEntries,
  encodeOmittedHeader,
  encodeOmittedNote,
  isSlimcoreNote,
  NT_SLIMCORE_CAUSE,
  NT_SLIMCORE_MCE,
  NT_SLIMCORE_OMITTED,
  OMITTED_ENTRY_SIZE,
  OMITTED_FLAG_MAY_BE_INCOMPLETE,
  OMITTED_HEADER_SIZE,
  omittedDescOffset,
  OmitReason,
  reasonName,
  SLIMCORE_NOTE_NAME,
  type OmittedEntry,
  type OmittedList,
} from '../src/notes/slimcore-notes.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const arbEndian = fc.constantFrom<Endian>('le', 'be');
const arbMceRecord: fc.Arbitrary<MceRecord> = fc.record({
  status: u64, misc: u64, addr: u64, mcgstatus: u64, ip: u64, tsc: u64, time: u64,
  cpuvendor: u8, injectFlags: u8, severity: u8, cpuid: u32, cs: u8, bank: u8, cpu: u8, finished: u8,
  extcpu: u32, socketid: u32, apicid: u32, mcgcap: u64, synd: u64, ipid: u64, ppin: u64, microcode: u32, kflags: u64,
});
const arbEntry: fc.Arbitrary<OmittedEntry> = fc.record({ paddr: u64, length: u64, reason: u32, flags: u32 });
const arbList: fc.Arbitrary<OmittedList> = fc
  .tuple(fc.array(arbEntry, { maxLength: 12 }), fc.integer({ min: 0, max: 8 }), u32)
  .map(([entries, spare, flags]) => ({ entries, capacity: entries.length + spare, flags }));

const hexOf = (...parts: string[]) => parts.join('').replace(/\s+/g, '');
/** "SLIMCORE\0" padded to 12 bytes. */
const NAME = '534c494d434f5245 00000000';

/** The fixture's record, written by hand (little-endian), as in test/mce-record.test.ts but with the fixture's values. */
const FIXTURE_RECORD: MceRecord = {
  ...emptyMceRecord(),
  status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, mcgstatus: 5n, ip: 0xffffffff99e592ebn, tsc: 0x79b82cb9cn,
  time: 1795690541n, cpuid: 0x506e3, cs: 0x10, bank: 1, microcode: 1,
};
const FIXTURE_RECORD_LE = hexOf(
  '34011000000000be 8c00000000000000 0050340000000000 0500000000000000',
  'eb92e599ffffffff 9ccb829b07000000 2d10086b00000000',
  '00000000 e3060500', // cpuvendor, inject_flags, severity, pad; cpuid
  '10010000 00000000 00000000 00000000', // cs, bank, cpu, finished; extcpu; socketid; apicid
  '0000000000000000 0000000000000000 0000000000000000 0000000000000000', // mcgcap synd ipid ppin
  '01000000 00000000 0000000000000000', // microcode, pad, kflags
);
const FIXTURE_RECORD_BE = hexOf(
  'be00000000100134 000000000000008c 0000000000345000 0000000000000005',
  'ffffffff99e592eb 000000079b82cb9c 000000006b08102d',
  '00000000 000506e3',
  '10010000 00000000 00000000 00000000',
  '0000000000000000 0000000000000000 0000000000000000 0000000000000000',
  '00000001 00000000 0000000000000000',
);

test('constants: our types avoid the ones crash gives meaning to', (t) => {
  t.is(SLIMCORE_NOTE_NAME, 'SLIMCORE');
  for (const type of [NT_SLIMCORE_CAUSE, NT_SLIMCORE_MCE, NT_SLIMCORE_OMITTED]) {
    t.true(type > 4 && type !== 0x70000001);
  }
  t.is(NT_SLIMCORE_CAUSE, 0x534c4301);
  t.is(NT_SLIMCORE_MCE, 0x534c4302);
  t.is(NT_SLIMCORE_OMITTED, 0x534c4303);
  t.is(omittedDescOffset(), 24);
  t.is(FIXTURE_RECORD_LE.length, 256);
  t.is(FIXTURE_RECORD_BE.length, 256);
  t.is(encodeMceRecord(FIXTURE_RECORD, 'le').toString('hex'), FIXTURE_RECORD_LE);
});

// ---- CAUSE ----

test('CAUSE note bytes, little-endian (with padding)', (t) => {
  t.is(encodeCauseNote('hi', 'le').toString('hex'), hexOf('09000000 03000000 01434c53', NAME, '68690000'));
  t.is(encodeCauseNote('MCE', 'le').toString('hex'), hexOf('09000000 04000000 01434c53', NAME, '4d434500'));
});

test('CAUSE note bytes, big-endian', (t) => {
  t.is(encodeCauseNote('hi', 'be').toString('hex'), hexOf('00000009 00000003 534c4301', NAME, '68690000'));
});

test('CAUSE: UTF-8, one line, read back up to the NUL', (t) => {
  const note = encodeCauseNote('Erreur mémoire:\nFatal machine check\r\n', 'be');
  const [n] = parseNotes(note, 'be').notes;
  t.is(n.name, 'SLIMCORE');
  t.is(n.type, NT_SLIMCORE_CAUSE);
  t.is(n.desc[n.desc.length - 1], 0);
  t.is(decodeCauseNote(n.desc), 'Erreur mémoire: Fatal machine check');
  t.is(decodeCauseNote(Buffer.from('no nul')), 'no nul');
  t.is(decodeCauseNote(Buffer.alloc(0)), '');
});

// ---- MCE ----

test('MCE note bytes, little-endian', (t) => {
  const expected = hexOf('09000000 88000000 02434c53', NAME, '80000000 01000000', FIXTURE_RECORD_LE);
  t.is(encodeMceNote([FIXTURE_RECORD], 'le').toString('hex'), expected);
  const [n] = parseNotes(Buffer.from(expected, 'hex'), 'le').notes;
  t.deepEqual(decodeMceNote(n.desc, 'le'), [FIXTURE_RECORD]);
});

test('MCE note bytes, big-endian', (t) => {
  const expected = hexOf('00000009 00000088 534c4302', NAME, '00000080 00000001', FIXTURE_RECORD_BE);
  t.is(encodeMceNote([FIXTURE_RECORD], 'be').toString('hex'), expected);
  const [n] = parseNotes(Buffer.from(expected, 'hex'), 'be').notes;
  t.deepEqual(decodeMceNote(n.desc, 'be'), [FIXTURE_RECORD]);
});

test('MCE note with no records', (t) => {
  t.is(encodeMceNote([], 'le').toString('hex'), hexOf('09000000 08000000 02434c53', NAME, '80000000 00000000'));
});

test('MCE note: older 88-byte records are read, later fields 0', (t) => {
  const desc = Buffer.from(hexOf('58000000 02000000', FIXTURE_RECORD_LE.slice(0, 176), FIXTURE_RECORD_LE.slice(0, 176)), 'hex');
  const records = decodeMceNote(desc, 'le');
  t.is(records.length, 2);
  t.deepEqual(records[1], { ...FIXTURE_RECORD, microcode: 0 });
});

test('MCE note: count is capped to the records that fit', (t) => {
  const desc = Buffer.from(hexOf('80000000 05000000', FIXTURE_RECORD_LE, '00'.repeat(100)), 'hex');
  t.is(decodeMceNote(desc, 'le').length, 1);
  t.is(decodeMceNote(Buffer.from('ffffffff ffffffff'.replace(/ /g, ''), 'hex'), 'le').length, 0);
});

test('MCE note provenance: bytes after the records, read back per record; the records alone read as before', (t) => {
  const provenance = [{ origin: MceOrigin.USER_RECORDS, flags: 0 }, { origin: MceOrigin.KERNEL_LOG, flags: MCE_PROVENANCE_FATAL | MCE_PROVENANCE_CRASH_OWN }];
  const note = encodeMceNote([FIXTURE_RECORD, FIXTURE_RECORD], 'le', provenance);
  const desc = parseNotes(note, 'le', 'n').notes[0].desc;
  t.is(desc.length, 8 + 2 * 128 + 4 + 2 * 8);
  t.is(desc.subarray(8 + 256).toString('hex'), '08000000' + '0200000000000000' + '0103000000000000');
  t.deepEqual(decodeMceNoteWithProvenance(desc, 'le'), { records: [FIXTURE_RECORD, FIXTURE_RECORD], provenance });
  t.is(decodeMceNote(desc, 'le').length, 2, 'a reader of the old layout sees the same records');
  const be = parseNotes(encodeMceNote([FIXTURE_RECORD], 'be', provenance.slice(1)), 'be', 'n').notes[0].desc;
  t.deepEqual(decodeMceNoteWithProvenance(be, 'be').provenance, provenance.slice(1));
});

test('MCE note provenance: absent in the old layout, and ignored when cut short or when records were cut', (t) => {
  const old = parseNotes(encodeMceNote([FIXTURE_RECORD], 'le'), 'le', 'n').notes[0].desc;
  t.deepEqual(decodeMceNoteWithProvenance(old, 'le'), { records: [FIXTURE_RECORD] });
  const full = parseNotes(encodeMceNote([FIXTURE_RECORD], 'le', [{ origin: 1, flags: 3 }]), 'le', 'n').notes[0].desc;
  t.is(decodeMceNoteWithProvenance(full.subarray(0, full.length - 1), 'le').provenance, undefined);
  const overCount = Buffer.from(full);
  overCount.writeUInt32LE(2, 4);
  t.is(decodeMceNoteWithProvenance(overCount, 'le').provenance, undefined);
});

test('MCE note: malformed descriptors are BadInputErrors saying what', (t) => {
  t.throws(() => decodeMceNote(Buffer.alloc(7), 'le'), { instanceOf: BadInputError, message: /shorter than its 8-byte header/ });
  t.throws(() => decodeMceNote(Buffer.from('57000000 01000000'.replace(/ /g, ''), 'hex'), 'le'), {
    instanceOf: BadInputError,
    message: /record_size 87 .*minimum of 88/,
  });
});

// ---- OMITTED ----

const ONE_ENTRY: OmittedList = { entries: [{ paddr: 0x345000n, length: 0x1000n, reason: OmitReason.MCE, flags: 0 }], capacity: 2, flags: OMITTED_FLAG_MAY_BE_INCOMPLETE };

test('OMITTED note bytes, little-endian', (t) => {
  const expected = hexOf(
    '09000000 40000000 03434c53', NAME,
    '18000000 01000000 02000000 01000000', // entry_size 24, count 1, capacity 2, flags 1
    '0050340000000000 0010000000000000 01000000 00000000', // entry 0
    '00'.repeat(24), // entry 1: unused
  );
  t.is(encodeOmittedNote(ONE_ENTRY, 'le').toString('hex'), expected);
  const [n] = parseNotes(Buffer.from(expected, 'hex'), 'le').notes;
  t.deepEqual(decodeOmittedNote(n.desc, 'le'), ONE_ENTRY);
});

test('OMITTED note bytes, big-endian', (t) => {
  const expected = hexOf(
    '00000009 00000040 534c4303', NAME,
    '00000018 00000001 00000002 00000001',
    '0000000000345000 0000000000001000 00000001 00000000',
    '00'.repeat(24),
  );
  t.is(encodeOmittedNote(ONE_ENTRY, 'be').toString('hex'), expected);
  const [n] = parseNotes(Buffer.from(expected, 'hex'), 'be').notes;
  t.deepEqual(decodeOmittedNote(n.desc, 'be'), ONE_ENTRY);
});

test('OMITTED header and entries encoders match the note', (t) => {
  t.is(encodeOmittedHeader(1, 2, 1, 'be').toString('hex'), hexOf('00000018 00000001 00000002 00000001'));
  t.is(encodeOmittedEntries(ONE_ENTRY.entries, 'le').toString('hex'), hexOf('0050340000000000 0010000000000000 01000000 00000000'));
  t.is(OMITTED_HEADER_SIZE, 16);
  t.is(OMITTED_ENTRY_SIZE, 24);
});

test('OMITTED: a seekable sink can patch entries in place at omittedDescOffset()', (t) => {
  for (const endian of ['le', 'be'] as const) {
    const note = encodeOmittedNote({ entries: [], capacity: 3, flags: OMITTED_FLAG_MAY_BE_INCOMPLETE }, endian);
    const entries: OmittedEntry[] = [
      { paddr: 0x345000n, length: 0x1000n, reason: OmitReason.KERNEL_LOG, flags: 0 },
      { paddr: 0x9000000n, length: 0x200000n, reason: OmitReason.READ_ERROR, flags: 0 },
    ];
    const d = omittedDescOffset();
    encodeOmittedEntries(entries, endian).copy(note, d + OMITTED_HEADER_SIZE);
    encodeOmittedHeader(entries.length, 3, 0, endian).copy(note, d);
    const [n] = parseNotes(note, endian).notes;
    t.deepEqual(decodeOmittedNote(n.desc, endian), { entries, capacity: 3, flags: 0 });
  }
});

test('OMITTED: capacity below the entry count throws', (t) => {
  t.throws(() => encodeOmittedNote({ ...ONE_ENTRY, capacity: 0 }, 'le'), { instanceOf: RangeError });
  t.throws(() => encodeOmittedHeader(3, 2, 0, 'le'), { instanceOf: RangeError });
});

test('OMITTED: malformed descriptors are BadInputErrors saying what', (t) => {
  const h = (entrySize: number, count: number, capacity: number, extra = 0) => {
    const b = Buffer.alloc(16 + extra);
    b.writeUInt32LE(entrySize, 0);
    b.writeUInt32LE(count, 4);
    b.writeUInt32LE(capacity, 8);
    return b;
  };
  t.throws(() => decodeOmittedNote(Buffer.alloc(15), 'le'), { instanceOf: BadInputError, message: /shorter than its 16-byte header/ });
  t.throws(() => decodeOmittedNote(h(16, 0, 0), 'le'), { instanceOf: BadInputError, message: /entry_size 16/ });
  t.throws(() => decodeOmittedNote(h(24, 3, 2, 48), 'le'), { instanceOf: BadInputError, message: /count 3 .*exceeds capacity 2/ });
  t.throws(() => decodeOmittedNote(h(24, 1, 3, 48), 'le'), { instanceOf: BadInputError, message: /capacity 3 entries/ });
  t.deepEqual(decodeOmittedNote(h(24, 0, 2, 48), 'le'), { entries: [], capacity: 2, flags: 0 });
});

test('OMITTED: a larger entry_size of a later version is read', (t) => {
  const b = Buffer.alloc(16 + 32);
  b.writeUInt32BE(32, 0);
  b.writeUInt32BE(1, 4);
  b.writeUInt32BE(1, 8);
  b.writeBigUInt64BE(0x1000n, 16);
  b.writeBigUInt64BE(0x2000n, 24);
  b.writeUInt32BE(OmitReason.PAGE_FLAG, 32);
  b.writeUInt32BE(7, 36);
  b.writeUInt32BE(0xdeadbeef, 40);
  t.deepEqual(decodeOmittedNote(b, 'be').entries, [{ paddr: 0x1000n, length: 0x2000n, reason: 5, flags: 7 }]);
});

test('reason names', (t) => {
  t.is(reasonName(OmitReason.MCE), 'MCE record');
  t.is(reasonName(OmitReason.USER), 'user-given fault list');
  t.is(reasonName(OmitReason.READ_ERROR), 'read error');
  t.is(reasonName(OmitReason.KERNEL_LOG), "crashed kernel's log");
  t.is(reasonName(OmitReason.PAGE_FLAG), 'page flag');
  t.is(reasonName(OmitReason.SLIM), 'slim dump');
  t.is(reasonName(99), 'unknown reason 99');
});

test('all three notes sit together in one note segment', (t) => {
  const seg = Buffer.concat([encodeCauseNote('cause', 'le'), encodeMceNote([FIXTURE_RECORD], 'le'), encodeOmittedNote(ONE_ENTRY, 'le')]);
  const { notes, trailer } = parseNotes(seg, 'le');
  t.deepEqual(notes.map((n) => n.type), [NT_SLIMCORE_CAUSE, NT_SLIMCORE_MCE, NT_SLIMCORE_OMITTED]);
  t.true(notes.every(isSlimcoreNote));
  t.is(trailer, 'none');
});

// ---- properties ----

/** Random bytes, often behind a plausible header so that the deeper checks are reached too. */
const arbDesc = (headerWords: fc.Arbitrary<number[]>) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
    fc.tuple(headerWords, fc.uint8Array({ maxLength: 400 }), arbEndian).map(([words, rest, endian]) => {
      const head = Buffer.alloc(words.length * 4);
      words.forEach((w, i) => (endian === 'le' ? head.writeUInt32LE(w, i * 4) : head.writeUInt32BE(w, i * 4)));
      return Buffer.concat([head, Buffer.from(rest)]);
    }),
  );

test('property: decodeMceNote throws nothing but BadInputError on random bytes', (t) => {
  const words = fc.tuple(fc.oneof(fc.integer({ min: 80, max: 200 }), u32), fc.oneof(fc.integer({ min: 0, max: 6 }), u32)).map((w) => [...w]);
  fc.assert(
    fc.property(arbDesc(words), arbEndian, (desc, endian) => {
      try {
        const records = decodeMceNote(desc, endian);
        return Array.isArray(records);
      } catch (err) {
        return err instanceof BadInputError;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: decodeOmittedNote throws nothing but BadInputError on random bytes', (t) => {
  const small = fc.integer({ min: 0, max: 20 });
  const words = fc
    .tuple(fc.oneof(fc.integer({ min: 20, max: 40 }), u32), fc.oneof(small, u32), fc.oneof(small, u32), u32)
    .map((w) => [...w]);
  fc.assert(
    fc.property(arbDesc(words), arbEndian, (desc, endian) => {
      try {
        const list = decodeOmittedNote(desc, endian);
        return list.entries.length <= list.capacity;
      } catch (err) {
        return err instanceof BadInputError;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: MCE note encode -> parseNotes -> decode round trip', (t) => {
  fc.assert(
    fc.property(fc.array(arbMceRecord, { maxLength: 5 }), arbEndian, (records, endian) => {
      const { notes } = parseNotes(encodeMceNote(records, endian), endian);
      t.is(notes.length, 1);
      t.is(notes[0].type, NT_SLIMCORE_MCE);
      t.deepEqual(decodeMceNote(notes[0].desc, endian), records);
    }),
    { numRuns: 300 },
  );
});

test('property: OMITTED note encode -> parseNotes -> decode round trip', (t) => {
  fc.assert(
    fc.property(arbList, arbEndian, (list, endian) => {
      const note = encodeOmittedNote(list, endian);
      const { notes } = parseNotes(note, endian);
      t.is(notes[0].offset + omittedDescOffset(), notes[0].desc.byteOffset - note.byteOffset);
      t.deepEqual(decodeOmittedNote(notes[0].desc, endian), list);
    }),
    { numRuns: 300 },
  );
});

test('property: CAUSE note round trip of any one-line text', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.constant('a\r\nb\n\u0000c é')), arbEndian, (text, endian) => {
      const line = text.replace(/\r\n/g, ' ').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
      const { notes } = parseNotes(encodeCauseNote(text, endian), endian);
      t.is(decodeCauseNote(notes[0].desc), line);
    }),
    { numRuns: 300 },
  );
});
