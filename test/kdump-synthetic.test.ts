// The kdump writer on synthetic dumps: zero pages at dump levels 0 and 1, faults never read nor dumped, our notes where crash looks.

import test from 'ava';
import path from 'node:path';
import { open, readdir, readFile } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { decodeHeader, decodeSubHeader, DISK_DUMP_HEADER_SIZE, KDUMP_SUB_HEADER_SIZE } from '../src/kdump/header.js';
import { kdumpLayout, PAGE_DESC_SIZE } from '../src/kdump/layout.js';
import { readPageDesc } from '../src/kdump/page-desc.js';
import { parseNotes } from '../src/elf/note.js';
import { decodeOmittedNote, NT_SLIMCORE_OMITTED, OmitReason, SLIMCORE_NOTE_NAME } from '../src/notes/slimcore-notes.js';
import { writeSyntheticVmcore, segmentByte } from './helpers/synthetic-vmcore.js';
import { kdumpBitmaps } from './helpers/kdump-file-bitmaps.js';
import { libkdumpfileRead } from './helpers/kdump-readers.js';
import { tempDir } from './helpers/tmp.js';
import { createHash } from 'node:crypto';

const PAGE = 4096;
/** 64 pages at 1 MiB; pages 8 to 15 and 40 are zero. */
const zeroPage = (pfnInSeg: number) => (pfnInSeg >= 8 && pfnInSeg < 16) || pfnInSeg === 40;
const SEGMENT = { paddr: 0x100000n, size: 64 * PAGE, fill: (o: number) => (zeroPage(Math.floor(o / PAGE)) ? 0 : ((o * 7) ^ (o >>> 12)) & 0xff || 1) };

async function kdumpFile(file: string) {
  const bytes = await readFile(file);
  const { header, endian } = decodeHeader(bytes.subarray(0, DISK_DUMP_HEADER_SIZE));
  const sub = decodeSubHeader(bytes.subarray(header.blockSize, header.blockSize + KDUMP_SUB_HEADER_SIZE), endian, header.blockSize);
  const bitmaps = await kdumpBitmaps(file);
  const layout = kdumpLayout(header.blockSize, Number(sub.sizeNote), Number(sub.maxMapnr64), bitmaps.dumpable.size);
  const descs = [...bitmaps.dumpable].sort((a, b) => a - b).map((pfn, k) => ({ pfn, ...readPageDesc(bytes, layout.descOffset + k * PAGE_DESC_SIZE, endian) }));
  const notes = parseNotes(bytes.subarray(Number(sub.offsetNote), Number(sub.offsetNote + sub.sizeNote)), endian);
  return { bytes, header, sub, layout, descs, notes, endian };
}

async function input(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'kdump-synth');
  const file = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(file, { segments: [SEGMENT] });
  return { dir, file };
}

for (const dumpLevel of [0, 1]) {
  test(`dump level ${dumpLevel}: ${dumpLevel ? 'the zero pages share one block, the first of the data' : 'each zero page has its own compressed block'}; libkdumpfile reads every page`, async (t) => {
    const { dir, file } = await input(t);
    const out = path.join(dir, 'out.kdump');
    await capture({ input: file, output: out, mode: 'full', format: 'kdump', dumpLevel, kernelLog: false, sync: false });
    const k = await kdumpFile(out);
    t.is(k.sub.dumpLevel, dumpLevel);
    t.is(k.descs.length, 64);
    const zeros = k.descs.filter((d) => zeroPage(d.pfn - 0x100));
    if (dumpLevel === 1) {
      t.true(zeros.every((d) => d.offset === BigInt(k.layout.dataOffset) && d.size === PAGE && d.flags === 0));
      t.true(k.bytes.subarray(k.layout.dataOffset, k.layout.dataOffset + PAGE).every((b) => b === 0), 'the zero block');
      t.true(k.descs.filter((d) => !zeroPage(d.pfn - 0x100)).every((d) => d.offset > BigInt(k.layout.dataOffset)));
    } else {
      t.is(new Set(zeros.map((d) => d.offset)).size, zeros.length);
      t.true(zeros.every((d) => d.flags === 1 && d.size < PAGE));
    }
    const pfns = k.descs.map((d) => d.pfn);
    const view = await libkdumpfileRead(out, pfns);
    for (const pfn of pfns) {
      const page = Buffer.alloc(PAGE);
      for (let i = 0; i < PAGE; i++) page[i] = segmentByte(SEGMENT, (pfn - 0x100) * PAGE + i);
      t.is(view.pages[`0x${pfn.toString(16)}`], createHash('sha256').update(page).digest('hex'), `page ${pfn.toString(16)}`);
    }
  });
}

test('a faulty page is excluded and never read; the OMITTED note and VMCOREINFO sit in the notes the sub-header points to', async (t) => {
  const { dir, file } = await input(t);
  const out = path.join(dir, 'out.kdump');
  await capture({ input: file, output: out, mode: 'full', format: 'kdump', kernelLog: false, sync: false, userFaults: [{ paddr: 0x105000n, length: 0x2000n, origin: '--fault' }] });
  const k = await kdumpFile(out);
  t.deepEqual(k.descs.map((d) => d.pfn).filter((p) => p >= 0x104 && p < 0x108), [0x104, 0x107]);
  const omitted = k.notes.notes.find((n) => n.name === SLIMCORE_NOTE_NAME && n.type === NT_SLIMCORE_OMITTED)!;
  t.deepEqual(decodeOmittedNote(omitted.desc, k.endian).entries.map((e) => [e.paddr, e.length, e.reason]), [[0x105000n, 0x2000n, OmitReason.USER]]);
  const vmcoreinfo = k.bytes.toString('latin1', Number(k.sub.offsetVmcoreinfo), Number(k.sub.offsetVmcoreinfo + k.sub.sizeVmcoreinfo));
  t.regex(vmcoreinfo, /^OSRELEASE=6\.1\.0-synthetic\n/);
  const view = await libkdumpfileRead(out, [0x105]);
  t.regex(view.pages['0x105'], /Excluded page/);
  t.is(view.osrelease, '6.1.0-synthetic');
});

test('a capture that fails leaves nothing under the target name', async (t) => {
  const { dir, file } = await input(t);
  // Cut the input inside its segment: the page reader hits the end of the file.
  const fh = await open(file, 'r+');
  await fh.truncate((await fh.stat()).size - 10 * PAGE);
  await fh.close();
  const out = path.join(dir, 'out.kdump');
  await t.throwsAsync(capture({ input: file, output: out, mode: 'full', format: 'kdump', kernelLog: false, sync: false }), { message: /past the end of the file|input ends/ });
  t.deepEqual((await readdir(dir)).sort(), ['in.elf']);
});
