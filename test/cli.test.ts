// The CLI as a child process: pipes between real processes, exit codes, one-line errors, output safety.

import test from 'ava';
import path from 'node:path';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { runCli, runShell } from './helpers/cli.js';
import { assertReadersAccept } from './helpers/elf-readers.js';
import { tempDir } from './helpers/tmp.js';
import { readBack } from './helpers/read-dump.js';

function assertOneLineError(t: import('ava').ExecutionContext, stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one line: ${stderr}`);
  t.regex(lines[0], pattern);
  t.notRegex(stderr, /\n\s+at /, 'no stack trace');
}

async function inputFile(t: import('ava').ExecutionContext, opts = {}) {
  const dir = await tempDir(t, 'cli');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 3 << 20 }, { paddr: 0x2000000n, size: 1 << 20 }], ...opts });
  const file = path.join(dir, 'in.elf');
  await writeFile(file, dump.bytes);
  return { dir, dump, file };
}

test('cat vmcore | slim-core > out holds what slim-core vmcore -o out holds', async (t) => {
  const { dir, file } = await inputFile(t);
  const piped = path.join(dir, 'piped.elf');
  const direct = path.join(dir, 'direct.elf');
  const a = await runShell('cat "$1" | $CLI --mode full --fault 0x100000 > "$2"', [file, piped]);
  t.is(a.code, 0, a.stderr);
  const b = await runCli([file, '-o', direct, '--mode', 'full', '--fault', '0x100000', '--no-sync']);
  t.is(b.code, 0, b.stderr);
  // The file sink reserves room for read errors that only a seekable input can have, so compare contents, not bytes.
  const [p, d] = await Promise.all([readBack(piped), readBack(direct)]);
  t.deepEqual(
    p.prefix.phdrs.toArray().map(({ offset, ...rest }) => rest),
    d.prefix.phdrs.toArray().map(({ offset, ...rest }) => rest).map((ph, i) => (i === 0 ? { ...ph, filesz: p.prefix.phdrs.toArray()[0].filesz, memsz: p.prefix.phdrs.toArray()[0].memsz } : ph)),
  );
  for (let i = 1; i < p.prefix.phdrs.length; i++) t.deepEqual(p.segment(i), d.segment(i), `segment ${i}`);
  t.deepEqual(p.omitted?.entries, d.omitted?.entries);
  t.deepEqual(p.prefix.notes.notes.slice(0, 3).map((n) => n.desc), d.prefix.notes.notes.slice(0, 3).map((n) => n.desc));
  t.true(p.segment(1).subarray(0, 4096).every((b) => b === 0), 'the fault page is zero');
  await assertReadersAccept(t, piped);
});

test('from a pipe, a fault over many whole chunks: every read buffer still comes back', async (t) => {
  const { dir, file } = await inputFile(t);
  const out = path.join(dir, 'zeroed.elf');
  // 3 MiB of faults over 64 KiB chunks: 48 chunks in a row replaced by zeros, far more than the pool holds.
  const r = await runShell('cat "$1" | $CLI --mode full --no-klog --chunk-size 65536 --fault 0x100000+0x300000 -o "$2"', [file, out]);
  t.is(r.code, 0, r.stderr);
  const back = await readBack(out);
  t.true(back.segment(1).every((b) => b === 0));
  t.false(back.segment(2).every((b) => b === 0));
});

test('two program headers over the same file bytes: read from a file, refused on a pipe with exit 3', async (t) => {
  const { dir, dump } = await inputFile(t);
  // Point the second PT_LOAD at the first one's bytes (an alias in the file), which one forward pass cannot serve twice.
  const bytes = Buffer.from(dump.bytes);
  const [first, second] = dump.segments;
  bytes.writeBigUInt64LE(BigInt(first.fileOffset), 64 + second.index * 56 + 8);
  const file = path.join(dir, 'alias.elf');
  await writeFile(file, bytes);
  const fromFile = await runCli([file, '-o', path.join(dir, 'a.elf'), '--mode', 'full', '--no-klog']);
  t.is(fromFile.code, 0, fromFile.stderr);
  const back = await readBack(path.join(dir, 'a.elf'));
  t.deepEqual(back.segment(second.index), bytes.subarray(first.fileOffset, first.fileOffset + second.size));
  const fromPipe = await runShell('cat "$1" | $CLI --mode full --no-klog -o "$2"', [file, path.join(dir, 'b.elf')]);
  t.is(fromPipe.code, 3);
  assertOneLineError(t, fromPipe.stderr, /program headers 1 and 2 share file bytes at offset 0x[0-9a-f]+: this layout must be read from a file or device, not a pipe/);
});

test('-o FIFO is written straight into the FIFO', async (t) => {
  const { dir, file } = await inputFile(t);
  const fifo = path.join(dir, 'fifo');
  const out = path.join(dir, 'from-fifo.elf');
  const r = await runShell('mkfifo "$2" && { cat "$2" > "$3" & } && $CLI "$1" --mode full --no-klog -o "$2" && wait', [file, fifo, out]);
  t.is(r.code, 0, r.stderr);
  const back = await readBack(out);
  t.is(back.prefix.phnum, 3);
  t.false(back.segment(1).every((b) => b === 0));
});

test('a slow reader on stdout: the dump waits for it instead of failing', async (t) => {
  const { dir, file } = await inputFile(t);
  const out = path.join(dir, 'slow.elf');
  const r = await runShell('$CLI "$1" --mode full --no-klog | { sleep 1; cat > "$2"; }; echo "${PIPESTATUS[0]}"', [file, out]);
  t.is(r.stdout.trim(), '0', r.stderr);
  const back = await readBack(out);
  t.is(back.prefix.phnum, 3);
});

test('slim from a pipe stops reading after the notes: a 100 GiB producer is cut short by SIGPIPE', async (t) => {
  const { dir, dump } = await inputFile(t);
  // The prefix of a dump whose last segment claims 100 GiB, followed by 100 GiB of zeros.
  const prefix = Buffer.from(dump.bytes.subarray(0, dump.segments[0].fileOffset));
  const last = dump.segments[dump.segments.length - 1];
  const phdrAt = 64 + last.index * 56;
  prefix.writeBigUInt64LE(100n << 30n, phdrAt + 32);
  prefix.writeBigUInt64LE(100n << 30n, phdrAt + 40);
  const prefixFile = path.join(dir, 'prefix.bin');
  await writeFile(prefixFile, prefix);
  const out = path.join(dir, 'slim.elf');
  const r = await runShell('{ cat "$1"; head -c 107374182400 /dev/zero; } | $CLI --mode slim -o "$2"; echo "${PIPESTATUS[0]} ${PIPESTATUS[1]}"', [prefixFile, out]);
  const [producer, slim] = r.stdout.trim().split(' ').map(Number);
  t.is(slim, 0, r.stderr);
  t.is(producer, 141, 'the producer died of SIGPIPE (128 + 13) instead of writing 100 GiB');
  await assertReadersAccept(t, out);
});

test('input that ends early on a pipe: exit 3, bytes missing, nothing left at the target', async (t) => {
  const { dir, file, dump } = await inputFile(t);
  const out = path.join(dir, 'out.elf');
  const r = await runShell('head -c "$3" "$1" | $CLI --mode full --no-klog -o "$2"', [file, out, String(dump.bytes.length - 5000)]);
  t.is(r.code, 3);
  assertOneLineError(t, r.stderr, /^slim-core: input ended at offset 0x[0-9a-f]+, inside program header 2: 5000 bytes missing/);
  t.deepEqual((await readdir(dir)).sort(), ['in.elf']);
});

test('wrong magic, not a core, and a truncated header: exit 3 with one line', async (t) => {
  const { file } = await inputFile(t);
  const bytes = await readFile(file);
  const notElf = await runCli(['-', '--mode', 'full'], { input: Buffer.from('hello, this is not a dump at all') });
  t.is(notElf.code, 3);
  assertOneLineError(t, notElf.stderr, /^slim-core: ELF header: wrong magic 68656c6c at offset 0/);
  const exec = Buffer.from(bytes);
  exec.writeUInt16LE(2, 16);
  const notCore = await runCli(['-'], { input: exec });
  t.is(notCore.code, 3);
  assertOneLineError(t, notCore.stderr, /e_type is 2, not ET_CORE/);
  const short = await runCli(['-'], { input: bytes.subarray(0, 30) });
  t.is(short.code, 3);
  assertOneLineError(t, short.stderr, /input ended after 30 bytes, inside the ELF64 header/);
});

test('usage errors exit 2, I/O errors exit 4', async (t) => {
  const { file } = await inputFile(t);
  const badMode = await runCli([file, '--mode', 'tiny']);
  t.is(badMode.code, 2);
  t.regex(badMode.stderr, /Invalid values|Choices/);
  const badFault = await runCli([file, '--fault', 'zzz', '-o', '/dev/null']);
  t.is(badFault.code, 2, badFault.stderr);
  const noDir = await runCli([file, '-o', '/nonexistent-dir/out.elf']);
  t.is(noDir.code, 4);
  assertOneLineError(t, noDir.stderr, /^slim-core: cannot open output \/nonexistent-dir\/out\.elf/);
  const noInput = await runCli(['/nonexistent-input.elf', '-o', '/dev/null']);
  t.is(noInput.code, 4);
  assertOneLineError(t, noInput.stderr, /cannot open input \/nonexistent-input\.elf/);
});

test('-o /dev/null writes straight to the device; a terminal on stdout is refused', async (t) => {
  const { file } = await inputFile(t);
  const r = await runCli([file, '-o', '/dev/null', '--mode', 'full']);
  t.is(r.code, 0, r.stderr);
  const tty = await runShell('script -qec "$CLI $1" /dev/null', [file]);
  t.regex(tty.stdout, /refusing to write a binary dump to a terminal/);
});

test('the output file is mode 0600 and --json prints a one-line summary', async (t) => {
  const { dir, file } = await inputFile(t, { mceRecords: [{ status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, bank: 1 }] });
  const out = path.join(dir, 'out.elf');
  const r = await runCli([file, '-o', out, '--json']);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stderr.trim());
  t.is(summary.mode, 'slim');
  t.regex(summary.cause, /unrecoverable memory error/);
  const { mode } = await import('node:fs').then((fs) => fs.statSync(out));
  t.is(mode & 0o777, 0o600);
});

test('inspect prints the decoded notes, and --json is stable', async (t) => {
  const { dir, file } = await inputFile(t, { mceRecords: [{ status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, bank: 1 }] });
  const out = path.join(dir, 'out.elf');
  t.is((await runCli([file, '-o', out, '--quiet'])).code, 0);
  const text = await runCli(['inspect', out]);
  t.is(text.code, 0, text.stderr);
  const stdout = text.stdout.toString();
  t.regex(stdout, /ELF64 little-endian x86-64 core/);
  t.regex(stdout, /Cause: unrecoverable memory error/);
  t.regex(stdout, /MCE: cpu 0 bank 1 status 0xbe00000000100134 \[VAL UC EN MISCV ADDRV PCC\].*physical/);
  const json = await runCli(['inspect', out, '--json']);
  const report = JSON.parse(json.stdout.toString());
  t.is(report.version, 1);
  t.is(report.prstatusCount, 2);
  t.is(report.vmcoreinfo.OSRELEASE, '6.1.0-synthetic');
  t.deepEqual(report.mce[0].statusBits, ['VAL', 'UC', 'EN', 'MISCV', 'ADDRV', 'PCC']);
  t.is(report.mce[0].addressMode, 'physical');
  t.is(report.omitted[0].entries[0].reason, 6);
});
