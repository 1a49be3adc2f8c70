// The kdump format on every sink: flattened on stdout and ssh:// (makedumpfile -R gives back the plain file), positioned writes to the receiver.

import test from 'ava';
import path from 'node:path';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { realFixturePath } from './helpers/fixture.js';
import { fixtureVmlinux } from './helpers/vmlinux.js';
import { runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { assertSameFile, startReceiverProcess } from './helpers/receiver-process.js';
import { startTestSshd } from './helpers/sshd.js';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { crashSays } from './helpers/kdump-readers.js';
import { FLAT_HEADER_SIZE } from '../src/flat/records.js';

const KDUMP = ['--mode', 'full', '--format', 'kdump', '--no-sync', '-q'];
/** A file keeps room in its notes for pages that fail to read; a stream cannot. With none allowed, the notes are the same on every sink. */
const SAME_NOTES = ['--max-read-errors', '0'];

async function plainDump(t: Parameters<typeof tempDir>[0], input: string, extra: string[] = []) {
  const dir = await tempDir(t, 'kdump-flat');
  const plain = path.join(dir, 'plain.kdump');
  const r = await runCli([input, ...KDUMP, ...extra, '-o', plain]);
  t.is(r.code, 0, r.stderr);
  return { dir, plain };
}

test('stdout gets the flattened format: makedumpfile -R turns it into the -o FILE dump byte for byte; crash opens it as it is', async (t) => {
  const [input, vmlinux] = await Promise.all([realFixturePath('mce'), fixtureVmlinux()]);
  const { dir, plain } = await plainDump(t, input, SAME_NOTES);
  const flat = path.join(dir, 'dump.flat');
  const r = await runShell('$CLI "$1" --mode full --format kdump --max-read-errors 0 -q > "$2"', [input, flat]);
  t.is(r.code, 0, r.stderr);
  const head = (await readFile(flat)).subarray(0, FLAT_HEADER_SIZE + 16);
  t.is(head.toString('latin1', 0, 12), 'makedumpfile');
  const rearranged = path.join(dir, 'rearranged.kdump');
  await runShell('makedumpfile -R "$1" < "$2"', [rearranged, flat]);
  await assertSameFile(t, rearranged, plain);
  // libkdumpfile 0.5.1 (Debian's) reads no flattened file; crash does.
  const fromFlat = await crashSays(vmlinux, flat, ['sys']);
  t.regex(fromFlat, /PANIC: "Kernel panic - not syncing: Fatal machine check"/);
});

test('tcp://: the receiver writes the plain file itself, equal to the -o FILE dump; its log counts the file\'s bytes', async (t) => {
  const input = await realFixturePath('mce');
  const { dir, plain } = await plainDump(t, input);
  const dumps = path.join(dir, 'dumps');
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'kdump-token\n');
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const sent = await runCli([input, ...KDUMP, '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'db7-kdump']);
  t.is(sent.code, 0, sent.stderr);
  await assertSameFile(t, path.join(dumps, 'db7-kdump'), plain);
  t.deepEqual(await readdir(dumps), ['db7-kdump']);
  const line = await receiver.waitForLine(/result=ok/);
  t.is(Number(/bytes=(\d+)/.exec(line)![1]), (await readFile(plain)).length);
  // The same receiver still takes ELF dumps as before.
  const elf = await runCli([input, '--mode', 'slim', '--no-sync', '-q', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'db7-elf']);
  t.is(elf.code, 0, elf.stderr);
  t.is((await readFile(path.join(dumps, 'db7-elf'))).toString('latin1', 1, 4), 'ELF');
});

test('ssh://: the far end gets the flattened stream, which makedumpfile -R turns into the -o FILE dump', async (t) => {
  const sshd = await startTestSshd(t);
  const dir = await tempDir(t, 'kdump-ssh');
  const input = path.join(dir, 'in.elf');
  await writeFile(input, makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 3 << 20 }, { paddr: 0x4000000n, size: 1 << 20 }] }).bytes);
  const { plain } = await plainDump(t, input, ['--no-klog', ...SAME_NOTES]);
  const remote = path.join(sshd.remoteDir, 'dump.flat');
  const sent = await runCli([input, ...KDUMP, '--no-klog', ...SAME_NOTES, '-o', `ssh://${sshd.user}@127.0.0.1:${sshd.port}${remote}`, '--ssh-identity', sshd.identity, '--ssh-known-hosts', sshd.knownHosts]);
  t.is(sent.code, 0, sent.stderr);
  const rearranged = path.join(dir, 'rearranged.kdump');
  await runShell('makedumpfile -R "$1" < "$2"', [rearranged, remote]);
  await assertSameFile(t, rearranged, plain);
});
