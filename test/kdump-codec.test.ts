// The kdump codec on its own: header and sub-header fields, the layout math, descriptors, runs of set bits, the PT_LOAD selection.

import test from 'ava';
import fc from 'fast-check';
import {
  decodeHeader,
  decodeSubHeader,
  DISK_DUMP_HEADER_SIZE,
  encodeHeader,
  encodeSubHeader,
  KDUMP_SUB_HEADER_SIZE,
  utsnameField,
  utsnameFields,
} from '../src/kdump/header.js';
import { kdumpLayout } from '../src/kdump/layout.js';
import { readPageDesc, writePageDesc } from '../src/kdump/page-desc.js';
import { dumpableRuns } from '../src/kdump/writer.js';
import { loadSelection, setBits } from '../src/mm/load-selection.js';
import { bitIsSet, popcount } from '../src/mm/page-selection.js';

const header = {
  version: 6,
  utsname: utsnameFields(['Linux', '(none)', '6.1.0-56-amd64', '#1 SMP', 'x86_64', '(none)']),
  timestampSec: 1795690541n,
  status: 1,
  blockSize: 4096,
  subHdrSize: 2,
  bitmapBlocks: 8,
  maxMapnr32: 131037,
  nrCpus: 2,
};

test('the header: signature, named offsets (version 8, utsname 12, time 408, status 424, block size 428, nr_cpus 460), both byte orders', (t) => {
  for (const endian of ['le', 'be'] as const) {
    const bytes = encodeHeader(header, endian);
    t.is(bytes.length, DISK_DUMP_HEADER_SIZE);
    t.is(bytes.toString('latin1', 0, 8), 'KDUMP   ');
    const u32 = (at: number) => (endian === 'le' ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
    t.deepEqual([u32(8), u32(424), u32(428), u32(432), u32(436), u32(440), u32(460)], [6, 1, 4096, 2, 8, 131037, 2]);
    t.is(bytes.toString('latin1', 12 + 4 * 65, 12 + 4 * 65 + 6), 'x86_64');
    t.is(endian === 'le' ? bytes.readBigUInt64LE(408) : bytes.readBigUInt64BE(408), 1795690541n);
    t.is(endian === 'le' ? bytes.readBigUInt64LE(416) : bytes.readBigUInt64BE(416), 0n, 'tv_usec stays 0');
    const back = decodeHeader(bytes);
    t.is(back.endian, endian);
    t.deepEqual({ ...back.header, utsname: undefined }, { ...header, utsname: undefined });
    t.is(utsnameField(back.header.utsname, 2), '6.1.0-56-amd64');
  }
});

test('the sub-header: a negative phys_base as two\'s complement, offsets at 32, 48 and 96', (t) => {
  const sub = { physBase: -0x11000000n, dumpLevel: 1, offsetVmcoreinfo: 0x1348n, sizeVmcoreinfo: 3298n, offsetNote: 0x1068n, sizeNote: 4036n, maxMapnr64: 131037n };
  const bytes = encodeSubHeader(sub, 'le');
  t.is(bytes.length, KDUMP_SUB_HEADER_SIZE);
  t.is(bytes.readBigUInt64LE(0), 0xffffffffef000000n);
  t.deepEqual([bytes.readUInt32LE(8), bytes.readBigUInt64LE(32), bytes.readBigUInt64LE(48), bytes.readBigUInt64LE(56), bytes.readBigUInt64LE(96)], [1, 0x1348n, 0x1068n, 4036n, 131037n]);
  t.deepEqual(decodeSubHeader(bytes, 'le', 4096), sub);
});

test('the layout of the fixture (doc §5.1): sub_hdr_size 2, bitmap_blocks 8, bitmaps at 0x3000 and 0x7000, descriptors at 0xb000', (t) => {
  const layout = kdumpLayout(4096, 4036, 131037, 20209);
  t.like(layout, { subHdrSize: 2, bitmapBlocks: 8, notesOffset: 0x1068, bitmap1Offset: 0x3000, bitmap2Offset: 0x7000, descOffset: 0xb000, dataOffset: 0xb000 + 24 * 20209 });
  t.is(layout.dataOffset, 0x81698, 'makedumpfile -d 31 starts the data at 0x81698');
});

test('page descriptors round-trip; a raw page says flags 0', (t) => {
  const buf = Buffer.alloc(48);
  writePageDesc(buf, 0, { offset: 0x81698, size: 4096, flags: 0 }, 'le');
  writePageDesc(buf, 24, { offset: 0x82698, size: 123, flags: 1 }, 'be');
  t.deepEqual(readPageDesc(buf, 0, 'le'), { offset: 0x81698n, size: 4096, flags: 0 });
  t.deepEqual(readPageDesc(buf, 24, 'be'), { offset: 0x82698n, size: 123, flags: 1 });
  t.true(buf.subarray(16, 24).every((b) => b === 0), 'page_flags is 0');
});

test('runs of set bits cover every set bit once, in order, none longer than the cap', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1000 }), (bitmap, max, base) => {
      const seen: number[] = [];
      for (const [first, count] of dumpableRuns(bitmap, base, max)) {
        if (count < 1 || count > max) return false;
        for (let p = first; p < first + count; p++) seen.push(p);
      }
      const expected: number[] = [];
      for (let i = 0; i < bitmap.length * 8; i++) if (bitIsSet(bitmap, i)) expected.push(base + i);
      t.deepEqual(seen, expected);
      return true;
    }),
  );
});

test('setBits sets and clears exactly [from, to), clipped to the bitmap', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 400 }), fc.boolean(), (bytes, a, b, value) => {
      const bitmap = new Uint8Array(bytes).fill(value ? 0 : 0xff);
      const [from, to] = a < b ? [a, b] : [b, a];
      setBits(bitmap, 100, from, to, value);
      for (let i = 0; i < bytes * 8; i++) {
        const inside = i + 100 >= from && i + 100 < to;
        if (bitIsSet(bitmap, i) !== (inside ? value : !value)) return false;
      }
      return true;
    }),
  );
  t.pass();
});

test('the PT_LOAD selection: a partial last page is a hole, data past p_filesz and bad pages are not dumpable', (t) => {
  const sel = loadSelection({
    pageSize: 4096,
    loads: [
      { start: 0x1000n, end: 0x9fc00n },
      { start: 0x100000n, end: 0x200000n },
    ],
    data: [
      { start: 0x1000n, end: 0x9fc00n },
      { start: 0x100000n, end: 0x180000n },
    ],
    bad: [{ start: 0x123000n, end: 0x123001n }],
  });
  t.is(sel.maxMapnr, 0x200);
  t.is(sel.dumpableCount, 0x9e + 0x80 - 1);
  return (async () => {
    const cycles = [];
    for await (const c of sel.cycles()) cycles.push(c);
    t.is(cycles.length, 1);
    const [c] = cycles;
    t.is(popcount(c.present), 0x9e + 0x100);
    t.false(bitIsSet(c.present, 0x9f), 'pfn 0x9f is only partly in the segment: a hole, as makedumpfile says');
    t.true(bitIsSet(c.present, 0x190));
    t.false(bitIsSet(c.dumpable, 0x190), 'past p_filesz');
    t.false(bitIsSet(c.dumpable, 0x123), 'a bad page');
    t.true(bitIsSet(c.dumpable, 0x124));
  })();
});
