// The slim program header table: PT_LOADs split around kept pages, coverage unchanged, aliases kept, once-only pages once.

import { OmitReason } from '../src/notes/slimcore-notes.js';
import { ProgramHeaderTable } from '../src/elf/program-header-table.js';
import test from 'ava';
import { slimProgramHeaders, keptRangesFromPages } from '../src/dump/slim-table.js';
import type { ProgramHeader } from '../src/elf/program-header.js';

const load = (paddr: bigint, size: bigint, vaddr = 0xffff888000000000n + paddr, memsz = size): ProgramHeader => ({
  type: 1, flags: 7, offset: 0x10000n + paddr, vaddr, paddr, filesz: size, memsz, align: 0n,
});
const note: ProgramHeader = { type: 4, flags: 0, offset: 0x1000n, vaddr: 0n, paddr: 0n, filesz: 0x100n, memsz: 0x100n, align: 0n };
const all = () => true;

test('kept pages become pieces with their bytes; the rest keeps addresses and sizes with p_filesz 0', (t) => {
  const table = slimProgramHeaders(ProgramHeaderTable.from([note, load(0x100000n, 0x10000n)]), 0, keptRangesFromPages([0x103000n, 0x104000n, 0x10f000n], 0x1000), all);
  t.deepEqual(
    table.phdrs.toArray().slice(1).map((ph) => [ph.paddr, ph.memsz, ph.filesz, ph.offset]),
    [
      [0x100000n, 0x3000n, 0n, 0n],
      [0x103000n, 0x2000n, 0x2000n, 0x113000n],
      [0x105000n, 0xa000n, 0n, 0n],
      [0x10f000n, 0x1000n, 0x1000n, 0x11f000n],
    ],
  );
  t.is(table.phdrs.toArray()[2].vaddr, 0xffff888000103000n, 'vaddr moves with paddr');
  t.deepEqual(table.leftOut.toArray(), [
    { segmentIndex: -1, paddr: 0x100000n, length: 0x3000n, reason: OmitReason.SLIM, flags: 0 },
    { segmentIndex: -1, paddr: 0x105000n, length: 0xa000n, reason: OmitReason.SLIM, flags: 0 },
  ]);
  const covered = table.phdrs.toArray().slice(1).reduce((n, ph) => n + ph.memsz, 0n);
  t.is(covered, 0x10000n, 'physical coverage unchanged');
});

test('a page held by two PT_LOADs is kept in both; a once-only page only in the first', (t) => {
  const text = load(0x200000n, 0x4000n, 0xffffffff81000000n);
  const ram = load(0x100000n, 0x200000n + 0x4000n - 0x100000n);
  const table = slimProgramHeaders(ProgramHeaderTable.from([note, text, ram]), 0, keptRangesFromPages([0x201000n], 0x1000), all, keptRangesFromPages([0x203000n], 0x1000));
  const keptIn = (paddr: bigint) => table.phdrs.toArray().filter((ph) => ph.filesz > 0n && ph.paddr <= paddr && paddr < ph.paddr + ph.filesz).map((ph) => ph.vaddr >= 0xffffffff80000000n ? 'text' : 'ram');
  t.deepEqual(keptIn(0x201000n), ['text', 'ram']);
  t.deepEqual(keptIn(0x203000n), ['text']);
});

test('a range the source cannot give (beyond a pipe\'s look-ahead) is left out, and a zero-fill tail stays', (t) => {
  const ph = load(0x100000n, 0x3000n, undefined, 0x5000n);
  const table = slimProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, keptRangesFromPages([0x101000n], 0x1000), () => false);
  t.deepEqual(table.phdrs.toArray().slice(1).map((p) => [p.paddr, p.memsz, p.filesz]), [[0x100000n, 0x5000n, 0n]]);
  t.deepEqual(table.leftOut.toArray(), [{ segmentIndex: -1, paddr: 0x100000n, length: 0x3000n, reason: OmitReason.SLIM, flags: 0 }]);
});
