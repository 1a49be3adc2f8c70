// Proves the synthetic vmcore generator against readers nobody here wrote, and the real-fixture helper.

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertReadersAccept, euReadelfNotes, pyelftools, readelf } from './helpers/elf-readers.js';
import { FIXTURE_SIZE, FIXTURES, realFixturePath } from './helpers/fixture.js';
import {
  GAP_FILLER, NOTE_PADDING_BYTES, SLIMCORE_MCE_NOTE_TYPE, defaultVmcoreinfo, encodeMceRecordForTest, makeSyntheticVmcore, segmentByte, writeSyntheticVmcore,
  type SyntheticOptions, type SyntheticSegment, type SyntheticVmcore,
} from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

const FATAL_MCE = { status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, mcgstatus: 5n, bank: 1, cpu: 0, time: 1795690541n };

async function writeCore(t: ExecutionContext, opts: SyntheticOptions): Promise<{ file: string; core: SyntheticVmcore }> {
  const file = path.join(await tempDir(t, 'synth'), 'vmcore');
  const core = makeSyntheticVmcore(opts);
  await writeFile(file, core.bytes);
  return { file, core };
}

/** What every reader must report for the generator's layout: the PT_NOTE, then one PT_LOAD per segment. */
function expectedSegments(core: SyntheticVmcore) {
  return [
    { type: 'NOTE', offset: BigInt(core.noteOffset), vaddr: 0n, paddr: 0n, filesz: BigInt(core.noteSize), memsz: BigInt(core.noteSize) },
    ...core.segments.map((s) => ({ type: 'LOAD', offset: BigInt(s.fileOffset), vaddr: s.vaddr, paddr: s.paddr, filesz: BigInt(s.size), memsz: BigInt(s.memsz) })),
  ];
}

function assertSegmentData(t: ExecutionContext, bytes: Buffer, core: SyntheticVmcore, segs: SyntheticSegment[]): void {
  for (const [i, s] of core.segments.entries()) {
    const want = Buffer.from(Array.from({ length: s.size }, (_, k) => segmentByte(segs[i], k)));
    t.true(bytes.subarray(s.fileOffset, s.fileOffset + s.size).equals(want), `data of segment ${s.index}`);
  }
}

const combos = [
  { elfClass: 64, endian: 'le', machine: 'Advanced Micro Devices X86-64', prstatus: 0x150 },
  { elfClass: 32, endian: 'le', machine: 'Intel 80386', prstatus: 0x90 },
  { elfClass: 64, endian: 'be', machine: 'PowerPC64', prstatus: 0x150 },
  { elfClass: 32, endian: 'be', machine: 'IBM S/390', prstatus: 0x90 },
] as const;

for (const c of combos) {
  test(`ELF${c.elfClass} ${c.endian}: readelf, eu-readelf and pyelftools agree with the generated layout`, async (t) => {
    const { file, core } = await writeCore(t, { elfClass: c.elfClass, endian: c.endian, mceRecords: [FATAL_MCE] });
    await assertReadersAccept(t, file);
    const re = await readelf(file);
    t.like(re.header, { class: `ELF${c.elfClass}`, data: `2's complement, ${c.endian === 'le' ? 'little' : 'big'} endian`, type: 'CORE (Core file)', machine: c.machine, phnum: 4 });
    t.deepEqual(re.segments, expectedSegments(core));
    const info = defaultVmcoreinfo();
    t.deepEqual(re.notes.map((n) => [n.owner, n.size]), [['CORE', c.prstatus], ['CORE', c.prstatus], ['VMCOREINFO', info.length], ['SLIMCORE', 8 + 128]]);
    t.is(core.notesEnd, core.noteSize);
    const py = await pyelftools(file);
    t.is(Buffer.from(py.notes[2].desc, 'hex').toString('latin1'), info);
    t.deepEqual(py.notes.map((n) => n.n_type), [1, 1, 0, SLIMCORE_MCE_NOTE_TYPE]);
    assertSegmentData(t, core.bytes, core, [{ paddr: 0x1000n, size: 0 }, { paddr: 0x100000n, size: 0 }, { paddr: 0x400000n, size: 0 }]);
  });
}

test('the default layout is /proc/vmcore-like: notes and data page-aligned, physical gaps, non-zero data', async (t) => {
  const { core } = await writeCore(t, {});
  t.is(core.noteOffset, 4096);
  t.deepEqual(core.segments.map((s) => [s.index, s.fileOffset % 4096, s.size, s.memsz]), [[1, 0, 3 * 4096, 3 * 4096], [2, 0, 4 * 4096, 4 * 4096], [3, 0, 2 * 4096, 2 * 4096]]);
  t.true(core.segments.every((s, i) => i === 0 || s.paddr > core.segments[i - 1].paddr + BigInt(core.segments[i - 1].size)));
  t.false(core.segments.some((s) => core.bytes.subarray(s.fileOffset, s.fileOffset + s.size).includes(0)));
  t.is(core.bytes.readUInt32LE(56 + 64 + 4), 7, 'PT_LOAD p_flags RWX');
});

test('extended numbering: e_phnum is PN_XNUM and the readers take the count from section header 0', async (t) => {
  for (const qemuSectionHeaders of [false, true]) {
    const { file, core } = await writeCore(t, { extendedNumbering: true, qemuSectionHeaders, elfClass: qemuSectionHeaders ? 32 : 64 });
    t.is(core.bytes.readUInt16LE(qemuSectionHeaders ? 44 : 56), 0xffff);
    await assertReadersAccept(t, file);
    t.deepEqual((await readelf(file)).segments, expectedSegments(core));
  }
});

test('more than 65535 segments, streamed to disk, read by all three readers', async (t) => {
  const file = path.join(await tempDir(t, 'xnum'), 'vmcore');
  const segments = Array.from({ length: 70_000 }, (_, i) => ({ paddr: BigInt(i) * 0x2000n, size: 64, memsz: 4096 }));
  const core = await writeSyntheticVmcore(file, { segments, pageSize: 64, extendedNumbering: true });
  t.is(core.bytes.length, core.noteOffset + core.noteSize, 'bytes is the prefix up to the end of the notes');
  t.true((await readFile(file)).subarray(0, core.bytes.length).equals(core.bytes));
  await assertReadersAccept(t, file);
  const re = await readelf(file);
  t.is(re.header.phnum, 70_001);
  t.deepEqual(re.segments.at(-1), expectedSegments(core).at(-1));
  t.is(core.bytes.readUInt16LE(56), 0xffff, 'e_phnum');
});

test('reversed order: program headers list PT_LOADs opposite to their file offsets, data still per segment', async (t) => {
  const segs = [{ paddr: 0x1000n, size: 8192 }, { paddr: 0x10000n, size: 4096, memsz: 12288 }, { paddr: 0x80000n, size: 100, fill: (o: number) => o + 1 }];
  const { file, core } = await writeCore(t, { segments: segs, segmentOrder: 'reversed', dataGapBytes: 10 });
  t.deepEqual(core.segments.map((s) => s.fileOffset), [0x5000, 0x3000, 0x2000], 'each start page-aligned after the previous data and a 10-byte gap');
  await assertReadersAccept(t, file);
  t.deepEqual((await readelf(file)).segments, expectedSegments(core));
  assertSegmentData(t, core.bytes, core, segs);
  t.is(core.bytes[0x2000 + 100], GAP_FILLER, 'gap between the first and second data in the file');
});

test('note trailers: a terminator and zero padding count in p_filesz and show as empty notes', async (t) => {
  for (const [trailer, size] of [['terminator', 12], ['padding', NOTE_PADDING_BYTES]] as const) {
    const { file, core } = await writeCore(t, { noteTrailer: trailer, elfClass: 32, endian: 'be' });
    t.is(core.noteSize - core.notesEnd, size);
    t.true(core.bytes.subarray(core.noteOffset + core.notesEnd, core.noteOffset + core.noteSize).every((b) => b === 0));
    await assertReadersAccept(t, file);
    const empties = (await euReadelfNotes(file)).notes.filter((n) => n.owner === '');
    t.is(empties.length, size / 12);
    t.is((await pyelftools(file)).emptyNameNotes, size / 12);
  }
});

test('notes after the data, no VMCOREINFO, extra notes in order', async (t) => {
  const extra = { name: 'LINUX', type: 0x202, desc: Buffer.alloc(24, 0x11) };
  const { file, core } = await writeCore(t, { notesAfterData: true, vmcoreinfo: null, cpus: 1, extraNotes: [extra], dataGapBytes: 4096 });
  t.true(core.noteOffset > Math.max(...core.segments.map((s) => s.fileOffset)));
  await assertReadersAccept(t, file);
  t.deepEqual((await readelf(file)).notes.map((n) => n.owner), ['CORE', 'LINUX']);
});

test('MCE note bytes, checked by hand for one record', (t) => {
  const { bytes, noteOffset, notesEnd } = makeSyntheticVmcore({ cpus: 0, vmcoreinfo: null, mceRecords: [{ ...FATAL_MCE, cpuvendor: 2 }] });
  const note = bytes.subarray(noteOffset, noteOffset + notesEnd);
  t.is(note.length, 12 + 12 + 8 + 128);
  t.deepEqual([note.readUInt32LE(0), note.readUInt32LE(4), note.readUInt32LE(8)], [9, 136, 0x534c4302]);
  t.is(note.subarray(12, 24).toString('latin1'), 'SLIMCORE\0\0\0\0');
  const desc = note.subarray(24);
  t.deepEqual([desc.readUInt32LE(0), desc.readUInt32LE(4)], [128, 1]);
  const rec = desc.subarray(8);
  t.is(rec.toString('hex', 0, 8), '34011000000000be', 'status, little-endian');
  t.is(rec.readBigUInt64LE(8), 0x8cn);
  t.is(rec.readBigUInt64LE(16), 0x345000n);
  t.is(rec.readBigUInt64LE(24), 5n);
  t.is(rec.readBigUInt64LE(48), 1795690541n);
  t.deepEqual([rec[56], rec[65], rec[66]], [2, 1, 0], 'cpuvendor, bank, cpu');
  const rest = Buffer.concat([rec.subarray(32, 48), rec.subarray(57, 65), rec.subarray(67)]);
  t.true(rest.every((b) => b === 0));
  const be = encodeMceRecordForTest(FATAL_MCE, 'be');
  t.is(be.toString('hex', 0, 8), 'be00000000100134');
  t.is(be[65], 1);
});

test('writeSyntheticVmcore writes the same file as makeSyntheticVmcore', async (t) => {
  const dir = await tempDir(t, 'stream');
  const opts: SyntheticOptions = { segments: [{ paddr: 0x100000000n, size: 3 * (1 << 20) + 5 }, { paddr: 0n, size: 4096 }], qemuSectionHeaders: true, notesAfterData: true };
  const streamed = await writeSyntheticVmcore(path.join(dir, 'a'), opts);
  const whole = makeSyntheticVmcore(opts);
  t.true((await readFile(path.join(dir, 'a'))).equals(whole.bytes));
  t.deepEqual({ ...streamed, bytes: undefined }, { ...whole, bytes: undefined });
  t.true(whole.bytes.subarray(0, streamed.bytes.length).equals(streamed.bytes));
});

test('random layouts: the readers agree with what the generator says it wrote', async (t) => {
  const layout = fc.record({
    elfClass: fc.constantFrom(32 as const, 64 as const),
    endian: fc.constantFrom('le' as const, 'be' as const),
    segments: fc.array(fc.record({ paddr: fc.bigInt({ min: 0n, max: 0xfffffn }).map((p) => p * 0x1000n), size: fc.integer({ min: 0, max: 3 * 4096 }), memsz: fc.integer({ min: 3 * 4096, max: 8 * 4096 }) }), { minLength: 1, maxLength: 5 }),
    cpus: fc.integer({ min: 0, max: 4 }),
    noteTrailer: fc.constantFrom('none' as const, 'terminator' as const, 'padding' as const),
    dataGapBytes: fc.integer({ min: 0, max: 5000 }),
    segmentOrder: fc.constantFrom('file' as const, 'reversed' as const),
    notesAfterData: fc.boolean(),
  });
  await fc.assert(fc.asyncProperty(layout, async (opts) => {
    const { file, core } = await writeCore(t, opts);
    const re = await readelf(file);
    t.deepEqual(re.warnings, []);
    t.deepEqual(re.segments, expectedSegments(core));
    assertSegmentData(t, core.bytes, core, opts.segments);
    return re.segments.length === opts.segments.length + 1;
  }), { numRuns: 15, seed: 20261126 });
});

test('realFixturePath unpacks the real vmcore (sha256 checked inside), which the readers accept', async (t) => {
  const file = await realFixturePath();
  t.is((await stat(file)).size, FIXTURE_SIZE);
  t.is(await realFixturePath(), file);
  await assertReadersAccept(t, file);
  const re = await readelf(file);
  t.deepEqual(re.notes.map((n) => n.owner), ['CORE', 'CORE', 'VMCOREINFO']);
  t.is(re.segments.length, 5);
});

test('realFixturePath unpacks the hwpoison fixture too, a different dump of the same shape', async (t) => {
  const [mce, hwpoison] = await Promise.all([realFixturePath('mce'), realFixturePath('hwpoison')]);
  t.not(mce, hwpoison);
  t.is((await stat(hwpoison)).size, FIXTURES.hwpoison.size);
});
