// The prefix reader and the forward (pipe) reader: every format, random chunk splits, truncation and hostile headers.

import test from 'ava';
import fc from 'fast-check';
import { BadInputError } from '../src/errors.js';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { dataSegments } from '../src/dump/layout.js';
import { ForwardReader } from '../src/sources/forward-reader.js';
import { makeSyntheticVmcore, segmentByte } from './helpers/synthetic-vmcore.js';
import { bufferRangeReader, splitPull } from './helpers/buffer-readers.js';

const FORMATS: { elfClass: 32 | 64; endian: 'le' | 'be' }[] = [
  { elfClass: 64, endian: 'le' },
  { elfClass: 64, endian: 'be' },
  { elfClass: 32, endian: 'le' },
  { elfClass: 32, endian: 'be' },
];

for (const format of FORMATS) {
  test(`reads the prefix of an ELF${format.elfClass} ${format.endian} dump`, async (t) => {
    const dump = makeSyntheticVmcore({ ...format, cpus: 3, noteTrailer: 'terminator' });
    const prefix = await readDumpPrefix(bufferRangeReader(dump.bytes));
    t.is(prefix.format.elfClass, format.elfClass);
    t.is(prefix.format.endian, format.endian);
    t.is(prefix.phnum, dump.segments.length + 1);
    t.is(prefix.noteIndex, 0);
    t.deepEqual(
      prefix.notes.notes.map((n) => n.name),
      ['CORE', 'CORE', 'CORE', 'VMCOREINFO'],
    );
    t.is(prefix.notes.trailer, 'terminator');
    t.is(prefix.notes.end, dump.notesEnd);
    t.is(prefix.pageSize, 4096);
    t.is(prefix.vmcoreinfo?.get('OSRELEASE'), '6.1.0-synthetic');
  });
}

test('extended numbering: the real count comes from section header 0', async (t) => {
  const segments = Array.from({ length: 70000 }, (_, i) => ({ paddr: BigInt(i) * 0x1000n, size: 16 }));
  const dump = makeSyntheticVmcore({ extendedNumbering: true, segments, pageSize: 4096 });
  const prefix = await readDumpPrefix(bufferRangeReader(dump.bytes));
  t.is(prefix.header.phnum, 0xffff);
  t.is(prefix.phnum, 70001);
  t.is(dataSegments(prefix, dump.bytes.length).length, 70000);
});

test('PN_XNUM without a section header 0 is bad input', async (t) => {
  const dump = makeSyntheticVmcore();
  const bytes = Buffer.from(dump.bytes);
  bytes.writeUInt16LE(0xffff, 56);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(bytes)), { instanceOf: BadInputError, message: /PN_XNUM.*no section header 0/ });
});

test('the forward reader gives the same prefix and segment bytes on any chunk split', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...FORMATS), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 12 }), async (format, splits) => {
      const dump = makeSyntheticVmcore({ ...format, dataGapBytes: 100 });
      const forward = new ForwardReader(splitPull(dump.bytes, splits));
      const prefix = await readDumpPrefix(forward.rangeReader());
      const whole = await readDumpPrefix(bufferRangeReader(dump.bytes));
      t.deepEqual(prefix.phdrs.toArray(), whole.phdrs.toArray());
      t.deepEqual(prefix.noteSegment, whole.noteSegment);
      const segments = dataSegments(prefix);
      const got = new Map<number, Buffer[]>();
      for await (const event of forward.segments(segments, 5000)) {
        const list = got.get(event.segment) ?? [];
        t.is(list.reduce((n, b) => n + b.length, 0), event.offset);
        list.push(event.bytes);
        got.set(event.segment, list);
      }
      for (const load of dump.segments) {
        const bytes = Buffer.concat(got.get(load.index) ?? []);
        t.is(bytes.length, load.size);
        t.deepEqual(bytes, dump.bytes.subarray(load.fileOffset, load.fileOffset + load.size));
      }
    }),
    { numRuns: 40 },
  );
});

test('the synthetic fill is what the segment bytes hold', (t) => {
  const dump = makeSyntheticVmcore();
  const load = dump.segments[0];
  t.is(dump.bytes[load.fileOffset + 5], segmentByte({ paddr: load.paddr, size: load.size }, 5));
});

test('truncation at every byte of the prefix is a clear BadInputError', async (t) => {
  for (const format of FORMATS) {
    const dump = makeSyntheticVmcore({ ...format, cpus: 1 });
    const prefixEnd = dump.noteOffset + dump.noteSize;
    for (let cut = 0; cut < prefixEnd; cut++) {
      const truncated = dump.bytes.subarray(0, cut);
      const forward = new ForwardReader(splitPull(truncated, [4096]));
      const err = await t.throwsAsync(readDumpPrefix(forward.rangeReader()), { instanceOf: BadInputError });
      t.regex(err!.message, /input end|ends|missing/);
    }
  }
});

test('hostile headers: huge counts, tables past the end, oversized notes', async (t) => {
  const dump = makeSyntheticVmcore();
  const phnumHuge = Buffer.from(dump.bytes);
  phnumHuge.writeUInt16LE(0xfffe, 56);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(phnumHuge)), { instanceOf: BadInputError, message: /program headers/ });

  const phoffFar = Buffer.from(dump.bytes);
  phoffFar.writeBigUInt64LE(0x7fffffffffffn, 32);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(phoffFar)), { instanceOf: BadInputError, message: /program headers at offset 0x7fffffffffff/ });

  const phoffHuge = Buffer.from(dump.bytes);
  phoffHuge.writeBigUInt64LE(0xffffffffffffffffn, 32);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(phoffHuge)), { instanceOf: BadInputError, message: /e_phoff 0xffffffffffffffff is too large/ });

  const noteHuge = Buffer.from(dump.bytes);
  noteHuge.writeBigUInt64LE(0x100000000n, 64 + 32);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(noteHuge)), { instanceOf: BadInputError, message: /PT_NOTE p_filesz 0x100000000 exceeds/ });

  const noteOverflow = Buffer.from(dump.bytes);
  noteOverflow.writeUInt32LE(0xfffffff0, dump.noteOffset + 4);
  await t.throwsAsync(readDumpPrefix(bufferRangeReader(noteOverflow)), { instanceOf: BadInputError, message: /note 0 at file offset .* run past the end/ });

  const pipeFar = Buffer.from(dump.bytes);
  pipeFar.writeBigUInt64LE(200n << 20n, 64 + 8);
  const forward = new ForwardReader(splitPull(pipeFar, [65536]));
  await t.throwsAsync(readDumpPrefix(forward.rangeReader()), { instanceOf: BadInputError, message: /beyond the first 0x4000000 bytes that a pipe may hold/ });
});

test('random corruption of the prefix never throws anything but BadInputError', async (t) => {
  const dump = makeSyntheticVmcore({ cpus: 1 });
  const prefixEnd = dump.noteOffset + dump.noteSize;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(prefixEnd - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), async (edits) => {
      const bytes = Buffer.from(dump.bytes);
      for (const [at, value] of edits) bytes[at] = value;
      try {
        const prefix = await readDumpPrefix(bufferRangeReader(bytes));
        dataSegments(prefix, bytes.length);
      } catch (err) {
        if (!(err instanceof BadInputError)) throw err;
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});
