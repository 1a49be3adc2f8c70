// The CLI under stress that a capture kernel can meet: signals, bad numbers, closed pipes, broken tables, devices.

import test, { type ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { CLI, runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { readBack } from './helpers/read-dump.js';
import { realFixturePath } from './helpers/fixture.js';
import { assertReadersAccept } from './helpers/elf-readers.js';

function oneLine(t: ExecutionContext, stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one line: ${stderr}`);
  t.regex(lines[0], pattern);
  t.notRegex(stderr, /\n\s+at /, 'no stack trace');
}

async function syntheticFile(t: ExecutionContext, name: string, opts: Parameters<typeof makeSyntheticVmcore>[0] = {}) {
  const dir = await tempDir(t, 'rel');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 3 << 20 }, { paddr: 0x2000000n, size: 1 << 20 }], ...opts });
  const file = path.join(dir, name);
  await writeFile(file, dump.bytes);
  return { dir, dump, file };
}

const waitFor = async (what: string, check: () => Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
};

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  test(`${signal} in the middle of a capture from a stuck pipe: killed by it (a shell's ${code}), the reason said, no .partial left`, async (t) => {
    const { dir, dump, file } = await syntheticFile(t, 'in.elf');
    const out = path.join(dir, 'out.elf');
    const child = spawn(process.execPath, [CLI, '-', '--mode', 'full', '--no-klog', '--json', '-o', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.on('error', () => undefined);
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('close', (c, s) => resolve(s ?? c)));
    // The headers and half the first segment; the rest never comes, as from a producer that is stuck.
    child.stdin.write(dump.bytes.subarray(0, dump.segments[0].fileOffset + (1 << 20)));
    const partial = async () => (await readdir(dir)).find((f) => f.endsWith('.partial'));
    await waitFor('the partial file to get data', async () => {
      const name = await partial();
      return name !== undefined && (await stat(path.join(dir, name))).size > 0;
    });
    const name = (await partial())!;
    child.kill(signal);
    // It dies by the signal it got (a shell shows 128+N, here ${code}), even with a read of the stuck pipe pending.
    t.is(await exited, signal, stderr);
    t.deepEqual(await readdir(dir), ['in.elf'], 'the partial output is gone');
    const lines = stderr.trimEnd().split('\n');
    t.regex(lines[0], new RegExp(`^slim-core: capture stopped by ${signal}; removed the unfinished .*${name.replace(/\./g, '\\.')}$`));
    t.like(JSON.parse(lines[1]), { result: 'interrupted', exitCode: code, signal });
    child.stdin.destroy();
    void file;
  });
}

test('--lookahead abc and --chunk-size 0 are usage errors (exit 2), before anything is read', async (t) => {
  const { dir, file } = await syntheticFile(t, 'in.elf');
  for (const [option, value] of [['--lookahead', 'abc'], ['--chunk-size', '0'], ['--chunk-size', '4096.5'], ['--max-read-errors', '-1']]) {
    const r = await runCli([file, '--mode', 'full', '-o', path.join(dir, 'o.elf'), option, value]);
    t.is(r.code, 2, `${option} ${value}: ${r.stderr}`);
    oneLine(t, r.stderr, new RegExp(`^slim-core: ${option} must be a whole number`));
  }
  t.deepEqual(await readdir(dir), ['in.elf']);
});

test('inspect of a dump with 70,000 segments into `head -1`: exits 0 quietly', async (t) => {
  const segments = Array.from({ length: 70000 }, (_, i) => ({ paddr: BigInt(i) * 0x1000n, size: 16 }));
  const { file } = await syntheticFile(t, 'many.elf', { extendedNumbering: true, segments });
  for (const command of ['inspect', 'inspect --json']) {
    const r = await runShell(`$CLI ${command} "$1" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`, [file]);
    t.is(r.stdout.trim(), '0', `${command}: ${r.stderr}`);
    t.is(r.stderr, '', `${command}: nothing on stderr`);
  }
});

test('dmesg - reads stdin (a pipe) and prints what dmesg FILE prints; an empty path is refused', async (t) => {
  const mce = await realFixturePath('mce');
  const fromFile = await runCli(['dmesg', mce]);
  t.is(fromFile.code, 0, fromFile.stderr);
  const fromPipe = await runShell('cat "$1" | $CLI dmesg -', [mce]);
  t.is(fromPipe.code, 0, fromPipe.stderr);
  t.is(fromPipe.stdout, fromFile.stdout.toString());
  t.regex(fromPipe.stdout, /Kernel panic - not syncing: Fatal machine check/);
  for (const args of [['dmesg', ''], ['', '-o', '-'], ['inspect', '']]) {
    const r = await runCli(args, { input: await readFile(mce).then((b) => b.subarray(0, 1 << 20)) });
    t.is(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
    oneLine(t, r.stderr, /path is empty/);
  }
});

test('--json: a failed capture prints an error object with its exit code; success says "ok"', async (t) => {
  const { dir, file } = await syntheticFile(t, 'in.elf');
  const bad = path.join(dir, 'bad.elf');
  await writeFile(bad, Buffer.from('hello, this is not an ELF file'));
  const r = await runCli([bad, '--json', '-o', path.join(dir, 'o.elf')]);
  t.is(r.code, 3);
  const lines = r.stderr.trimEnd().split('\n');
  t.regex(lines[0], /^slim-core: ELF header: wrong magic/);
  t.deepEqual(JSON.parse(lines[lines.length - 1]), { result: 'error', exitCode: 3, error: lines[0].replace(/^slim-core: /, '') });
  const ok = await runCli([file, '--json', '--mode', 'full', '--no-klog', '-o', path.join(dir, 'ok.elf')]);
  t.is(ok.code, 0, ok.stderr);
  t.like(JSON.parse(ok.stderr.trimEnd().split('\n').pop()!), { result: 'ok', exitCode: 0, mode: 'full' });
  const help = await runCli(['--help']);
  t.regex(help.stdout.toString().replace(/\s+/g, ' '), /slim: headers, notes and the kernel log's pages/);
});

test("a PT_LOAD whose p_paddr + p_memsz wraps past 2^64: exit 3 naming it, in both modes", async (t) => {
  const { file, dir } = await syntheticFile(t, 'wrap.elf', { segments: [{ paddr: 0x100000n, size: 8192 }, { paddr: 0xfffffffffffff000n, vaddr: 0n, size: 8192 }] });
  for (const mode of ['slim', 'full']) {
    const r = await runCli([file, '--mode', mode, '-o', path.join(dir, 'o.elf')]);
    t.is(r.code, 3, r.stderr);
    oneLine(t, r.stderr, /^slim-core: program header 2: p_paddr 0xfffffffffffff000 \+ p_memsz 0x2000 wraps past 2\^64$/);
  }
});

/** Runs a capture under /usr/bin/time: its exit status, its stderr, and its peak RSS in KiB. */
async function measuredCapture(file: string, out: string) {
  const r = await runShell('/usr/bin/time -f "rss=%M" $CLI "$1" --mode full --no-klog -o "$2" 2>&1; echo "exit=$?"', [file, out]);
  const lines = r.stdout.trimEnd().split('\n');
  return { code: Number(/exit=(\d+)/.exec(r.stdout)?.[1]), stderr: lines.filter((l) => !/^(rss|exit)=|exited with/.test(l)).join('\n'), rss: Number(/rss=(\d+)/.exec(r.stdout)?.[1]) };
}

// ELF64 offsets of section header 0's sh_info (after the 64-byte header) and of a program header's fields.
const SH0_INFO = 64 + 44;
const PH_OFFSET = 8;
const PH_FILESZ = 32;
const PH_MEMSZ = 40;

test('hostile program header tables: one line, exit 3, and no memory in proportion to the count they claim', async (t) => {
  const { dir, dump } = await syntheticFile(t, 'x.elf', { extendedNumbering: true });
  // 64 MiB whose bytes after the headers are a pattern, so a claimed table of up to 64 MiB exists but is not one.
  const big = Buffer.alloc(64 << 20);
  dump.bytes.copy(big);
  for (let i = dump.bytes.length; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const phoff = Number(dump.bytes.readBigUInt64LE(32));
  const load = phoff + 56; // program header 1, the first PT_LOAD
  const cases: [string, Buffer, RegExp][] = [];
  const variant = (name: string, base: Buffer, pattern: RegExp, patch: (b: Buffer) => void) => {
    const b = Buffer.from(base);
    patch(b);
    cases.push([name, b, pattern]);
  };
  variant('PN_XNUM count of 0x100000', big, /^slim-core: ELF header: 1048576 program headers exceed the limit of 131072$/, (b) => b.writeUInt32LE(0x100000, SH0_INFO));
  variant('PN_XNUM count at the limit, over garbage', big, /^slim-core: program header \d+: type 0x[0-9a-f]+ is no segment type/, (b) => b.writeUInt32LE(131072, SH0_INFO));
  variant('a table past the end of the file', dump.bytes, /^slim-core: input ends at offset 0x[0-9a-f]+, inside the 100000 program headers at offset 0x80/, (b) => b.writeUInt32LE(100000, SH0_INFO));
  variant('p_offset + p_filesz past 2^64', dump.bytes, /^slim-core: program header 1: p_offset 0xfffffffffffff000 \+ p_filesz 0x300000 wraps past 2\^64$/, (b) => b.writeBigUInt64LE(0xfffffffffffff000n, load + PH_OFFSET));
  variant('p_filesz past the end of the file', dump.bytes, /^slim-core: program header 1: p_offset 0x[0-9a-f]+ \+ p_filesz 0x10000000000 is past the end of the file/, (b) => {
    b.writeBigUInt64LE(1n << 40n, load + PH_FILESZ);
    b.writeBigUInt64LE(1n << 40n, load + PH_MEMSZ);
  });
  variant('p_filesz above p_memsz', dump.bytes, /^slim-core: program header 1: p_filesz 0x300000 is larger than p_memsz 0x1000$/, (b) => b.writeBigUInt64LE(0x1000n, load + PH_MEMSZ));
  for (const [name, bytes, pattern] of cases) {
    const file = path.join(dir, 'hostile.elf');
    await writeFile(file, bytes);
    const r = await measuredCapture(file, path.join(dir, 'o.elf'));
    t.is(r.code, 3, `${name}: ${r.stderr}`);
    oneLine(t, r.stderr, pattern);
    t.true(r.rss > 0 && r.rss < 128 * 1024, `${name}: peak RSS ${r.rss} KiB`);
    t.deepEqual(await readdir(dir), ['hostile.elf', 'x.elf'], `${name}: nothing written`);
  }
});

test('-o a block device (a real loop device): the dump is flushed to the disk before exit', async (t) => {
  const { dir, dump, file } = await syntheticFile(t, 'in.elf');
  const backing = path.join(dir, 'disk.img');
  await writeFile(backing, '');
  await truncate(backing, 16 << 20);
  let device: string;
  try {
    device = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  } catch (err) {
    t.fail(`this test needs a loop device (root, losetup, /dev/loop-control): ${(err as Error).message}`);
    return;
  }
  t.teardown(() => execFileSync('losetup', ['--detach', device]));
  // Another opener, as a capture kernel's mount or udev may be: the last close would flush, ours is not the last.
  const holder = await open(device, 'r');
  t.teardown(() => holder.close());
  const r = await runCli([file, '--mode', 'full', '--no-klog', '-o', device]);
  t.is(r.code, 0, r.stderr);
  // What the loop driver has passed on to its backing file: only what was flushed out of the device's page cache.
  const back = await readBack(backing);
  t.is(back.prefix.phnum, 3);
  const first = dump.segments[0];
  t.true(back.segment(1).equals(dump.bytes.subarray(first.fileOffset, first.fileOffset + first.size)), 'segment 1 reached the disk');
});

test('ELF32 with almost 4 GiB of data, grown past 4 GiB by our notes: exit 3 naming the segment, nothing cut to 32 bits', async (t) => {
  const { dir, dump } = await syntheticFile(t, 'small32.elf', { elfClass: 32, segments: [{ paddr: 0n, size: 4096 }, { paddr: 0x10000000n, size: 4096 }] });
  const head = Buffer.from(dump.bytes.subarray(0, dump.segments[0].fileOffset));
  const aStart = dump.segments[0].fileOffset;
  const bStart = 0xfffff000;
  // ELF32 program headers at 52, 32 bytes each: p_offset +4, p_paddr +12, p_filesz +16, p_memsz +20.
  const setLoad = (index: number, offset: number, paddr: number, size: number) => {
    const at = 52 + index * 32;
    head.writeUInt32LE(offset, at + 4);
    head.writeUInt32LE(paddr, at + 12);
    head.writeUInt32LE(size, at + 16);
    head.writeUInt32LE(size, at + 20);
  };
  setLoad(1, aStart, 0, bStart - aStart);
  setLoad(2, bStart, bStart, 0x1000);
  const file = path.join(dir, 'big32.elf');
  await writeFile(file, head);
  await truncate(file, 2 ** 32); // sparse: 4 GiB of holes
  // To /dev/null, so that a regression (a layout cut to 32 bits) costs no 4 GiB of disk. 400 separate faults: 400 OMITTED entries, about 10 KB more notes than the input had, so the data moves up.
  const faults = path.join(dir, 'faults.txt');
  await writeFile(faults, Array.from({ length: 400 }, (_, i) => `0x${(0x100000 + i * 0x2000).toString(16)}`).join('\n') + '\n');
  // Sixteen runs, four at a time: the refusal comes while the addon's reads between the faults are in flight, and
  // closing the input under them once made one run in nine hang for good (src/sources/native-reads.ts).
  for (let round = 0; round < 4; round++) {
    const runs = await Promise.all(Array.from({ length: 4 }, () => runCli([file, '--mode', 'full', '--no-klog', '--faults', faults, '-o', '/dev/null'], { timeoutMs: 60_000 })));
    for (const r of runs) {
      t.is(r.code, 3, r.stderr);
      oneLine(t, r.stderr, /^slim-core: program header [12]: in the output its data would lie at offset 0x[0-9a-f]+ to 0x1[0-9a-f]{8}, past the 4 GiB that an ELF32 p_offset can reach/);
    }
  }
});

test('a truncated file gives the slim dump that the same bytes from a pipe give (auto and slim); full is refused', async (t) => {
  const dir = await tempDir(t, 'trunc');
  const file = path.join(dir, 'trunc.elf');
  // The first 64 MiB of the real fixture: headers, notes and the kernel log, but not the rest of RAM.
  const source = await open(await realFixturePath('mce'), 'r');
  const head = Buffer.alloc(64 << 20);
  await source.read(head, 0, head.length, 0);
  await source.close();
  await writeFile(file, head);
  const fromPipe = await runShell('cat "$1" | $CLI - -q -o "$2"', [file, path.join(dir, 'pipe.elf')]);
  t.is(fromPipe.code, 0, fromPipe.stderr);
  const piped = await readBack(path.join(dir, 'pipe.elf'));
  for (const mode of ['auto', 'slim']) {
    const out = path.join(dir, `${mode}.elf`);
    const r = await runCli([file, '-q', '--mode', mode, '-o', out]);
    t.is(r.code, 0, `${mode}: ${r.stderr}`);
    const back = await readBack(out);
    t.regex(back.causes[0], /unrecoverable memory error/, mode);
    t.deepEqual(back.prefix.phdrs.toArray().map(({ offset, ...rest }) => rest).slice(1), piped.prefix.phdrs.toArray().map(({ offset, ...rest }) => rest).slice(1), `${mode}: the same table as from the pipe`);
  }
  const full = await runCli([file, '-q', '--mode', 'full', '-o', path.join(dir, 'full.elf')]);
  t.is(full.code, 3);
  oneLine(t, full.stderr, /^slim-core: program header 3: p_offset 0x34d1000 \+ p_filesz 0x14f00000 is past the end of the file \(0x4000000\)$/);
});

test('file-aliased PT_LOADs (as dump-guest-memory -p writes): written once, same output offset, one OMITTED entry per range', async (t) => {
  const { dir, dump } = await syntheticFile(t, 'plain.elf');
  // Program header 2 becomes a second mapping of the middle MiB of program header 1: same file bytes, same physical pages.
  const bytes = Buffer.from(dump.bytes);
  const [first, second] = dump.segments;
  const at = 64 + second.index * 56;
  bytes.writeBigUInt64LE(BigInt(first.fileOffset + (1 << 20)), at + 8); // p_offset
  bytes.writeBigUInt64LE(0xffffc90000000000n, at + 16); // p_vaddr: another mapping
  bytes.writeBigUInt64LE(first.paddr + BigInt(1 << 20), at + 24); // p_paddr
  const file = path.join(dir, 'alias.elf');
  await writeFile(file, bytes.subarray(0, first.fileOffset + first.size));
  const out = path.join(dir, 'out.elf');
  const fault = `0x${(first.paddr + BigInt(1 << 20) + 0x3000n).toString(16)}`;
  const r = await runCli([file, '--mode', 'full', '--no-klog', '--fault', fault, '-o', out]);
  t.is(r.code, 0, r.stderr);
  const back = await readBack(out);
  const [p1, p2] = [back.prefix.phdrs.toArray()[1], back.prefix.phdrs.toArray()[2]];
  t.is(p2.offset, p1.offset + BigInt(1 << 20), 'the alias points into the same output bytes');
  t.true(back.bytes.length < first.size + (64 << 10), `written once: ${back.bytes.length} bytes for ${first.size} of data`);
  t.deepEqual(back.segment(2), back.segment(1).subarray(1 << 20, 2 << 20));
  t.true(back.segment(2).subarray(0x3000, 0x4000).every((b) => b === 0), 'the fault page is zero in the alias too');
  t.is(back.omitted?.entries.length, 1, JSON.stringify(back.omitted?.entries, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
  t.is(back.omitted?.entries[0].paddr, first.paddr + BigInt(1 << 20) + 0x3000n);
  await assertReadersAccept(t, out);
});
