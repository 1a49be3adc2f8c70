// The capture pipeline through the library API: every format and layout, both modes, faults, input MCE notes.

import test from 'ava';
import path from 'node:path';
import { writeFile, readdir } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { BadInputError } from '../src/errors.js';
import type { Warning } from '../src/errors.js';
import { OmitReason } from '../src/notes/slimcore-notes.js';
import { makeSyntheticVmcore, type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { assertReadersAccept } from './helpers/elf-readers.js';
import { readBack } from './helpers/read-dump.js';
import { tempDir } from './helpers/tmp.js';

const FORMATS: SyntheticOptions[] = [
  { elfClass: 64, endian: 'le' },
  { elfClass: 64, endian: 'be' },
  { elfClass: 32, endian: 'le' },
  { elfClass: 32, endian: 'be' },
];

// PCC set: a fatal machine check; MISC 0x8c: physical address, 2^12 granularity (the fixture's record).
const FATAL_MCE = { status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, mcgstatus: 5n, bank: 1 };
const CORRECTED_MCE = { status: 0x9c00000000000134n, misc: 0x8cn, addr: 0x345000n, bank: 2 };

async function writeInput(dir: string, opts: SyntheticOptions) {
  const dump = makeSyntheticVmcore(opts);
  const file = path.join(dir, 'in.elf');
  await writeFile(file, dump.bytes);
  return { dump, file };
}

function layoutName(opts: SyntheticOptions): string {
  return Object.entries(opts)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x)) : v}`)
    .join(' ');
}

const LAYOUTS: SyntheticOptions[] = [
  ...FORMATS,
  ...FORMATS.map((f) => ({ ...f, noteTrailer: 'terminator' as const, dataGapBytes: 300 })),
  { noteTrailer: 'padding', segmentOrder: 'reversed' },
  { elfClass: 32, endian: 'be', qemuSectionHeaders: true },
  { notesAfterData: true },
  { pageSize: 65536, elfClass: 64, endian: 'be', vmcoreinfo: 'OSRELEASE=6.1.0-ppc\nPAGESIZE=65536\n' },
];

for (const opts of LAYOUTS) {
  test(`full dump copies every segment byte for byte: ${layoutName(opts)}`, async (t) => {
    const dir = await tempDir(t);
    const { dump, file } = await writeInput(dir, opts);
    const out = path.join(dir, 'full.elf');
    const result = await capture({ input: file, output: out, mode: 'full', sync: false });
    t.is(result.plan.mode, 'full');
    const back = await readBack(out);
    t.is(back.prefix.phnum, dump.segments.length + 1);
    for (const load of dump.segments) {
      const ph = back.prefix.phdrs.toArray()[load.index];
      t.is(ph.paddr, load.paddr);
      t.is(ph.vaddr, load.vaddr);
      t.is(Number(ph.memsz), load.memsz);
      t.is(Number(ph.filesz), load.size);
      t.deepEqual(back.segment(load.index), dump.bytes.subarray(load.fileOffset, load.fileOffset + load.size));
      t.is(Number(ph.offset) % dump.pageSize, load.fileOffset % dump.pageSize, 'page alignment kept');
    }
    const originalNotes = dump.bytes.subarray(dump.noteOffset, dump.noteOffset + dump.notesEnd);
    t.deepEqual(back.prefix.noteSegment.subarray(0, dump.notesEnd), originalNotes, 'original notes kept byte for byte');
    t.is(back.prefix.header.shnum, 0, 'no section headers survive a changed layout');
    t.deepEqual(back.causes, ['full dump; no pages were omitted']);
    t.is(back.omitted?.entries.length, 0);
    t.is(back.bytes.length, result.bytesWritten);
    await assertReadersAccept(t, out);
  });
}

for (const opts of [...FORMATS, { extendedNumbering: true }] as SyntheticOptions[]) {
  test(`slim dump keeps headers and notes, no memory: ${layoutName(opts)}`, async (t) => {
    const dir = await tempDir(t);
    const { dump, file } = await writeInput(dir, { ...opts, noteTrailer: 'terminator' });
    const out = path.join(dir, 'slim.elf');
    const result = await capture({ input: file, output: out, mode: 'slim', sync: false });
    const back = await readBack(out);
    const notesEnd = Number(back.prefix.phdrs.toArray()[0].offset + back.prefix.phdrs.toArray()[0].filesz);
    t.is(back.bytes.length, notesEnd, 'the file ends with the notes');
    t.is(result.bytesWritten, notesEnd);
    for (const load of dump.segments) {
      const ph = back.prefix.phdrs.toArray()[load.index];
      t.deepEqual([ph.paddr, ph.vaddr, Number(ph.memsz), ph.filesz, Number(ph.offset)], [load.paddr, load.vaddr, load.memsz, 0n, notesEnd]);
    }
    t.deepEqual(
      back.omitted?.entries.map((e) => [e.paddr, Number(e.length), e.reason]),
      dump.segments.map((s) => [s.paddr, s.size, OmitReason.SLIM]),
    );
    t.deepEqual(back.prefix.noteSegment.subarray(0, dump.notesEnd), dump.bytes.subarray(dump.noteOffset, dump.noteOffset + dump.notesEnd));
    await assertReadersAccept(t, out);
  });
}

test('extended numbering is written the way QEMU writes it', async (t) => {
  const dir = await tempDir(t);
  const segments = Array.from({ length: 66000 }, (_, i) => ({ paddr: BigInt(i) * 0x2000n, size: 64 }));
  const { dump, file } = await writeInput(dir, { extendedNumbering: true, segments });
  const out = path.join(dir, 'full.elf');
  await capture({ input: file, output: out, mode: 'full', sync: false });
  const back = await readBack(out);
  t.is(back.prefix.header.phnum, 0xffff);
  t.is(back.prefix.header.shnum, 1);
  t.is(back.prefix.phnum, 66001);
  const last = dump.segments[dump.segments.length - 1];
  t.deepEqual(back.segment(last.index), dump.bytes.subarray(last.fileOffset, last.fileOffset + last.size));
});

test('a user fault zero-fills its page in every segment that holds it, and is listed once per segment', async (t) => {
  const dir = await tempDir(t);
  // Segment 2 aliases the start of segment 3's physical range, as the kernel text PT_LOAD of /proc/vmcore does.
  const { dump, file } = await writeInput(dir, {
    segments: [
      { paddr: 0x1000n, size: 0x4000 },
      { paddr: 0x100000n, vaddr: 0xffffffff81000000n, size: 0x8000 },
      { paddr: 0x100000n, size: 0x20000 },
    ],
  });
  const out = path.join(dir, 'full.elf');
  const result = await capture({ input: file, output: out, mode: 'full', sync: false, userFaults: [{ paddr: 0x103010n, length: 0n, origin: '--fault 0x103010' }] });
  const back = await readBack(out);
  const [, text, ram] = dump.segments;
  const zero = Buffer.alloc(0x1000);
  t.deepEqual(back.segment(text.index).subarray(0x3000, 0x4000), zero);
  t.deepEqual(back.segment(ram.index).subarray(0x3000, 0x4000), zero);
  t.deepEqual(back.segment(ram.index).subarray(0x4000), dump.bytes.subarray(ram.fileOffset + 0x4000, ram.fileOffset + ram.size));
  t.deepEqual(back.segment(text.index).subarray(0, 0x3000), dump.bytes.subarray(text.fileOffset, text.fileOffset + 0x3000));
  t.deepEqual(
    back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]),
    [
      [0x103000n, 0x1000n, OmitReason.USER],
      [0x103000n, 0x1000n, OmitReason.USER],
    ],
  );
  t.is(result.plan.mode, 'full');
  t.regex(back.causes[0], /full dump; 2 range\(s\) zero-filled: 0x103000\+0x1000/);
});

test('auto mode: a fatal MCE note in the input makes a slim dump that keeps the record', async (t) => {
  const dir = await tempDir(t);
  const { file } = await writeInput(dir, { mceRecords: [FATAL_MCE] });
  const out = path.join(dir, 'auto.elf');
  const result = await capture({ input: file, output: out, sync: false });
  t.is(result.plan.mode, 'slim');
  const back = await readBack(out);
  t.regex(back.causes[0], /^unrecoverable memory error: MCE bank 1 status 0xbe00000000100134 addr 0x345000 \(physical\).*memory omitted \(slim dump\)$/);
  t.is(back.mce.length, 1, 'the input MCE note is kept, and not repeated');
  t.is(back.mce[0].status, FATAL_MCE.status);
  await assertReadersAccept(t, out);
});

test('auto mode: a corrected MCE skips nothing and keeps a full dump', async (t) => {
  const dir = await tempDir(t);
  const { dump, file } = await writeInput(dir, { mceRecords: [CORRECTED_MCE], segments: [{ paddr: 0x300000n, size: 0x100000 }] });
  const out = path.join(dir, 'auto.elf');
  const notices: string[] = [];
  const result = await capture({ input: file, output: out, sync: false, onNotice: (l) => notices.push(l) });
  t.is(result.plan.mode, 'full');
  const back = await readBack(out);
  t.deepEqual(back.segment(1), dump.bytes.subarray(dump.segments[0].fileOffset, dump.segments[0].fileOffset + 0x100000));
  t.is(back.omitted?.entries.length, 0);
  t.true(notices.some((l) => /corrected/i.test(l)), notices.join('\n'));
});

test('--mode full with a fatal MCE note zero-fills the named page', async (t) => {
  const dir = await tempDir(t);
  const { file } = await writeInput(dir, { mceRecords: [FATAL_MCE], segments: [{ paddr: 0x300000n, size: 0x100000 }] });
  const out = path.join(dir, 'full.elf');
  await capture({ input: file, output: out, mode: 'full', sync: false });
  const back = await readBack(out);
  t.deepEqual(back.segment(1).subarray(0x45000, 0x46000), Buffer.alloc(0x1000));
  t.not(back.segment(1)[0x44fff], 0);
  t.not(back.segment(1)[0x46000], 0);
  t.deepEqual(back.omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), [[0x345000n, 0x1000n, OmitReason.MCE]]);
});

test('a fault outside every segment is a warning, and fatal under strict', async (t) => {
  const dir = await tempDir(t);
  const { file } = await writeInput(dir, {});
  const warnings: Warning[] = [];
  const userFaults = [{ paddr: 0x7000000000n, length: 0n, origin: '--fault 0x7000000000' }];
  await capture({ input: file, output: path.join(dir, 'a.elf'), mode: 'full', sync: false, userFaults, onWarning: (w) => warnings.push(w) });
  t.deepEqual(warnings.map((w) => w.code), ['FAULT_OUTSIDE_SEGMENTS']);
  await t.throwsAsync(capture({ input: file, output: path.join(dir, 'b.elf'), mode: 'full', sync: false, userFaults, strict: true }), {
    instanceOf: BadInputError,
    message: /0x7000000000.*fatal under --strict/,
  });
  t.false((await readdir(dir)).includes('b.elf'));
});

test('a segment past the end of the file names the program header and the sizes', async (t) => {
  const dir = await tempDir(t);
  const dump = makeSyntheticVmcore({});
  const file = path.join(dir, 'short.elf');
  await writeFile(file, dump.bytes.subarray(0, dump.bytes.length - 100));
  const last = dump.segments[dump.segments.length - 1];
  await t.throwsAsync(capture({ input: file, output: path.join(dir, 'out.elf'), mode: 'full', sync: false }), {
    instanceOf: BadInputError,
    message: new RegExp(`program header ${last.index}: p_offset 0x${last.fileOffset.toString(16)} \\+ p_filesz 0x${last.size.toString(16)} is past the end of the file \\(0x${(dump.bytes.length - 100).toString(16)}\\)`),
  });
  t.deepEqual((await readdir(dir)).sort(), ['short.elf'], 'nothing half-written is left');
});
