// The 256-page rule of a filtered ELF dump's program headers, against a page-by-page reference of makedumpfile -E's rule.

import { ProgramHeaderTable } from '../src/elf/program-header-table.js';
import test from 'ava';
import fc from 'fast-check';
import { filteredProgramHeaders, PFN_EXCLUDED, type KeptRuns } from '../src/dump/filtered-table.js';
import { PT_LOAD, PT_NOTE } from '../src/elf/constants.js';
import type { ProgramHeader } from '../src/elf/program-header.js';

const PS = 4096;
const P = BigInt(PS);
const note: ProgramHeader = { type: PT_NOTE, flags: 0, offset: 0x1000n, vaddr: 0n, paddr: 0n, filesz: 0x100n, memsz: 0x100n, align: 0n };

function load(paddr: bigint, size: bigint, offset: bigint, filesz = size): ProgramHeader {
  return { type: PT_LOAD, flags: 7, offset, vaddr: 0xffff888000000000n + paddr, paddr, filesz, memsz: size, align: 0n };
}

/** Kept runs from a set of kept pfns. */
function runsOf(kept: ReadonlySet<number>): KeptRuns {
  return async function* (start, end) {
    let s = start;
    for (let p = start + 1; p <= end; p++) {
      if (p === end || kept.has(p) !== kept.has(s)) {
        yield [s, p, kept.has(s)] as const;
        s = p;
      }
    }
  };
}

/** makedumpfile -E's rule, page by page, for page-aligned segments: [paddr, filesz, memsz] of each output PT_LOAD. */
function reference(ph: ProgramHeader, kept: ReadonlySet<number>, threshold = PFN_EXCLUDED): [bigint, bigint, bigint][] {
  const out: [bigint, bigint, bigint][] = [];
  const first = ph.paddr / P;
  const end = (ph.paddr + ph.memsz + P - 1n) / P;
  const lastWhole = (ph.paddr + ph.filesz) / P;
  let start = ph.paddr;
  let filesz = 0n;
  let memsz = 0n;
  let excluded = 0n;
  for (let pfn = first; pfn < end; pfn++) {
    const bytes = (pfn + 1n) * P <= ph.paddr + ph.memsz ? P : ph.paddr + ph.memsz - pfn * P;
    if (kept.has(Number(pfn)) && pfn < lastWhole) {
      if (excluded >= BigInt(threshold)) {
        out.push([start, filesz, memsz]);
        start = pfn * P;
        filesz = memsz = 0n;
      } else filesz += excluded * P;
      excluded = 0n;
      filesz += bytes;
      memsz += bytes;
    } else {
      excluded++;
      memsz += bytes;
    }
  }
  out.push([start, filesz, memsz]);
  return out.filter(([, , m]) => m > 0n);
}

function loadsOf(phdrs: ProgramHeader[]): [bigint, bigint, bigint][] {
  return phdrs.filter((p) => p.type === PT_LOAD).map((p) => [p.paddr, p.filesz, p.memsz]);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('a run of fewer than 256 excluded pages between kept ones stays in the file data', async (t) => {
  const ph = load(0n, 120n * P, 0x2000n);
  const kept = new Set([...range(0, 10), ...range(110, 120)]);
  const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept));
  t.deepEqual(loadsOf(table.phdrs.toArray()), [[0n, 120n * P, 120n * P]]);
  t.deepEqual([...table.copy].map((c) => [c.index, c.inOffset, c.size]), [[1, 0x2000, 120 * PS]]);
});

test('256 excluded pages end a PT_LOAD: the run becomes p_memsz > p_filesz, and a new one starts', async (t) => {
  const ph = load(0n, 276n * P, 0x2000n);
  const kept = new Set([...range(0, 10), ...range(266, 276)]);
  const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept));
  t.deepEqual(loadsOf(table.phdrs.toArray()), [
    [0n, 10n * P, 266n * P],
    [266n * P, 10n * P, 10n * P],
  ]);
  t.is(table.phdrs.toArray()[2].vaddr, ph.vaddr + 266n * P);
  t.deepEqual([...table.copy].map((c) => [c.inOffset, c.size]), [[0x2000, 10 * PS], [0x2000 + 266 * PS, 10 * PS]]);
});

test('a long leading run is a PT_LOAD with no file data; a trailing run of any length is p_memsz > p_filesz', async (t) => {
  const ph = load(0n, 600n * P, 0x2000n);
  const kept = new Set(range(300, 310));
  const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept));
  t.deepEqual(loadsOf(table.phdrs.toArray()), [
    [0n, 0n, 300n * P],
    [300n * P, 10n * P, 300n * P],
  ]);
  t.is(table.phdrs.toArray()[1].offset, 0n);
});

test('a partial last page is a hole, as in makedumpfile (segment 0x1000+0x9ec00 gives filesz 0x9e000)', async (t) => {
  const ph = load(0x1000n, 0x9ec00n, 0x3000n);
  const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(new Set(range(0, 0x100))));
  t.deepEqual(loadsOf(table.phdrs.toArray()), [[0x1000n, 0x9e000n, 0x9ec00n]]);
});

test('aliased PT_LOADs are each cut, as makedumpfile does, and the PT_NOTE keeps its place', async (t) => {
  const text = load(0x10000n * P, 1000n * P, 0x2000n);
  const ram = load(0n, 0x20000n * P, 0x2000n + 1000n * 4096n);
  const kept = new Set([...range(0x10000, 0x10010), ...range(0x10300, 0x10310)]);
  const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, text, ram]), 0, PS, runsOf(kept));
  t.is(table.noteIndex, 0);
  t.deepEqual(loadsOf(table.phdrs.toArray()), [...reference(text, kept), ...reference(ram, kept)]);
});

test('past the PT_LOAD cap the threshold doubles until the table fits', async (t) => {
  const ph = load(0n, 8000n * P, 0x2000n);
  // A kept page after every 300 excluded: 27 loads at 256, one at 512.
  const kept = new Set(range(0, 27).map((i) => i * 301 + 300));
  const free = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept));
  t.is(free.threshold, PFN_EXCLUDED);
  t.true(loadsOf(free.phdrs.toArray()).length > 20);
  const capped = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept), 4);
  t.is(capped.threshold, 512);
  t.deepEqual(loadsOf(capped.phdrs.toArray()), reference(ph, kept, 512));
});

test('random keep sets give the reference rule exactly, and every kept page is copied', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3000 }),
      fc.integer({ min: 0, max: PS - 1 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 400 })), { maxLength: 12 }),
      async (pages, tail, keptRuns) => {
        const ph = load(0n, BigInt(pages) * P + BigInt(tail), 0x2000n);
        const kept = new Set(keptRuns.flatMap(([s, n]) => range(s, s + n)));
        const table = await filteredProgramHeaders(ProgramHeaderTable.from([note, ph]), 0, PS, runsOf(kept));
        t.deepEqual(loadsOf(table.phdrs.toArray()), reference(ph, kept));
        for (const pfn of kept) {
          if (pfn >= pages) continue;
          t.true([...table.copy].some((c) => BigInt(pfn) * P >= c.paddr && BigInt(pfn + 1) * P <= c.paddr + BigInt(c.size)), `pfn ${pfn} copied`);
        }
      },
    ),
    { numRuns: 200 },
  );
});
