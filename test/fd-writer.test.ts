// FdWriter puts every byte on the descriptor in order, in writes of at most MAX_BYTES_PER_WRITE bytes.

import test from 'ava';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { FdWriter, MAX_BYTES_PER_WRITE } from '../src/sinks/fd-writer.js';
import { tempDir } from './helpers/tmp.js';

test.serial('large and small chunks reach a file whole and in order, no write(2) longer than the cap', async (t) => {
  const file = path.join(await tempDir(t, 'fd-writer'), 'out');
  const fd = fs.openSync(file, 'w');
  const lengths: number[] = [];
  const writev = fs.writev;
  // Every writev the writer makes, with the bytes it asked for.
  fs.writev = ((target: number, buffers: NodeJS.ArrayBufferView[], ...rest: unknown[]) => {
    lengths.push(buffers.reduce((sum, b) => sum + b.byteLength, 0));
    return (writev as (...args: unknown[]) => void)(target, buffers, ...rest);
  }) as typeof fs.writev;
  t.teardown(() => {
    fs.writev = writev;
  });
  const chunks = [3 * MAX_BYTES_PER_WRITE + 17, 5, MAX_BYTES_PER_WRITE, 0, 4 << 20, 4096].map((n) => randomBytes(n));
  const writer = new FdWriter(fd, 1 << 20);
  for (const chunk of chunks) writer.write(chunk);
  writer.end();
  await finished(writer);
  fs.closeSync(fd);
  t.deepEqual(fs.readFileSync(file), Buffer.concat(chunks));
  t.is(writer.written, Buffer.concat(chunks).length);
  t.true(lengths.length >= Math.ceil(writer.written / MAX_BYTES_PER_WRITE), `${lengths.length} writes`);
  t.true(lengths.every((n) => n <= MAX_BYTES_PER_WRITE), lengths.join(' '));
});
