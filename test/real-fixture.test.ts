// The real kernel dump (Linux 6.1, fatal MCE) through the CLI: full copies, a skipped page, a slim dump.

import test from 'ava';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { realFixturePath } from './helpers/fixture.js';
import { runCli } from './helpers/cli.js';
import { assertReadersAccept, pyelftools } from './helpers/elf-readers.js';
import { tempDir } from './helpers/tmp.js';
import { readBack } from './helpers/read-dump.js';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { decodeOmittedNote, NT_SLIMCORE_OMITTED, OmitReason } from '../src/notes/slimcore-notes.js';
import type { RangeReader } from '../src/dump/prefix.js';

const PAGE = 0x1000;
const POISONED = 0x345000n;

async function sha256(file: string, start: number, length: number): Promise<string> {
  if (length === 0) return createHash('sha256').digest('hex');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { start, end: start + length - 1, highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function prefixOf(file: string) {
  const fh = await open(file);
  const read: RangeReader = async (offset, length) => {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  };
  try {
    return await readDumpPrefix(read);
  } finally {
    await fh.close();
  }
}

test('full dump with no hint holds byte-identical memory, but the page the kernel flagged PG_hwpoison, zero and listed', async (t) => {
  const input = await realFixturePath();
  const dir = await tempDir(t, 'real');
  const out = path.join(dir, 'full.elf');
  const r = await runCli([input, '-o', out, '--mode', 'full', '--no-sync', '--no-klog']);
  t.is(r.code, 0, r.stderr);
  const [a, b] = await Promise.all([prefixOf(input), prefixOf(out)]);
  t.is(b.phdrs.length, a.phdrs.length);
  // With no log read, the page flags alone name 0x345000 (mce_panic() set PG_hwpoison on it).
  const listed = (await readBack(out)).omitted!.entries;
  t.deepEqual(listed.map((e) => [e.paddr, e.length, e.reason]), [[POISONED, 0x1000n, OmitReason.PAGE_FLAG]]);
  for (let i = 1; i < a.phdrs.length; i++) {
    const [x, y] = [a.phdrs.toArray()[i], b.phdrs.toArray()[i]];
    t.deepEqual([y.paddr, y.vaddr, y.filesz, y.memsz], [x.paddr, x.vaddr, x.filesz, x.memsz]);
    if (x.paddr <= POISONED && POISONED < x.paddr + x.filesz) {
      const at = Number(POISONED - x.paddr);
      const [ours, theirs] = await Promise.all([readRange(out, Number(y.offset), Number(y.filesz)), readRange(input, Number(x.offset), Number(x.filesz))]);
      t.true(ours.subarray(at, at + 0x1000).every((v) => v === 0), 'the poisoned page is zero');
      theirs.fill(0, at, at + 0x1000);
      t.true(ours.equals(theirs), `segment ${i}: every other byte as in the input`);
    } else t.is(await sha256(out, Number(y.offset), Number(y.filesz)), await sha256(input, Number(x.offset), Number(x.filesz)), `segment ${i}`);
  }
  await assertReadersAccept(t, out);
});

test('full dump with --fault 0x345000 zero-fills exactly that page and lists it', async (t) => {
  const input = await realFixturePath();
  const dir = await tempDir(t, 'real');
  const out = path.join(dir, 'fault.elf');
  const r = await runCli([input, '-o', out, '--mode', 'full', '--fault', '0x345000', '--no-sync', '--no-klog']);
  t.is(r.code, 0, r.stderr);
  const [a, b] = await Promise.all([prefixOf(input), prefixOf(out)]);
  const index = a.phdrs.toArray().findIndex((ph, i) => i > 0 && ph.paddr <= POISONED && POISONED < ph.paddr + ph.filesz);
  t.is(index, 3, 'the RAM segment at 0x100000 holds the page');
  const page = Number(POISONED - a.phdrs.toArray()[index].paddr);
  const x = Number(a.phdrs.toArray()[index].offset);
  const y = Number(b.phdrs.toArray()[index].offset);
  const size = Number(a.phdrs.toArray()[index].filesz);
  t.is(await sha256(out, y, page), await sha256(input, x, page), 'bytes before the page');
  t.is(await sha256(out, y + page + PAGE, size - page - PAGE), await sha256(input, x + page + PAGE, size - page - PAGE), 'bytes after the page');
  const fh = await open(out);
  const buf = Buffer.alloc(PAGE);
  await fh.read(buf, 0, PAGE, y + page);
  await fh.close();
  t.deepEqual(buf, Buffer.alloc(PAGE), 'the page is zero');
  const note = b.notes.notes.find((n) => n.type === NT_SLIMCORE_OMITTED)!;
  const list = decodeOmittedNote(note.desc, 'le');
  t.deepEqual(list.entries.map((e) => [e.paddr, e.length, e.reason]), [[POISONED, BigInt(PAGE), OmitReason.USER]]);
});

test('slim dump keeps every original note byte for byte and every PT_LOAD', async (t) => {
  const input = await realFixturePath();
  const dir = await tempDir(t, 'real');
  const out = path.join(dir, 'slim.elf');
  const r = await runCli([input, '-o', out, '--mode', 'slim', '--no-klog']);
  t.is(r.code, 0, r.stderr);
  const [a, b] = await Promise.all([prefixOf(input), prefixOf(out)]);
  t.deepEqual(b.noteSegment.subarray(0, a.notes.end), a.noteSegment.subarray(0, a.notes.end));
  t.deepEqual(
    b.notes.notes.map((n) => n.name),
    ['CORE', 'CORE', 'VMCOREINFO', 'SLIMCORE', 'SLIMCORE'],
  );
  t.deepEqual(
    b.phdrs.toArray().slice(1).map((ph) => [ph.paddr, ph.vaddr, ph.memsz, ph.filesz]),
    a.phdrs.toArray().slice(1).map((ph) => [ph.paddr, ph.vaddr, ph.memsz, 0n]),
  );
  const py = await pyelftools(out);
  t.is(py.notes.filter((n) => n.n_name === 'CORE').length, 2);
  t.true(py.notes.some((n) => n.n_name === 'VMCOREINFO'));
  await assertReadersAccept(t, out);
});

async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}
