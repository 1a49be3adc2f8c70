// Test helper: `slim-core receive` and senders as child processes on 127.0.0.1, test certificates, and polling.

import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { killAfter } from './bounded-child.js';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { CLI, type RunResult } from './cli.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 15_000;

export interface ReceiverProcess {
  port: number;
  dir: string;
  child: ChildProcessWithoutNullStreams;
  /** Lines the receiver logged so far. */
  lines(): string[];
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `slim-core receive --listen 127.0.0.1:0 --dir DIR ...args` (`--to DIR` for an s3:// one) and waits for the port it prints. */
export async function startReceiverProcess(t: ExecutionContext, dir: string, args: readonly string[]): Promise<ReceiverProcess> {
  const store = /^s3:\/\//.test(dir) ? ['--to', dir] : ['--dir', dir];
  const child = spawn(process.execPath, [CLI, 'receive', '--listen', '127.0.0.1:0', ...store, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    text += chunk;
    for (const listener of listeners) listener();
  });
  child.stdout.resume();
  killAfter(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = () => text.split('\n').filter(Boolean);
  const waitForLine = (pattern: RegExp, timeoutMs = START_TIMEOUT_MS) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = lines().find((l) => pattern.test(l));
        if (line === undefined) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`receiver printed no line matching ${pattern} within ${timeoutMs} ms; it printed:\n${text}`));
      }, timeoutMs);
      const onExit = () => {
        check();
        cleanup();
        reject(new Error(`receiver exited before printing ${pattern}; it printed:\n${text}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('close', onExit);
      };
      listeners.add(check);
      child.once('close', onExit);
      check();
    });
  const listening = await waitForLine(/listening on 127\.0\.0\.1:\d+/);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(listening)![1]);
  return { port, dir, child, lines, waitForLine, exited };
}

export interface SenderProcess {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<RunResult>;
}

/** Runs the CLI with a stdin the test writes to (see feed()), for transfers the test can hold half-way. */
export function startSender(t: ExecutionContext, args: readonly string[], env: NodeJS.ProcessEnv = {}): SenderProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  killAfter(child);
  const exited = new Promise<RunResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() })),
  );
  return { child, exited };
}

/** Writes bytes into a child's stdin, resolving once the pipe took them (or the child went away). */
export function feed(stdin: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (stdin.write(bytes)) return resolve();
    const done = () => {
      stdin.off('drain', done);
      stdin.off('close', done);
      resolve();
    };
    stdin.on('drain', done);
    stdin.on('close', done);
  });
}

export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** Byte-for-byte equality, reported as sizes and SHA-256 rather than a dump of megabytes. */
export async function assertSameFile(t: ExecutionContext, actual: string, expected: string): Promise<void> {
  const digest = async (file: string) => {
    const bytes = await readFile(file);
    return `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
  };
  t.is(await digest(actual), await digest(expected), `${actual} should equal ${expected}`);
}

export interface TestCertificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCa: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the TLS tests need the openssl command (Debian package openssl); it is not installed');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/** A test CA, a server certificate for IP 127.0.0.1 and a client certificate, made with the openssl command. */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  const selfSigned = async (name: string, subject: string) => {
    await key(name);
    await openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', subject, '-days', '2', '-out', `${name}.crt`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  };
  const signed = async (name: string, subject: string, extensions: string) => {
    await key(name);
    await writeFile(path.join(dir, `${name}.ext`), extensions);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
  };
  await selfSigned('ca', '/CN=slim-core test CA');
  await selfSigned('other-ca', '/CN=some other CA');
  await signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await signed('client', '/CN=slim-core test sender', 'extendedKeyUsage=clientAuth\n');
  const at = (file: string) => path.join(dir, file);
  return { ca: at('ca.crt'), serverCert: at('server.crt'), serverKey: at('server.key'), clientCert: at('client.crt'), clientKey: at('client.key'), otherCa: at('other-ca.crt') };
}
