// Baseline: the plainest Node copy, readSync then writeSync with one 1 MiB buffer; run as `node node-copy-loop.mjs IN|- OUT|-`.

import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const BUFFER_BYTES = 1 << 20;

// Pipes may come non-blocking; wait a moment rather than spin or fail.
function retryOnAgain<T>(op: () => T): T {
  for (;;) {
    try {
      return op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

const [inputArg, outputArg] = process.argv.slice(2);
if (!inputArg || !outputArg) {
  process.stderr.write('usage: node node-copy-loop.mjs IN|- OUT|-\n');
  process.exit(2);
}
const input = inputArg === '-' ? 0 : openSync(inputArg, 'r');
const output = outputArg === '-' ? 1 : openSync(outputArg, 'w');
const buffer = Buffer.allocUnsafe(BUFFER_BYTES);
for (;;) {
  const got = retryOnAgain(() => readSync(input, buffer, 0, BUFFER_BYTES, null));
  if (got === 0) break;
  for (let sent = 0; sent < got; ) sent += retryOnAgain(() => writeSync(output, buffer, sent, got - sent));
}
if (output !== 1) closeSync(output);
