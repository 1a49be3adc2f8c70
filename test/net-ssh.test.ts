// The ssh:// sink through a real sshd on 127.0.0.1: the same bytes as stdout, strict host keys, remote failures, no half files.

import test, { type ExecutionContext } from 'ava';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { assertSameFile } from './helpers/receiver-process.js';
import { startTestSshd, type TestSshd } from './helpers/sshd.js';

async function setup(t: ExecutionContext) {
  const sshd = await startTestSshd(t);
  const dir = await tempDir(t, 'ssh');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 3 << 20 }, { paddr: 0x4000000n, size: 1 << 20 }] });
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dump.bytes);
  // The ssh sink cannot patch, like stdout: the same dump, byte for byte.
  const expected = path.join(dir, 'expected.elf');
  const local = await runShell('$CLI "$1" --mode full --no-klog > "$2"', [input, expected]);
  t.is(local.code, 0, local.stderr);
  return { sshd, dir, dump, input, expected };
}

function sshArgs(sshd: TestSshd, knownHosts = sshd.knownHosts): string[] {
  return ['--ssh-identity', sshd.identity, '--ssh-known-hosts', knownHosts];
}

function url(sshd: TestSshd, file: string): string {
  return `ssh://${sshd.user}@127.0.0.1:${sshd.port}${file}`;
}

async function rootSshState(): Promise<string> {
  try {
    const s = await stat('/root/.ssh');
    return `${s.mtimeMs} ${(await readdir('/root/.ssh')).sort().join(',')}`;
  } catch {
    return 'absent';
  }
}

test('a full dump over ssh equals the dump written to stdout; the remote file is 0600 and renamed only at the end', async (t) => {
  const { sshd, input, expected } = await setup(t);
  const before = await rootSshState();
  const target = path.join(sshd.remoteDir, 'vmcore');
  const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', url(sshd, target), ...sshArgs(sshd)]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /written to ssh:\/\/.*vmcore/);
  await assertSameFile(t, target, expected);
  t.is((await stat(target)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(sshd.remoteDir), ['vmcore']);
  t.is(await rootSshState(), before, '/root/.ssh untouched');
});

test('an unknown host key is refused (StrictHostKeyChecking=yes, BatchMode=yes): exit 4, one line, no file', async (t) => {
  const { sshd, input } = await setup(t);
  const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', url(sshd, path.join(sshd.remoteDir, 'vmcore')), ...sshArgs(sshd, sshd.emptyKnownHosts)]);
  t.is(r.code, 4, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0], /^slim-core: ssh:\/\/.*: writing .*vmcore\.incomplete: ssh exited with status 255: Host key verification failed\.$/);
  t.deepEqual(await readdir(sshd.remoteDir), []);
});

test('a remote failure (no such directory) is exit 4 with the remote\'s reason', async (t) => {
  const { sshd, input } = await setup(t);
  const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', url(sshd, path.join(sshd.remoteDir, 'missing', 'vmcore')), ...sshArgs(sshd)]);
  t.is(r.code, 4, r.stderr);
  t.regex(r.stderr.trimEnd(), /^slim-core: ssh:\/\/.*: writing .*missing\/vmcore\.incomplete: ssh exited with status 1: .*No such file or directory$/);
});

test('a capture that fails mid-stream leaves at most PATH.incomplete remotely, never PATH', async (t) => {
  const { sshd, input, dump } = await setup(t);
  const target = path.join(sshd.remoteDir, 'vmcore');
  const r = await runShell(`head -c "$2" "$1" | $CLI - --mode full --no-klog -o "$3" ${sshArgs(sshd).join(' ')}`, [input, String(dump.bytes.length - 5000), url(sshd, target)]);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /input ended at offset/);
  t.false((await readdir(sshd.remoteDir)).includes('vmcore'));
});

test('the documented plain pipe works too, and with pipefail a failed capture is never renamed', async (t) => {
  const { sshd, input, expected, dump } = await setup(t);
  const ssh = `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${sshd.knownHosts} -i ${sshd.identity} -p ${sshd.port} ${sshd.user}@127.0.0.1`;
  // As in docs/network-protocol.md: the rename runs only if every command of the pipe succeeded.
  const pipe = (source: string) => `set -o pipefail; ${source} | $CLI - --mode full --no-klog | ${ssh} "umask 0077 && cat > $2.incomplete" && ${ssh} "mv $2.incomplete $2"`;
  const ok = await runShell(pipe('cat "$1"'), [input, path.join(sshd.remoteDir, 'piped')]);
  t.is(ok.code, 0, ok.stderr);
  // From a pipe, not a file: a seekable input is recorded differently in the notes (read errors could not be listed).
  const local = await runShell('cat "$1" | $CLI - --mode full --no-klog > "$2"', [input, expected]);
  t.is(local.code, 0, local.stderr);
  await assertSameFile(t, path.join(sshd.remoteDir, 'piped'), expected);
  const cut = await runShell(pipe(`head -c ${dump.bytes.length - 5000} "$1"`), [input, path.join(sshd.remoteDir, 'cut')]);
  t.not(cut.code, 0);
  t.false((await readdir(sshd.remoteDir)).includes('cut'));
});
