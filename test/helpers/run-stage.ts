// Test helper: runs stream-chain stages over a list of events and collects what comes out.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';

export async function runStages<T>(stages: unknown[], input: readonly unknown[]): Promise<T[]> {
  const out: T[] = [];
  await pipeline(
    Readable.from(input, { objectMode: true }),
    chain(stages as never),
    new Writable({
      objectMode: true,
      write(chunk: T, _enc, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return out;
}
