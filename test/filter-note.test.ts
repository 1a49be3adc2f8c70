// The FILTER note's codec: bytes as docs/note-format.md lays them out, and the zero-page count filled in afterwards.

import test from 'ava';
import { decodeFilterNote, encodeFilterNote, FilterFlag, PageClassCode, withZeroPageCount } from '../src/notes/filter-note.js';
import { encodeNote, parseNotes } from '../src/elf/note.js';

const summary = (pages: [number, number][]) => ({ dumpLevel: 31, flags: FilterFlag.PAGE_FLAGS_CHECKED, pages: new Map(pages) });

test('encoded as documented: header, then entries sorted by class, each u32 class, u32 0, u64 pages', (t) => {
  const note = encodeFilterNote(summary([[PageClassCode.FREE, 7], [PageClassCode.ZERO, 0]]), 'le');
  const desc = parseNotes(note, 'le').notes[0].desc;
  t.deepEqual(
    desc,
    Buffer.from([
      [1, 0, 0, 0, 31, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
      [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0],
    ].flat()),
  );
});

for (const endian of ['le', 'be'] as const) {
  test(`withZeroPageCount (${endian}): only the FILTER note's ZERO entry changes, in a copy of the whole segment`, (t) => {
    const before = encodeNote('CORE', 1, Buffer.alloc(20, 0xaa), endian);
    const filter = encodeFilterNote(summary([[PageClassCode.ZERO, 0], [PageClassCode.CACHE, 3]]), endian);
    const notes = Buffer.concat([before, filter]);
    const out = withZeroPageCount(notes, endian, 5635);
    t.is(out.length, notes.length);
    t.not(out, notes);
    t.deepEqual(out.subarray(0, before.length), before);
    const decoded = decodeFilterNote(parseNotes(out, endian).notes[1].desc, endian);
    t.deepEqual([...decoded.pages], [[PageClassCode.ZERO, 5635], [PageClassCode.CACHE, 3]]);
    t.deepEqual(notes.subarray(before.length), filter, 'the input is left as it was');
  });
}

test('withZeroPageCount leaves notes without a FILTER note, or without a ZERO entry, as they are', (t) => {
  const core = encodeNote('CORE', 1, Buffer.alloc(8), 'le');
  t.deepEqual(withZeroPageCount(core, 'le', 9), core);
  const noZero = Buffer.concat([core, encodeFilterNote(summary([[PageClassCode.FREE, 2]]), 'le')]);
  t.deepEqual(withZeroPageCount(noZero, 'le', 9), noZero);
});
