// Physical reads through PT_LOADs, virtual-to-physical translation, opening vmcore files, and the dmesg command.

import { ProgramHeaderTable } from '../src/elf/program-header-table.js';
import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yargs from 'yargs';
import { BadInputError, IoError } from '../src/errors.js';
import type { ProgramHeader } from '../src/elf/program-header.js';
import { buildAddressMap, parseVmcoreinfoNumber } from '../src/klog/address-map.js';
import { memoryFromSegments, openFileMemory } from '../src/klog/physical-memory.js';
import { dmesgCommand } from '../src/cli/dmesg-command.js';
import { tempDir } from './helpers/tmp.js';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { buildLogBufRecords, buildPrintkRingbuffer, I386, X86_64 } from './helpers/synthetic-klog.js';

const load = (paddr: bigint, size: number, offset: number, vaddr = 0xffffffffffffffffn, memsz = size): ProgramHeader => ({
  type: 1, flags: 7, offset: BigInt(offset), vaddr, paddr, filesz: BigInt(size), memsz: BigInt(memsz), align: 0n,
});
const note: ProgramHeader = { type: 4, flags: 0, offset: 0n, vaddr: 0n, paddr: 0n, filesz: 0x100n, memsz: 0x100n, align: 0n };
const file = Buffer.from(Array.from({ length: 0x10000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const readAt = (off: number, len: number) => file.subarray(off, off + len);

test('reads split across physically adjacent segments, and fail on holes, memsz tails and short files', (t) => {
  const mem = memoryFromSegments(ProgramHeaderTable.from([note, load(0x1000n, 0x1000, 0x100), load(0x2000n, 0x800, 0x3000, undefined, 0x1000), load(0x4000n, 0x1000, 0xf800)]), readAt);
  t.deepEqual(mem.read(0x1ff0n, 0x20), Buffer.concat([file.subarray(0x10f0, 0x1100), file.subarray(0x3000, 0x3010)]));
  t.deepEqual(mem.read(0x1000n, 0), Buffer.alloc(0));
  t.is(mem.read(0x2800n, 1), undefined, 'between p_filesz and p_memsz');
  t.is(mem.read(0x27ffn, 2), undefined, 'runs into the memsz tail');
  t.is(mem.read(0xfffn, 2), undefined, 'starts below every segment');
  t.is(mem.read(0x4f00n, 0x10), undefined, 'the segment runs past the end of the file');
});

test('random segment layouts, overlaps included, read as a byte-by-byte lookup would, into a given buffer too', (t) => {
  const segment = fc.record({ start: fc.integer({ min: 0, max: 0x3000 }), size: fc.integer({ min: 1, max: 0x1000 }), offset: fc.integer({ min: 0, max: 0xe000 }) });
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 0x4000 }), fc.integer({ min: 0, max: 0x800 }), (segs, at, len) => {
      // Overlapping segments must agree per address, as in a real vmcore: map each one onto one backing image.
      const phdrs = segs.map((s) => load(BigInt(s.start), s.size, s.start));
      const mem = memoryFromSegments(ProgramHeaderTable.from(phdrs), readAt);
      const byteAt = (p: number) => (phdrs.some((ph) => BigInt(p) >= ph.paddr && BigInt(p) < ph.paddr + ph.filesz) ? file[p] : undefined);
      const want = Array.from({ length: len }, (_, i) => byteAt(at + i));
      const got = mem.read(BigInt(at), len);
      // Into a window at an offset, from a reader that fills it and from one that ignores it.
      const window = new Uint8Array(len + 8).fill(0xee);
      const into = window.subarray(3, 3 + len);
      const filling = memoryFromSegments(ProgramHeaderTable.from(phdrs), (off, n, target) => {
        const bytes = readAt(off, n);
        if (!target) return bytes;
        target.set(bytes);
        return Buffer.from(target.buffer, target.byteOffset, bytes.length);
      }).read(BigInt(at), len, into);
      const ignoring = mem.read(BigInt(at), len, into.slice());
      if (want.includes(undefined)) return got === undefined && filling === undefined && ignoring === undefined;
      const bytes = Buffer.from(want as number[]);
      const isViewOfInto = filling !== undefined && filling.buffer === window.buffer && filling.byteOffset === 3 && filling.length === len;
      return got !== undefined && got.equals(bytes) && isViewOfInto && filling.equals(bytes) && window[2] === 0xee && window[3 + len] === 0xee && ignoring!.equals(bytes);
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('x86-64: PT_LOAD pairs first, then the kernel-image rule with a negative phys_base', (t) => {
  const info = new Map([['NUMBER(phys_base)', '-257949696'], ['KERNELOFFSET', '18400000'], ['NUMBER(KERNEL_IMAGE_SIZE)', '1073741824']]);
  const map = buildAddressMap(ProgramHeaderTable.from([note, load(0x100000n, 0x1000, 0, 0xffff8933c0100000n), load(0x200000n, 0x1000, 0)]), info, 62);
  t.is(map.toPhysical(0xffff8933c0100010n), 0x100010n);
  t.is(map.toPhysical(0xffff8933c0101000n), undefined, 'past p_memsz, and not in the kernel image');
  t.is(map.toPhysical(0xffffffff99400000n), 0x9e00000n);
  t.is(map.toPhysical(0xffffffffc0000000n), undefined, 'past KERNEL_IMAGE_SIZE');
  t.is(map.toPhysical(0xffffffff80000000n), undefined, 'below physical 0 once phys_base is added');
  t.is(buildAddressMap(ProgramHeaderTable.from([]), new Map(), 62).toPhysical(0xffffffff99400000n), undefined);
});

test('aarch64 kernel-image addresses use kimage_voffset; other machines only the PT_LOADs', (t) => {
  const info = new Map([['NUMBER(kimage_voffset)', '0xffff800007e00000']]);
  t.is(buildAddressMap(ProgramHeaderTable.from([]), info, 183).toPhysical(0xffff800008010000n), 0x210000n);
  t.is(buildAddressMap(ProgramHeaderTable.from([]), info, 21).toPhysical(0xffff800008010000n), undefined);
  t.is(parseVmcoreinfoNumber('-5'), -5n);
  t.is(parseVmcoreinfoNumber('0x10'), 16n);
  t.is(parseVmcoreinfoNumber('12abc'), undefined);
});

test('openFileMemory reads what the synthetic image holds, ELF64 and ELF32', async (t) => {
  const dir = await tempDir(t, 'klog-mem');
  for (const k of [buildPrintkRingbuffer(X86_64, { countBits: 3, sizeBits: 8, records: [{ ts: 1n, text: 'a' }] }), buildLogBufRecords(I386, { bufLen: 256, records: [{ ts: 1n, text: 'b' }] })]) {
    const f = path.join(dir, `vmcore-${k.arch.wordSize}`);
    await writeFile(f, k.fileBytes);
    const opened = await openFileMemory(f);
    try {
      t.is(opened.wordSize, k.arch.wordSize);
      t.is(opened.machine, k.machine);
      t.deepEqual(opened.vmcoreinfo, k.vmcoreinfo);
      t.is(opened.phdrs.length, k.phdrs.length + 1);
      for (const r of k.regions) {
        const p = k.addressMap.toPhysical(r.vaddr)!;
        t.deepEqual(opened.memory.read(p, r.size), k.memory.read(p, r.size));
      }
    } finally {
      await opened.close();
    }
  }
});

test('openFileMemory takes the program header count from section header 0 under PN_XNUM', async (t) => {
  const segments = Array.from({ length: 0xffff }, (_, i) => ({ paddr: BigInt(i) * 0x1000n, size: 16 }));
  const vmcore = makeSyntheticVmcore({ segments, extendedNumbering: true, pageSize: 16 });
  const f = path.join(await tempDir(t, 'klog-xnum'), 'vmcore');
  await writeFile(f, vmcore.bytes);
  const opened = await openFileMemory(f);
  try {
    t.is(opened.phdrs.length, 0x10000);
    const last = vmcore.segments.at(-1)!;
    t.deepEqual(opened.memory.read(last.paddr, 16), vmcore.bytes.subarray(last.fileOffset, last.fileOffset + 16));
    t.is(opened.vmcoreinfo.get('PAGESIZE'), '16');
  } finally {
    await opened.close();
  }
});

test('openFileMemory: a missing file is an IoError, a non-ELF file a BadInputError', async (t) => {
  const dir = await tempDir(t, 'klog-bad');
  await t.throwsAsync(openFileMemory(path.join(dir, 'absent')), { instanceOf: IoError, message: /cannot open input .*absent/ });
  await writeFile(path.join(dir, 'text'), 'not an ELF file at all, just some text to fill the header');
  await t.throwsAsync(openFileMemory(path.join(dir, 'text')), { instanceOf: BadInputError, message: /not an ELF file/ });
});

test('the dmesg command prints the log to stdout and throws typed errors', async (t) => {
  const k = buildPrintkRingbuffer(X86_64, { countBits: 3, sizeBits: 8, records: [{ ts: 1_000_000_000n, text: 'hello \x1b' }] });
  const dir = await tempDir(t, 'klog-cli');
  const f = path.join(dir, 'vmcore');
  await writeFile(f, k.fileBytes);
  const chunks: Buffer[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: Uint8Array, cb?: (err?: Error | null) => void) => {
    chunks.push(Buffer.from(chunk));
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    await yargs().command(dmesgCommand).strict().fail(false).parseAsync(['dmesg', f]);
  } finally {
    process.stdout.write = write;
  }
  t.is(Buffer.concat(chunks).toString('latin1'), '[    1.000000] hello \\x1b\n');
  await t.throwsAsync(yargs().command(dmesgCommand).fail(false).parseAsync(['dmesg', path.join(dir, 'absent')]), { instanceOf: IoError });
});
