// Transfers held half-way on 127.0.0.1: a receiver or a sender killed, two senders at once, SIGTERM while busy.

import test, { type ExecutionContext } from 'ava';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { runCli, runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { assertSameFile, feed, fileSize, startReceiverProcess, startSender, waitFor, type SenderProcess } from './helpers/receiver-process.js';

const HELD_AT = 6 << 20;

async function setup(t: ExecutionContext) {
  const dir = await tempDir(t, 'net-cut');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: 8 << 20 }, { paddr: 0x4000000n, size: 4 << 20 }] });
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dump.bytes);
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'token for the cut tests\n');
  const expected = path.join(dir, 'expected.elf');
  // Read from a pipe like the held senders: a seekable input gets room for read errors in its notes, a pipe does not.
  const local = await runShell('cat "$1" | $CLI - --mode full --no-klog --no-sync -o "$2"', [input, expected]);
  t.is(local.code, 0, local.stderr);
  return { dir, bytes: dump.bytes, tokenFile, dumps: path.join(dir, 'dumps'), expected };
}

/** A sender reading a pipe: it gets the first HELD_AT bytes now, and the rest only when the test says. */
async function heldSender(t: ExecutionContext, port: number, tokenFile: string, name: string, bytes: Buffer, dumps: string): Promise<SenderProcess & { release(): Promise<void> }> {
  const sender = startSender(t, ['-', '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${port}`, '--token-file', tokenFile, '--name', name]);
  await feed(sender.child.stdin, bytes.subarray(0, HELD_AT));
  const incomplete = path.join(dumps, `${name}.incomplete`);
  await waitFor(`${incomplete} to hold 1 MiB`, async () => ((await fileSize(incomplete)) ?? 0) >= 1 << 20);
  return {
    ...sender,
    async release() {
      await feed(sender.child.stdin, bytes.subarray(HELD_AT));
      sender.child.stdin.end();
    },
  };
}

test('the receiver killed mid-transfer: the sender exits 4 with one line, and no final file exists', async (t) => {
  const { bytes, tokenFile, dumps } = await setup(t);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const sender = await heldSender(t, receiver.port, tokenFile, 'victim', bytes, dumps);
  receiver.child.kill('SIGKILL');
  await receiver.exited;
  await sender.release();
  const r = await sender.exited;
  t.log(r.stderr.trimEnd());
  t.is(r.code, 4, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0], /^slim-core: tcp:\/\/127\.0\.0\.1:\d+ as victim: (the connection was reset after \d+ bytes|the receiver closed the connection after \d+ bytes)/);
  // A receiver killed outright cannot clean up: its .incomplete file may stay, never the final name.
  t.false((await readdir(dumps)).includes('victim'));
});

test('a sender killed mid-transfer: the receiver deletes its file, keeps none under the final name, and goes on serving another sender', async (t) => {
  const { bytes, tokenFile, dumps, expected } = await setup(t);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const doomed = await heldSender(t, receiver.port, tokenFile, 'doomed', bytes, dumps);
  const other = await heldSender(t, receiver.port, tokenFile, 'survivor', bytes, dumps);
  doomed.child.kill('SIGKILL');
  const line = await receiver.waitForLine(/name="doomed"/);
  t.regex(line, /bytes=\d+ seconds=[\d.]+ result=cut reason="/);
  t.false((await readdir(dumps)).some((f) => f.startsWith('doomed')));
  await other.release();
  const r = await other.exited;
  t.is(r.code, 0, r.stderr);
  t.deepEqual(await readdir(dumps), ['survivor']);
  await assertSameFile(t, path.join(dumps, 'survivor'), expected);
  const after = await runCli([path.join(path.dirname(dumps), 'in.elf'), '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'later']);
  t.is(after.code, 0, after.stderr);
});

test('two senders at once: both files exist half-written together, and both end equal to the file dump', async (t) => {
  const { bytes, tokenFile, dumps, expected } = await setup(t);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const first = await heldSender(t, receiver.port, tokenFile, 'first', bytes, dumps);
  const second = await heldSender(t, receiver.port, tokenFile, 'second', bytes, dumps);
  t.deepEqual((await readdir(dumps)).sort(), ['first.incomplete', 'second.incomplete']);
  await Promise.all([first.release(), second.release()]);
  const [a, b] = await Promise.all([first.exited, second.exited]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  t.deepEqual((await readdir(dumps)).sort(), ['first', 'second']);
  for (const name of ['first', 'second']) await assertSameFile(t, path.join(dumps, name), expected);
  t.is(receiver.lines().filter((l) => /result=ok/.test(l)).length, 2);
});

test('SIGTERM: the receiver stops taking connections, finishes the transfer in flight, then exits 0', async (t) => {
  const { dir, bytes, tokenFile, dumps, expected } = await setup(t);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const sender = await heldSender(t, receiver.port, tokenFile, 'in-flight', bytes, dumps);
  receiver.child.kill('SIGTERM');
  await receiver.waitForLine(/SIGTERM: no new connections; finishing 1 transfer/);
  const late = await runCli([path.join(dir, 'in.elf'), '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'late']);
  t.is(late.code, 4, late.stderr);
  t.regex(late.stderr, /connection refused/);
  await sender.release();
  const r = await sender.exited;
  t.is(r.code, 0, r.stderr);
  t.deepEqual((await receiver.exited).code, 0);
  t.regex(receiver.lines().at(-1)!, /stopped$/);
  t.deepEqual(await readdir(dumps), ['in-flight']);
  await assertSameFile(t, path.join(dumps, 'in-flight'), expected);
});
