// FdWriter puts every byte on the descriptor in order, in writes of at most MAX_BYTES_PER_WRITE bytes, to a file and to a pipe.

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { finished } from 'node:stream/promises';
import { FdWriter, MAX_BYTES_PER_WRITE } from '../src/sinks/fd-writer.js';
import { tempDir } from './helpers/tmp.js';

const someChunks = (): Buffer[] =>
  [3 * MAX_BYTES_PER_WRITE + 17, 5, MAX_BYTES_PER_WRITE, 0, 4 << 20, 4096].map((n) => randomBytes(n));

/** Records the bytes of every call to fs[name] until the test ends. */
function countWrites(t: ExecutionContext, name: 'writev' | 'writevSync'): number[] {
  const lengths: number[] = [];
  const original = fs[name] as (...args: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = (target: number, buffers: NodeJS.ArrayBufferView[], ...rest: unknown[]) => {
    lengths.push(buffers.reduce((sum, b) => sum + b.byteLength, 0));
    return original(target, buffers, ...rest);
  };
  t.teardown(() => {
    (fs as unknown as Record<string, unknown>)[name] = original;
  });
  return lengths;
}

/** Writes `chunks` through `writer` and waits until they are out; then closes `fd`. */
async function writeThrough(writer: FdWriter, fd: number, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) writer.write(chunk);
  writer.end();
  await finished(writer);
  fs.closeSync(fd);
}

/** Every byte went out in writes of at most MAX_BYTES_PER_WRITE. */
function assertCappedWrites(t: ExecutionContext, lengths: number[], written: number): void {
  t.true(lengths.length >= Math.ceil(written / MAX_BYTES_PER_WRITE), `${lengths.length} writes`);
  t.true(lengths.every((n) => n <= MAX_BYTES_PER_WRITE), lengths.join(' '));
}

test.serial('large and small chunks reach a file whole and in order, written on the main thread, no write(2) longer than the cap', async (t) => {
  const file = path.join(await tempDir(t, 'fd-writer'), 'out');
  const fd = fs.openSync(file, 'w');
  const lengths = countWrites(t, 'writevSync');
  const pooled = countWrites(t, 'writev');
  const chunks = someChunks();
  const writer = new FdWriter(fd, 1 << 20);
  t.true(writer.writesOnMainThread);
  await writeThrough(writer, fd, chunks);
  t.deepEqual(fs.readFileSync(file), Buffer.concat(chunks));
  t.is(writer.written, Buffer.concat(chunks).length);
  t.is(pooled.length, 0);
  assertCappedWrites(t, lengths, writer.written);
});

test.serial('a pipe to another process is written through the thread pool, whole and in order', async (t) => {
  const dir = await tempDir(t, 'fd-writer');
  const fifo = path.join(dir, 'fifo');
  const file = path.join(dir, 'out');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  // A reader that takes its time, so that the pipe fills and the writer must wait for it.
  const child = spawn('sh', ['-c', `sleep 0.2; exec cat '${fifo}' > '${file}'`], { stdio: 'inherit' });
  const exited = once(child, 'exit');
  // Opened in the thread pool: a FIFO's open waits for its reader, and the test's timeout must still be able to run.
  const fd = await promisify(fs.open)(fifo, 'w');
  const lengths = countWrites(t, 'writev');
  const chunks = someChunks();
  const writer = new FdWriter(fd, 1 << 20);
  t.false(writer.writesOnMainThread);
  await writeThrough(writer, fd, chunks);
  const [code] = await exited;
  t.is(code, 0);
  t.deepEqual(fs.readFileSync(file), Buffer.concat(chunks));
  t.is(writer.written, Buffer.concat(chunks).length);
  assertCappedWrites(t, lengths, writer.written);
});

test.serial('/dev/null is written on the main thread; /dev/full fails the stream with ENOSPC', async (t) => {
  const lengths = countWrites(t, 'writevSync');
  const nullFd = fs.openSync('/dev/null', 'w');
  const sink = new FdWriter(nullFd, 1 << 20);
  t.true(sink.writesOnMainThread);
  const chunks = someChunks();
  await writeThrough(sink, nullFd, chunks);
  t.is(sink.written, Buffer.concat(chunks).length);
  t.is(lengths.reduce((a, b) => a + b, 0), sink.written);

  const fullFd = fs.openSync('/dev/full', 'w');
  const full = new FdWriter(fullFd, 1 << 20);
  t.true(full.writesOnMainThread);
  full.end(randomBytes(4096));
  const err = await t.throwsAsync(finished(full));
  fs.closeSync(fullFd);
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.is(full.written, 0);
});
