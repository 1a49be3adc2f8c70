// A pipe is read through the event loop: every byte in order at any read size, exit is never held by an idle producer.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { repoRoot } from './helpers/fixture.js';
import { runBounded, spawnBounded } from './helpers/bounded-child.js';
import { tempDir } from './helpers/tmp.js';

const BYTE_SOURCE = path.join(repoRoot, 'src/sources/byte-source.ts');

/** A child that reads its stdin with openSource/readFully in reads of the given sizes and prints the sha256. */
const READER = `
import { createHash } from 'node:crypto';
import { openSource, readFully } from ${JSON.stringify(BYTE_SOURCE)};
const sizes = JSON.parse(process.env.SIZES);
const source = await openSource('-');
const hash = createHash('sha256');
const buf = Buffer.alloc(Math.max(...sizes) + 7);
let total = 0;
for (let i = 0; ; i++) {
  const n = await readFully(source, buf, 7, sizes[i % sizes.length], null);
  hash.update(buf.subarray(7, 7 + n));
  total += n;
  if (n < sizes[i % sizes.length]) break;
}
await source.close();
console.log(source.pipe ? 'pipe' : 'fs.read', total, hash.digest('hex'));
`;

test('a pipe from another process: the same bytes in order at any read sizes, through the event loop', async (t) => {
  const dir = await tempDir(t, 'pipe-reader');
  const input = path.join(dir, 'input');
  const bytes = randomBytes(3 * (1 << 20) + 12345);
  writeFileSync(input, bytes);
  const expected = (await runBounded('sha256sum', [input])).stdout.split(' ')[0];
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 600_000 }), { minLength: 1, maxLength: 5 }), async (sizes) => {
      const { stdout } = await runBounded('bash', ['-c', `cat "$1" | SIZES='${JSON.stringify(sizes)}' node --import=tsx --input-type=module -e "$2"`, 'bash', input, READER]);
      t.is(stdout.trim(), `pipe ${bytes.length} ${expected}`, `read sizes ${sizes.join(' ')}`);
    }),
    { numRuns: 8 },
  );
});

/** Runs `script` in bash in its own group until `marker` shows on stdout; returns the seconds it took, then kills the group. */
async function secondsUntil(script: string, args: string[], marker: string): Promise<number> {
  const started = Date.now();
  const { child, done } = spawnBounded('bash', ['-c', script, 'bash', ...args], { timeoutMs: 30_000 });
  child.stdin.end();
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes(marker)) resolve();
    });
    void done.then(() => resolve());
  });
  const seconds = (Date.now() - started) / 1000;
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Gone already.
  }
  await done;
  if (!out.includes(marker)) throw new Error(`never printed ${marker}: ${out}`);
  return seconds;
}

test('a read waiting on an idle producer does not hold exit: the process ends at once with its code', async (t) => {
  const script = `
import { openSource, readFully } from ${JSON.stringify(BYTE_SOURCE)};
const source = await openSource('-');
readFully(source, Buffer.alloc(1 << 20), 0, 1 << 20, null);
setTimeout(() => process.exit(3), 200);
`;
  // The producer writes nothing for 60 s and keeps its end open: a read(2) in the thread pool held exit that long.
  const seconds = await secondsUntil('node --import=tsx --input-type=module -e "$1" < <(sleep 60); echo "exit=$?"', [script], 'exit=3');
  t.true(seconds < 20, `exited after ${seconds} s`);
});

test('closing the source gives a producer that is still writing EPIPE at once', async (t) => {
  const script = `
import { openSource, readFully } from ${JSON.stringify(BYTE_SOURCE)};
const source = await openSource('-');
await readFully(source, Buffer.alloc(4096), 0, 4096, null);
await source.close();
setTimeout(() => {}, 25_000);
`;
  // The reader lives on for 25 s after closing: the producer's end must come from the close, not from the exit.
  const seconds = await secondsUntil('exec 3>&1; { head -c 100000000000 /dev/zero; echo producer-ended >&3; } | node --import=tsx --input-type=module -e "$1" >&2', [script], 'producer-ended');
  t.true(seconds < 20, `the producer ended after ${seconds} s`);
});
