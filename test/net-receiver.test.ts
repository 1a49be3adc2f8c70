// Dumping to another host over TCP and TLS, on 127.0.0.1 with real processes: byte-for-byte equality, refusals, patches.

import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { assertSameFile, makeTestCertificates, startReceiverProcess } from './helpers/receiver-process.js';
import { encodeHello, FrameDecoder, FrameType, parseError, ErrorCode, type Frame } from '../src/net/protocol.js';
import { startReceiver } from '../src/net/receiver.js';
import { openSink } from '../src/sinks/open-sink.js';
import type { DumpSink } from '../src/sinks/dump-sink.js';
import { IoError } from '../src/errors.js';

const TOKEN = 'correct horse battery staple';

async function setup(t: ExecutionContext, segmentMiB = 3) {
  const dir = await tempDir(t, 'net');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: segmentMiB << 20 }, { paddr: 0x4000000n, size: (segmentMiB << 20) + 12345 }] });
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dump.bytes);
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const dumps = path.join(dir, 'dumps');
  const expected = path.join(dir, 'expected.elf');
  const local = await runCli([input, '--mode', 'full', '--no-klog', '--no-sync', '-o', expected]);
  t.is(local.code, 0, local.stderr);
  return { dir, input, tokenFile, dumps, expected };
}

function assertOneLine(t: ExecutionContext, stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  t.is(lines.length, 1, stderr);
  t.regex(lines[0], pattern);
  t.notRegex(stderr, /\n\s+at /);
}

test('a full dump over TCP equals the same dump written to a file, byte for byte; 0600 in a 0700 directory', async (t) => {
  const { input, tokenFile, dumps, expected } = await setup(t);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const sent = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'db7-vmcore']);
  t.is(sent.code, 0, sent.stderr);
  t.regex(sent.stderr, new RegExp(`written to tcp://127\\.0\\.0\\.1:${receiver.port} as db7-vmcore`));
  await assertSameFile(t, path.join(dumps, 'db7-vmcore'), expected);
  t.deepEqual(await readdir(dumps), ['db7-vmcore']);
  t.is((await stat(path.join(dumps, 'db7-vmcore'))).mode & 0o777, 0o600);
  t.is((await stat(dumps)).mode & 0o777, 0o700);
  const line = await receiver.waitForLine(/result=ok/);
  t.regex(line, /^slim-core receive: dump name="db7-vmcore" peer=127\.0\.0\.1:\d+ bytes=\d+ seconds=\d+\.\d{3} result=ok$/);
  t.is(Number(/bytes=(\d+)/.exec(line)![1]), (await stat(expected)).size);
});

test('without --name the dump is named after the sender\'s hostname and the UTC time', async (t) => {
  const { input, tokenFile, dumps, expected } = await setup(t, 1);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const sent = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile]);
  t.is(sent.code, 0, sent.stderr);
  const [name] = await readdir(dumps);
  t.regex(name, /^[A-Za-z0-9._-]+-\d{8}T\d{6}Z$/);
  await assertSameFile(t, path.join(dumps, name), expected);
});

test('a full dump over TLS with client certificates equals the file dump; a wrong CA, no client certificate or plain TCP fail with exit 4', async (t) => {
  const { dir, input, tokenFile, dumps, expected } = await setup(t);
  const certs = await makeTestCertificates(dir);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.ca]);
  t.regex(receiver.lines()[0], /TLS, client certificates required/);
  const url = `tls://127.0.0.1:${receiver.port}`;
  const base = [input, '--mode', 'full', '--no-klog', '--token-file', tokenFile];
  const sent = await runCli([...base, '-o', url, '--name', 'over-tls', '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey]);
  t.is(sent.code, 0, sent.stderr);
  await assertSameFile(t, path.join(dumps, 'over-tls'), expected);

  const untrusted = await runCli([...base, '-o', url, '--name', 'a', '--tls-ca', certs.otherCa, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey]);
  t.is(untrusted.code, 4, untrusted.stderr);
  assertOneLine(t, untrusted.stderr, /^slim-core: cannot connect to tls:\/\/127\.0\.0\.1:\d+: TLS handshake failed: .*certificate/);
  const noClientCert = await runCli([...base, '-o', url, '--name', 'b', '--tls-ca', certs.ca]);
  t.is(noClientCert.code, 4, noClientCert.stderr);
  assertOneLine(t, noClientCert.stderr, /^slim-core: (cannot connect to )?tls:\/\/127\.0\.0\.1:\d+.*: .*(certificate|reset|closed)/);
  const plain = await runCli([...base, '-o', `tcp://127.0.0.1:${receiver.port}`, '--name', 'c']);
  t.is(plain.code, 4, plain.stderr);
  assertOneLine(t, plain.stderr, /^slim-core: tcp:\/\/127\.0\.0\.1:\d+ as c: /);
  t.deepEqual(await readdir(dumps), ['over-tls']);
});

test('a bad or missing token is refused before a byte is written: exit 4, one line, an empty directory', async (t) => {
  const { dir, input, tokenFile, dumps } = await setup(t, 1);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const wrongToken = path.join(dir, 'wrong');
  await writeFile(wrongToken, 'correct horse battery stapler\n');
  for (const tokenArgs of [['--token-file', wrongToken], []]) {
    const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--name', 'x', ...tokenArgs]);
    t.is(r.code, 4, r.stderr);
    assertOneLine(t, r.stderr, /^slim-core: tcp:\/\/127\.0\.0\.1:\d+ as x: the receiver refused the dump: the token does not match .*\(BAD_TOKEN\)$/);
  }
  t.deepEqual(await readdir(dumps), []);
  const refusals = receiver.lines().filter((l) => /result=refused/.test(l));
  t.is(refusals.length, 2);
  for (const line of refusals) t.regex(line, /bytes=0 .*reason="the token does not match/);
});

function rawExchange(port: number, bytes: Buffer): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      const [frame] = decoder.push(chunk);
      if (frame) {
        socket.destroy();
        resolve(frame);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed without a frame')));
  });
}

test('path-traversal names: refused by the receiver (raw protocol) and by the sender (exit 2); nothing written anywhere', async (t) => {
  const { dir, input, tokenFile, dumps } = await setup(t, 1);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  for (const name of ['../escaped', 'sub/dir', '..', '/etc/cron.d/x', '.hidden', 'x.incomplete']) {
    const reply = await rawExchange(receiver.port, encodeHello({ token: Buffer.from(TOKEN), name, hostname: 'test' }));
    t.is(reply.type, FrameType.ERROR, name);
    t.is(parseError(reply.payload).code, ErrorCode.BAD_NAME, name);
    const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', name]);
    t.is(r.code, 2, r.stderr);
    assertOneLine(t, r.stderr, /^slim-core: --name .*: the name /);
  }
  t.deepEqual(await readdir(dumps), []);
  t.deepEqual((await readdir(dir)).sort(), ['dumps', 'expected.elf', 'in.elf', 'token']);
});

test('a dump over --max-size is refused mid-stream: exit 4, nothing kept', async (t) => {
  const { input, tokenFile, dumps } = await setup(t, 3);
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile, '--max-size', '2M']);
  const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${receiver.port}`, '--token-file', tokenFile, '--name', 'big']);
  t.is(r.code, 4, r.stderr);
  assertOneLine(t, r.stderr, /as big: the receiver refused the dump: the dump is over the receiver's --max-size of 2097152 bytes \(TOO_LARGE\)$/);
  const line = await receiver.waitForLine(/name="big"/);
  t.regex(line, /result=failed reason="the dump is over/);
  t.deepEqual(await readdir(dumps), []);
});

test('connection refused: exit 4 with a clear line', async (t) => {
  const { input, tokenFile } = await setup(t, 1);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const r = await runCli([input, '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${port}`, '--token-file', tokenFile]);
  t.is(r.code, 4, r.stderr);
  assertOneLine(t, r.stderr, new RegExp(`^slim-core: cannot connect to tcp://127\\.0\\.0\\.1:${port}: connection refused`));
});

test('receive wants a token file unless --insecure is given explicitly', async (t) => {
  const dir = await tempDir(t, 'net');
  const r = await runCli(['receive', '--listen', '127.0.0.1:0', '--dir', path.join(dir, 'd')]);
  t.is(r.code, 2, r.stderr);
  assertOneLine(t, r.stderr, /needs --token-file FILE \(or --insecure/);
  const receiver = await startReceiverProcess(t, path.join(dir, 'd'), ['--insecure']);
  t.regex(receiver.lines()[0], /no token: --insecure/);
});

async function writeThrough(sink: DumpSink, pieces: Buffer[], patches: [number, Buffer][]): Promise<void> {
  for (const piece of pieces) if (!sink.stream.write(piece)) await new Promise((resolve) => sink.stream.once('drain', resolve));
  sink.stream.end();
  await finished(sink.stream);
  for (const [offset, bytes] of patches) await sink.patch(offset, bytes);
  await sink.commit();
}

test('patches (read-error lists) sent after the data land in the receiver\'s file exactly as in a file sink', async (t) => {
  const dir = await tempDir(t, 'net');
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, TOKEN);
  const lines: string[] = [];
  const receiver = await startReceiver({ host: '127.0.0.1', port: 0, dir: path.join(dir, 'dumps'), token: Buffer.from(TOKEN), log: (l) => lines.push(l) });
  t.teardown(() => receiver.abort());
  // A piece over the 1 MiB frame limit, and a patch over it too: both are split into several frames.
  const pieces = [randomBytes(4096), randomBytes(2_500_000), randomBytes(1), randomBytes(700_000)];
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const patches: [number, Buffer][] = [[100, Buffer.from('OMITTED entries')], [4000, randomBytes(1_200_000)], [total - 3, Buffer.from('end')], [100, Buffer.from('again')]];
  const fileSink = await openSink({ output: path.join(dir, 'file.elf'), sync: false });
  const netSink = await openSink({ output: `tcp://127.0.0.1:${receiver.port}`, name: 'patched', tokenFile });
  t.true(netSink.canPatch);
  await writeThrough(fileSink, pieces, patches);
  await writeThrough(netSink, pieces, patches);
  await assertSameFile(t, path.join(dir, 'dumps', 'patched'), path.join(dir, 'file.elf'));
  t.regex(lines.at(-1)!, new RegExp(`name="patched" .*bytes=${total} .*result=ok`));

  const outside = await openSink({ output: `tcp://127.0.0.1:${receiver.port}`, name: 'bad-patch', tokenFile });
  await t.throwsAsync(writeThrough(outside, [Buffer.alloc(10)], [[8, Buffer.alloc(4)]]), { instanceOf: IoError, message: /as bad-patch: the receiver refused the dump: a patch of 4 bytes at offset 8 runs past the 10 bytes received/ });

  const cut = await openSink({ output: `tcp://127.0.0.1:${receiver.port}`, name: 'cut', tokenFile });
  cut.stream.write(Buffer.alloc(1 << 20));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await cut.abort();
  await receiver.stop();
  t.regex(lines.find((l) => l.includes('name="cut"'))!, /result=cut/);
  t.deepEqual((await readdir(path.join(dir, 'dumps'))).sort(), ['patched']);
});
