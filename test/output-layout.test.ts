// The output layout's program header table, encoded as it is planned: each entry as the input's, moved to the new offsets.

import test from 'ava';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { dataSegments, planOutputLayout } from '../src/dump/layout.js';
import { decodeProgramHeaders } from '../src/elf/program-header.js';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { bufferRangeReader } from './helpers/buffer-readers.js';

for (const elfClass of [32, 64] as const) {
  for (const endian of ['le', 'be'] as const) {
    test(`ELF${elfClass} ${endian}: the encoded table is the input's with new offsets, the grown note, and p_filesz 0 where nothing is copied`, async (t) => {
      const dump = makeSyntheticVmcore({
        elfClass,
        endian,
        segments: [{ paddr: 0x100000n, size: 0x3000 }, { paddr: 0x400000n, size: 0x2000, memsz: 0x5000 }, { paddr: 0x800000n, size: 0 }],
      });
      const prefix = await readDumpPrefix(bufferRangeReader(dump.bytes));
      const segments = dataSegments(prefix).filter((i) => dataSegments(prefix).index(i) !== 2); // program header 2 not copied
      const notesSize = prefix.noteSegment.length + 100;
      const layout = planOutputLayout(prefix, segments, notesSize);
      const out = decodeProgramHeaders(layout.programHeaders, prefix.phnum, prefix.format);
      t.is(layout.programHeaders.length, prefix.phnum * (elfClass === 64 ? 56 : 32));
      const placed = new Map([...layout.segments].map((s) => [s.index, layout.outOffsets[s.index]]));
      const notesEnd = BigInt(layout.notesOffset + notesSize);
      t.deepEqual(out, prefix.phdrs.toArray().map((ph, index) => {
        if (index === prefix.noteIndex) return { ...ph, offset: BigInt(layout.notesOffset), filesz: BigInt(notesSize), memsz: BigInt(notesSize) };
        const at = placed.get(index);
        return at === undefined ? { ...ph, offset: notesEnd, filesz: 0n } : { ...ph, offset: BigInt(at) };
      }));
      // The copied segments keep their page offset (p_offset ≡ p_vaddr mod page size), as readers expect.
      for (const s of layout.segments) t.is(layout.outOffsets[s.index] % 4096, s.inOffset % 4096);
    });
  }
}
