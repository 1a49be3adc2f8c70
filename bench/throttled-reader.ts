// A slow sink for benchmarks: reads stdin at a fixed rate (bytes per second, first argument) and discards it.

import { readSync } from 'node:fs';

const READ_BYTES = 64 * 1024;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

const bytesPerSecond = Number(process.argv[2]);
if (!(bytesPerSecond > 0)) {
  process.stderr.write('usage: node throttled-reader.mjs BYTES_PER_SECOND < input\n');
  process.exit(2);
}
const buffer = Buffer.allocUnsafe(READ_BYTES);
const started = process.hrtime.bigint();
let total = 0;
for (;;) {
  // Never ahead of the rate: sleep until the bytes read so far are due, then read one small block.
  const dueMs = (total / bytesPerSecond) * 1000;
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (dueMs > elapsedMs) Atomics.wait(sleeper, 0, 0, dueMs - elapsedMs);
  let got: number;
  try {
    got = readSync(0, buffer, 0, READ_BYTES, null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    Atomics.wait(sleeper, 0, 0, 1);
    continue;
  }
  if (got === 0) break;
  total += got;
}
