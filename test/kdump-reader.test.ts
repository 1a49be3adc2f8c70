// Reading kdump files: inspect and dmesg on plain and flattened ones, the flattened decoder on any chunking, and a hostile corpus.

import test from 'ava';
import fc from 'fast-check';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { FlatDecoder } from '../src/flat/decoder.js';
import { encodeEndMarker, encodeFlatHeader, encodeRecordHeader } from '../src/flat/records.js';
import { openKdump } from '../src/kdump/reader.js';
import { indexFlatFile } from '../src/flat/flat-index.js';
import { isSlimCoreError } from '../src/errors.js';
import { realFixturePath } from './helpers/fixture.js';
import { runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { writeSyntheticVmcore, segmentByte } from './helpers/synthetic-vmcore.js';

const run = promisify(execFile);
const PAGE = 4096;
const SEGMENT = { paddr: 0x100000n, size: 24 * PAGE, fill: (o: number) => (Math.floor(o / PAGE) % 5 === 0 ? 0 : segmentByte({ paddr: 0x100000n, size: 0 }, o)) };

const readerOf = (bytes: Buffer) => (offset: number, length: number) => bytes.subarray(offset, offset + length);

/** A small kdump file, plain and flattened (as stdout gets it), with every page compressed or raw. */
async function corpus(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'kdump-reader');
  const input = path.join(dir, 'in.elf');
  await writeSyntheticVmcore(input, { segments: [SEGMENT] });
  const plain = path.join(dir, 'plain.kdump');
  await capture({ input, output: plain, mode: 'full', format: 'kdump', kernelLog: false, sync: false, maxReadErrors: 0 });
  const flat = path.join(dir, 'dump.flat');
  const r = await runShell('$CLI "$1" --mode full --format kdump --no-klog --max-read-errors 0 -q > "$2"', [input, flat]);
  t.is(r.code, 0, r.stderr);
  return { dir, plain: await readFile(plain), flat: await readFile(flat) };
}

/** Reads every page the file says it holds; returns them, or throws. */
function readAll(bytes: Buffer): Buffer[] {
  const k = openKdump(readerOf(bytes));
  const pages: Buffer[] = [];
  for (let pfn = 0; pfn < k.maxMapnr; pfn++) {
    const page = k.memory.read(BigInt(pfn) * BigInt(PAGE), PAGE);
    if (page) pages.push(page);
  }
  return pages;
}

test('the reader gives back every page of the input, from the plain file and through the flattened index', async (t) => {
  const { plain, flat } = await corpus(t);
  const pages = readAll(plain);
  t.is(pages.length, 24);
  pages.forEach((page, i) => t.true(page.every((b, j) => b === (i % 5 === 0 ? 0 : segmentByte({ paddr: 0x100000n, size: 0 }, i * PAGE + j)))));
  const index = indexFlatFile(readerOf(flat));
  t.is(index.size, plain.length);
  t.true(index.readAt(0, plain.length).equals(plain), 'the flattened records rebuild the plain file');
});

test('the flattened decoder gives the same records and bytes however the stream is cut', async (t) => {
  const { flat, plain } = await corpus(t);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: flat.length - 1 }), { maxLength: 30 }), (cuts) => {
      const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), flat.length];
      const decoder = new FlatDecoder();
      const rebuilt = Buffer.alloc(plain.length);
      for (let i = 1; i < points.length; i++) {
        for (const e of decoder.push(flat.subarray(points[i - 1], points[i]))) if (e.kind === 'data') e.bytes.copy(rebuilt, e.offset);
      }
      decoder.finish();
      return rebuilt.equals(plain);
    }),
    { numRuns: 50 },
  );
  t.pass();
});

test('hostile corpus: a truncated or corrupted file (plain or flattened) fails with a typed error, never another exception', async (t) => {
  const { plain, flat } = await corpus(t);
  const typed = (bytes: Buffer, flattened: boolean) => {
    try {
      if (flattened) readAll(indexFlatFile(readerOf(bytes)).readAt(0, 1 << 24));
      else readAll(bytes);
      return 'ok';
    } catch (err) {
      if (isSlimCoreError(err)) return 'typed';
      throw err;
    }
  };
  fc.assert(fc.property(fc.integer({ min: 0, max: plain.length - 1 }), (cut) => typed(plain.subarray(0, cut), false) === 'typed'), { numRuns: 200 });
  fc.assert(fc.property(fc.integer({ min: 0, max: flat.length - 1 }), (cut) => typed(flat.subarray(0, cut), true) === 'typed'), { numRuns: 200 });
  // Flip bytes in the header, sub-header, bitmaps and descriptors: either still readable or a typed error.
  const dataStart = plain.length - 20 * PAGE;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: dataStart }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
      const bytes = Buffer.from(plain);
      for (const [at, value] of flips) bytes[at] = value;
      return typed(bytes, false) !== undefined;
    }),
    { numRuns: 300 },
  );
  // Records that are no records: zero or negative sizes, a huge offset, no end marker, garbage after the header.
  const header = encodeFlatHeader();
  const badRecord = (offset: bigint, size: bigint) => {
    const h = Buffer.alloc(16);
    h.writeBigInt64BE(offset, 0);
    h.writeBigInt64BE(size, 8);
    return Buffer.concat([header, h, Buffer.alloc(16), encodeEndMarker()]);
  };
  for (const [offset, size] of [[0n, 0n], [0n, -5n], [-2n, 16n], [0x7fffffffffffff00n, 0x1000n]] as const) t.is(typed(badRecord(offset, size), true), 'typed', `offset ${offset} size ${size}`);
  t.is(typed(Buffer.concat([header, encodeRecordHeader(0, 4), Buffer.from('KDUM')]), true), 'typed', 'no end marker');
  t.is(typed(Buffer.concat([header, encodeRecordHeader(0, 8), Buffer.from('KDUMP   '), encodeEndMarker()]), true), 'typed', 'a header cut short');
});

test('inspect and dmesg read a slim kdump dump of the real fixture, plain and flattened: the log equals vmcore-dmesg\'s; a malformed one gets one line and exit 3', async (t) => {
  const input = await realFixturePath('mce');
  const dir = await tempDir(t, 'kdump-dmesg');
  const plain = path.join(dir, 'slim.kdump');
  t.is((await runCli([input, '--format', 'kdump', '-o', plain, '-q', '--no-sync'])).code, 0);
  const flat = path.join(dir, 'slim.flat');
  t.is((await runShell('$CLI "$1" --format kdump -q > "$2"', [input, flat])).code, 0);
  const expected = (await run('/usr/sbin/vmcore-dmesg', [input], { maxBuffer: 64 << 20 })).stdout;
  for (const file of [plain, flat]) {
    const dmesg = await runCli(['dmesg', file]);
    t.is(dmesg.code, 0, dmesg.stderr);
    t.is(dmesg.stdout.toString(), expected);
    const json = JSON.parse((await runCli(['inspect', '--json', file])).stdout.toString());
    t.like(json.kdump, { flattened: file === flat, headerVersion: 6, release: '6.1.0-56-amd64', machine: 'x86_64', dumpLevel: 0 });
    t.true(json.kdump.dumpablePages > 0 && json.kdump.dumpablePages < 1000, 'a slim dump holds only the log\'s pages');
    t.is(json.kernelLog.panicLine, 'Kernel panic - not syncing: Fatal machine check');
  }
  const broken = path.join(dir, 'broken.kdump');
  const bytes = await readFile(plain);
  bytes.writeUInt32LE(3, 428);
  await writeFile(broken, bytes);
  const r = await runCli(['inspect', broken]);
  t.is(r.code, 3);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /block_size/);
});
