// The typed fault list: files parsed into columns, whole and re-split, merged without objects, huge and hostile lists.

import test from 'ava';
import fc from 'fast-check';
import { UsageError } from '../src/errors.js';
import { parseFaultsFile } from '../src/faults/fault-input.js';
import { FaultList, MAX_FAULTS } from '../src/faults/fault-list.js';
import { mapFaults, mergedRanges, normalizeFaults } from '../src/faults/fault-map.js';
import { loadFaultSources } from '../src/faults/load-faults.js';
import { SegmentList, type DataSegment } from '../src/dump/segment-list.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const PAGE = 4096;
const U64_MAX = (1n << 64n) - 1n;

const fault = fc.record({
  paddr: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }),
  length: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1n << 20n })),
  hex: fc.boolean(),
  comment: fc.boolean(),
});
const lineEnd = fc.constantFrom('\n', '\r\n', '\r');

test('a file of addresses parses to the same columns whatever its line endings, comments and blank lines', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fault, lineEnd, fc.boolean()), { maxLength: 40 }), (lines) => {
      const text = lines
        .map(([f, end, blank]) => {
          const num = (v: bigint) => (f.hex ? `0x${v.toString(16)}` : v.toString());
          const body = f.length === 0n ? num(f.paddr) : `${num(f.paddr)}+${num(f.length)}`;
          return `${blank ? `  # note${end}${end}` : ''}\t${body}${f.comment ? ' # page' : ''} ${end}`;
        })
        .join('');
      const parsed = parseFaultsFile(text, 'f.txt').faults.toRanges();
      t.deepEqual(
        parsed.map((r) => [r.paddr, r.length, r.reason]),
        lines.map(([f]) => [f.paddr, f.length, 2]),
      );
      // Lines are counted as written: every origin names one that holds its address.
      const allLines = text.split(/\r\n|\r|\n/);
      parsed.forEach((r, i) => {
        const line = Number(/^f\.txt line (\d+)$/.exec(r.origin)![1]);
        const [f] = lines[i];
        t.true(allLines[line - 1].includes(f.hex ? `0x${f.paddr.toString(16)}` : f.paddr.toString()));
      });
      return true;
    }),
    { numRuns: 200 },
  );
});

test('a list split into parts and appended is the list parsed whole', (t) => {
  fc.assert(
    fc.property(fc.array(fault, { maxLength: 60 }), fc.array(fc.nat({ max: 60 }), { maxLength: 4 }), (faults, cuts) => {
      const lines = faults.map((f) => `0x${f.paddr.toString(16)}${f.length ? `+0x${f.length.toString(16)}` : ''}`);
      const whole = parseFaultsFile(lines.join('\n'), 'f').faults;
      const joined = new FaultList();
      const bounds = [0, ...[...cuts].sort((a, b) => a - b).map((c) => Math.min(c, lines.length)), lines.length];
      for (let i = 0; i + 1 < bounds.length; i++) joined.append(parseFaultsFile(lines.slice(bounds[i], bounds[i + 1]).join('\n'), 'f').faults);
      t.deepEqual(
        joined.toRanges().map((r) => [r.paddr, r.length]),
        whole.toRanges().map((r) => [r.paddr, r.length]),
      );
      return true;
    }),
    { numRuns: 100 },
  );
});

test('sorted disjoint input (one pass) and the same faults shuffled (the sweep) merge to the same ranges', (t) => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat({ max: 4000 }), { maxLength: 200 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (pages, reason, seed) => {
      const sorted = [...pages].sort((a, b) => a - b).map((p) => ({ paddr: BigInt(p * PAGE), length: 0n, reason, origin: `p${p}` }));
      const shuffled = [...sorted].sort((a, b) => ((Number(a.paddr) * 2654435761 + seed) % 1009) - ((Number(b.paddr) * 2654435761 + seed) % 1009));
      const strip = (list: FaultList) => mergedRanges(normalizeFaults(list, PAGE)).map((r) => [r.paddr, r.length, r.reason]);
      t.deepEqual(strip(FaultList.of(shuffled)), strip(FaultList.of(sorted)));
      return true;
    }),
    { numRuns: 200 },
  );
});

test('addresses at the top of the 64-bit space stay exact as page numbers', (t) => {
  const list = FaultList.of([
    { paddr: U64_MAX, length: 0n, reason: 2, origin: 'top byte' },
    { paddr: U64_MAX - 0x2fffn, length: 0x1000n, reason: 2, origin: 'near the top' },
    { paddr: (1n << 53n) + 0x1000n, length: 0n, reason: 1, origin: 'past 2^53' },
  ]);
  t.deepEqual(
    mergedRanges(normalizeFaults(list, PAGE)).map((r) => [r.paddr, r.length, r.reason]),
    [
      [(1n << 53n) + 0x1000n, 0x1000n, 1],
      [U64_MAX - 0x2fffn, 0x1000n, 2],
      [U64_MAX - 0xfffn, 0x1000n, 2],
    ],
  );
  // A segment high in the address space gets its faults at the right offsets.
  const segments: DataSegment[] = [{ index: 1, inOffset: 0, size: 0x4000, paddr: U64_MAX - 0x3fffn }];
  const map = mapFaults(normalizeFaults(list, PAGE), SegmentList.from(segments));
  t.deepEqual([...map.bySegment.get(1)!], [0x1000, 0x2000, 0x3000, 0x4000]);
  t.is(map.outside.length, 1);
  t.is(map.outside[0].origin, 'past 2^53');
});

test('a page size below 4 KiB is refused: page numbers would not be exact', (t) => {
  t.throws(() => normalizeFaults(new FaultList(), 2048), { instanceOf: RangeError });
});

test('a list of MAX_FAULTS faults is accepted and merged; one more is a usage error naming the limit', async (t) => {
  const list = new FaultList();
  // Every other page: nothing merges, so the merged columns hold MAX_FAULTS ranges.
  for (let i = 0; i < MAX_FAULTS; i++) list.add(BigInt(i * 2 * PAGE), 0n, 2, 'big', i + 1);
  const normalized = normalizeFaults(list, PAGE);
  t.is(normalized.count, MAX_FAULTS);
  t.is(normalized.end[MAX_FAULTS - 1], 2 * MAX_FAULTS - 1);
  t.is(list.origin(MAX_FAULTS - 1), `big line ${MAX_FAULTS}`);
  const e = t.throws(() => list.add(0n, 0n, 2, 'big'), { instanceOf: UsageError });
  t.regex(e!.message, /more than 1,048,576 faults/);

  // The same through a file and the CLI's loader: one line, a usage error (exit 2).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slimcore-faults-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'many.txt');
  await writeFile(file, '0\n'.repeat(MAX_FAULTS + 1));
  await t.throwsAsync(loadFaultSources([], [file]), { instanceOf: UsageError, message: /more than 1,048,576 faults/ });
});

test('hostile lines: a bad line names its number, even after a CR-only line ending', (t) => {
  const e = t.throws(() => parseFaultsFile('0x1000\r0x2000\r\n0xzz\n', 'h.txt'), { instanceOf: UsageError });
  t.true(e!.message.startsWith('h.txt line 3: "0xzz": '), e!.message);
  t.throws(() => parseFaultsFile('0xffffffffffffffff+2\n', 'h.txt'), { instanceOf: UsageError, message: /runs past the end of the 64-bit address space/ });
  t.throws(() => parseFaultsFile('0x10000000000000000\n', 'h.txt'), { instanceOf: UsageError, message: /does not fit in 64 bits/ });
});

test('a reason that is not one of ours is refused before it is stored', (t) => {
  t.throws(() => new FaultList().add(0n, 0n, 31, 'x'), { instanceOf: RangeError });
});
