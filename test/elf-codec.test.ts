// Byte-fixture and round-trip tests for the ELF header, program header, section header 0 and note codecs.

import test from 'ava';
import fc from 'fast-check';
import { BadInputError } from '../src/errors.js';
import { decodeHeader, encodeHeader, validateCoreHeader, type ElfHeader } from '../src/elf/header.js';
import { decodeProgramHeaders, encodeProgramHeaders, writeProgramHeader, type ProgramHeader } from '../src/elf/program-header.js';
import { decodeSectionHeaderZero, encodeSectionHeaderZero } from '../src/elf/section-header.js';
import { encodeNote, parseNotes } from '../src/elf/note.js';
import { parseVmcoreinfo, vmcoreinfoPageSize } from '../src/elf/vmcoreinfo.js';

// The first 64 bytes of the real fixture (ELF64 LE x86-64 core, 5 program headers).
const FIXTURE_EHDR = Buffer.from(
  '7f454c4602010100000000000000000004003e000100000000000000000000004000000000000000' +
    '000000000000000000000000400038000500000000000000',
  'hex',
);

test('decodes the real fixture ELF header', (t) => {
  const h = decodeHeader(FIXTURE_EHDR);
  t.is(h.elfClass, 64);
  t.is(h.endian, 'le');
  t.is(h.type, 4);
  t.is(h.machine, 62);
  t.is(h.phoff, 64n);
  t.is(h.phnum, 5);
  t.is(h.phentsize, 56);
  t.is(h.ehsize, 64);
  t.notThrows(() => validateCoreHeader(h));
  t.deepEqual(encodeHeader(h), FIXTURE_EHDR);
});

test('encodes an ELF32 big-endian header byte for byte', (t) => {
  const h: ElfHeader = {
    elfClass: 32,
    endian: 'be',
    ident: Buffer.from('7f454c46010201000000000000000000', 'hex'),
    type: 4,
    machine: 20,
    version: 1,
    entry: 0n,
    phoff: 52n,
    shoff: 0n,
    flags: 0,
    ehsize: 52,
    phentsize: 32,
    phnum: 3,
    shentsize: 0,
    shnum: 0,
    shstrndx: 0,
  };
  const expected = Buffer.from(
    '7f454c46010201000000000000000000' + '0004' + '0014' + '00000001' + '00000000' + '00000034' + '00000000' + '00000000' + '0034' + '0020' + '0003' + '0000' + '0000' + '0000',
    'hex',
  );
  t.deepEqual(encodeHeader(h), expected);
  t.deepEqual(decodeHeader(expected), h);
});

test('rejects a wrong magic, a short header, an unknown class and a non-core file', (t) => {
  t.throws(() => decodeHeader(Buffer.from('7f454c47020101000000000000000000', 'hex')), { instanceOf: BadInputError, message: /wrong magic/ });
  t.throws(() => decodeHeader(FIXTURE_EHDR.subarray(0, 40)), { instanceOf: BadInputError, message: /ends after 40 bytes/ });
  const badClass = Buffer.from(FIXTURE_EHDR);
  badClass[4] = 9;
  t.throws(() => decodeHeader(badClass), { instanceOf: BadInputError, message: /unknown class 9/ });
  const exec = Buffer.from(FIXTURE_EHDR);
  exec[16] = 2;
  t.throws(() => validateCoreHeader(decodeHeader(exec)), { instanceOf: BadInputError, message: /not ET_CORE/ });
  const noPhdrs = Buffer.from(FIXTURE_EHDR);
  noPhdrs.writeUInt16LE(0, 56);
  t.throws(() => validateCoreHeader(decodeHeader(noPhdrs)), { instanceOf: BadInputError, message: /e_phnum is 0/ });
});

test('program headers: ELF64 LE byte fixture from the real dump', (t) => {
  // phdr[1] of the fixture: the kernel text mapping.
  const bytes = Buffer.from(
    '01000000' + '07000000' + '0020000000000000' + '00004099ffffffff' + '0000e00900000000' + '0000430300000000' + '0000430300000000' + '0000000000000000',
    'hex',
  );
  const [ph] = decodeProgramHeaders(bytes, 1, { elfClass: 64, endian: 'le' });
  t.deepEqual(ph, { type: 1, flags: 7, offset: 0x2000n, vaddr: 0xffffffff99400000n, paddr: 0x9e00000n, filesz: 0x3430000n, memsz: 0x3430000n, align: 0n });
  t.deepEqual(encodeProgramHeaders([ph], { elfClass: 64, endian: 'le' }), bytes);
});

test('program headers: ELF32 BE layout puts p_flags after p_memsz', (t) => {
  const ph: ProgramHeader = { type: 1, flags: 7, offset: 0x1000n, vaddr: 0xc0000000n, paddr: 0n, filesz: 0x2000n, memsz: 0x3000n, align: 0n };
  const bytes = encodeProgramHeaders([ph], { elfClass: 32, endian: 'be' });
  t.is(bytes.toString('hex'), '00000001' + '00001000' + 'c0000000' + '00000000' + '00002000' + '00003000' + '00000007' + '00000000');
});

const formats = fc.record({ elfClass: fc.constantFrom(32 as const, 64 as const), endian: fc.constantFrom('le' as const, 'be' as const) });

test('program headers round-trip in every class and byte order', (t) => {
  fc.assert(
    fc.property(formats, fc.array(fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.bigInt({ min: 0n, max: 0xffffffffn })), { maxLength: 8 }), (format, rows) => {
      const phdrs = rows.map(([type, flags, v]): ProgramHeader => ({ type, flags, offset: v, vaddr: v, paddr: v, filesz: v, memsz: v, align: v }));
      t.deepEqual(decodeProgramHeaders(encodeProgramHeaders(phdrs, format), phdrs.length, format), phdrs);
    }),
  );
});

test('writeProgramHeader puts one entry at any offset, the bytes the table codec writes', (t) => {
  fc.assert(
    fc.property(formats, fc.array(fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.bigInt({ min: 0n, max: 0xffffffffn })), { minLength: 1, maxLength: 8 }), fc.nat(64), (format, rows, pad) => {
      const phdrs = rows.map(([type, flags, v]): ProgramHeader => ({ type, flags, offset: v, vaddr: v + 1n, paddr: v, filesz: v >> 1n, memsz: v, align: 4096n }));
      const size = format.elfClass === 64 ? 56 : 32;
      const buf = Buffer.alloc(pad + phdrs.length * size, 0xaa);
      phdrs.forEach((ph, i) => writeProgramHeader(buf, pad + i * size, ph, format));
      t.true(buf.subarray(0, pad).every((b) => b === 0xaa), 'nothing written before the offset');
      t.deepEqual(buf.subarray(pad), encodeProgramHeaders(phdrs, format));
    }),
  );
});

test('section header 0 carries the program header count', (t) => {
  for (const elfClass of [32, 64] as const) {
    for (const endian of ['le', 'be'] as const) {
      const buf = encodeSectionHeaderZero(70000, { elfClass, endian });
      t.is(buf.length, elfClass === 64 ? 64 : 40);
      t.is(decodeSectionHeaderZero(buf, 0, { elfClass, endian }).info, 70000);
    }
  }
});

test('notes: Linux padding, terminator and trailing padding', (t) => {
  const a = encodeNote('CORE', 1, Buffer.alloc(5, 0xaa), 'le');
  t.is(a.length, 12 + 8 + 8);
  t.is(a.toString('hex').slice(0, 24), '050000000500000001000000');
  const b = encodeNote('VMCOREINFO', 0, Buffer.from('PAGESIZE=4096\n'), 'be');
  t.is(b.readUInt32BE(0), 11);
  const withTerminator = Buffer.concat([a, encodeNote('VMCOREINFO', 0, Buffer.from('X=1\n'), 'le'), Buffer.alloc(12), Buffer.alloc(20)]);
  const list = parseNotes(withTerminator, 'le');
  t.deepEqual(
    list.notes.map((n) => [n.name, n.type, n.desc.length]),
    [
      ['CORE', 1, 5],
      ['VMCOREINFO', 0, 4],
    ],
  );
  t.is(list.trailer, 'terminator');
  t.is(list.end, a.length + 12 + 12 + 4);
  const padded = parseNotes(Buffer.concat([a, Buffer.alloc(7)]), 'le');
  t.is(padded.trailer, 'padding');
  t.is(padded.end, a.length);
});

test('notes: sizes that overflow the segment are rejected with the offset', (t) => {
  const bad = Buffer.alloc(24);
  bad.writeUInt32LE(5, 0);
  bad.writeUInt32LE(0xffffffff, 4);
  t.throws(() => parseNotes(bad, 'le', 'program header 0 (PT_NOTE)', 0x1000), { instanceOf: BadInputError, message: /note 0 at file offset 0x1000: .* run past the end/ });
});

test('notes: random bytes never throw anything but BadInputError', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('le' as const, 'be' as const), (bytes, endian) => {
      try {
        const list = parseNotes(Buffer.from(bytes), endian);
        return list.end <= bytes.length;
      } catch (err) {
        return err instanceof BadInputError;
      }
    }),
  );
  t.pass();
});

test('notes round-trip', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ name: fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom('A', 'B', 'C', 'x', '_') }), type: fc.nat(0xffffffff), desc: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 6 }),
      fc.constantFrom('le' as const, 'be' as const),
      (notes, endian) => {
        const seg = Buffer.concat(notes.map((n) => encodeNote(n.name, n.type, Buffer.from(n.desc), endian)));
        const parsed = parseNotes(seg, endian);
        t.deepEqual(
          parsed.notes.map((n) => ({ name: n.name, type: n.type, desc: [...n.desc] })),
          notes.map((n) => ({ name: n.name, type: n.type, desc: [...n.desc] })),
        );
      },
    ),
  );
});

test('VMCOREINFO keys and page size', (t) => {
  const info = parseVmcoreinfo(Buffer.from('OSRELEASE=6.1.0\nPAGESIZE=65536\nSYMBOL(prb)=ffffffff9ae643e0\nPAGESIZE=4096\n\0junk'));
  t.is(info.get('OSRELEASE'), '6.1.0');
  t.is(info.get('SYMBOL(prb)'), 'ffffffff9ae643e0');
  t.is(vmcoreinfoPageSize(info), 65536);
  t.is(vmcoreinfoPageSize(parseVmcoreinfo(Buffer.from('PAGESIZE=12345\n'))), undefined);
  t.is(vmcoreinfoPageSize(parseVmcoreinfo(Buffer.from('PAGESIZE=1024\n'))), undefined);
  t.is(vmcoreinfoPageSize(undefined), undefined);
});
