// Warnings about the input's layout: section headers dropped, stray bytes after the notes, a second PT_NOTE.

import test from 'ava';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { BadInputError, type Warning } from '../src/errors.js';
import { makeSyntheticVmcore, type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

async function warningsFor(t: import('ava').ExecutionContext, bytes: Buffer, strict = false): Promise<Warning[]> {
  const dir = await tempDir(t);
  const input = path.join(dir, 'in.elf');
  await writeFile(input, bytes);
  const warnings: Warning[] = [];
  await capture({ input, output: path.join(dir, 'out.elf'), mode: 'full', sync: false, kernelLog: false, strict, onWarning: (w) => warnings.push(w) });
  return warnings;
}
const dump = (opts: SyntheticOptions) => makeSyntheticVmcore(opts).bytes;

test('no warning for a plain dump, nor for zero padding after the notes', async (t) => {
  t.deepEqual(await warningsFor(t, dump({})), []);
  t.deepEqual(await warningsFor(t, dump({ noteTrailer: 'padding' })), []);
  t.deepEqual(await warningsFor(t, dump({ noteTrailer: 'terminator' })), []);
});

test('section headers (a QEMU dump) are dropped with SECTION_HEADERS_DROPPED, and --strict refuses', async (t) => {
  const bytes = dump({ qemuSectionHeaders: true, elfClass: 32, endian: 'be' });
  t.deepEqual((await warningsFor(t, bytes)).map((w) => w.code), ['SECTION_HEADERS_DROPPED']);
  await t.throwsAsync(warningsFor(t, bytes, true), { instanceOf: BadInputError, message: /section header\(s\) at offset 0x\w+ are dropped.*SECTION_HEADERS_DROPPED/ });
});

test('a note after a terminator is never seen by readers: NOTE_SEGMENT_TRAILER names where', async (t) => {
  const bytes = dump({ extraNotes: [{ name: '', type: 0, desc: Buffer.alloc(0) }, { name: 'HIDDEN', type: 7, desc: Buffer.from('abcd') }] });
  const warnings = await warningsFor(t, bytes);
  t.deepEqual(warnings.map((w) => w.code), ['NOTE_SEGMENT_TRAILER']);
  t.regex(warnings[0].message, /^program header 0 \(PT_NOTE\): non-zero bytes at file offset 0x\w+, after the notes readers see, are dropped$/);
});

test('a second PT_NOTE is copied but not read: EXTRA_NOTE_SEGMENT', async (t) => {
  const bytes = dump({});
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  bytes.writeUInt32LE(4, phoff + 2 * 56); // program header 2: PT_LOAD -> PT_NOTE
  t.deepEqual((await warningsFor(t, bytes)).map((w) => [w.code, w.message]), [
    ['EXTRA_NOTE_SEGMENT', 'program header 2 is a second PT_NOTE: copied as it is, but its notes are not read (crash reads only the first)'],
  ]);
});
