// The read-buffer pool: a chunk is reused only once every view of it has been written out.

import test from 'ava';
import { ChunkPool } from '../src/stream/chunk-pool.js';
import { poisonPageSkipper } from '../transforms/poison-page-skipper.js';
import type { DataEvent } from '../src/stream/events.js';
import { runStages } from './helpers/run-stage.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a chunk comes back only after a later chunk passed the serializer and the sink wrote up to it', async (t) => {
  const pool = new ChunkPool(16, 2);
  const a = await pool.acquire(16);
  const b = await pool.acquire(8);
  let third: Buffer | undefined;
  const waiting = pool.acquire(16).then((buf) => (third = buf));
  // Bytes of a go out at 100..116 (a view, a zero run standing for a poisoned page, a view), then b at 116.
  pool.passing(a, 100);
  pool.passing(a, 108);
  pool.passing(a, 110);
  pool.writtenUpTo(112);
  await tick();
  t.is(third, undefined, 'more of a may still be queued until a later chunk shows up');
  pool.passing(b, 116);
  await tick();
  t.is(third, undefined, 'b is known to start at 116, but only 112 bytes are written');
  pool.writtenUpTo(116);
  await tick();
  t.is(third!.buffer, a.buffer, 'the same memory is reused');
  await waiting;
});

test('a chunk whose bytes were all replaced by zeros still frees the chunks before it', async (t) => {
  const pool = new ChunkPool(8, 2);
  const a = await pool.acquire(8);
  const b = await pool.acquire(8);
  const [allZero] = await runStages<DataEvent>([poisonPageSkipper(new Map([[1, Float64Array.from([8, 16])]]))], [
    { kind: 'data', segment: 1, offset: 8, bytes: b, chunk: b },
  ]);
  t.true(allZero.bytes.every((x) => x === 0));
  t.is(allZero.chunk, b, 'the zero run stands for b');
  pool.passing(a, 0);
  let next: Buffer | undefined;
  const pending = pool.acquire(8).then((buf) => (next = buf));
  pool.passing(allZero.chunk!, 8);
  pool.writtenUpTo(8);
  await tick();
  t.is(next!.buffer, a.buffer);
  await pending;
});
