// The three transforms and the serializer, chained: the same output bytes for the whole input and any chunk split.

import test from 'ava';
import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import chain from 'stream-chain';
import { noteInjector } from '../transforms/note-injector.js';
import { elfHeaderRewriter } from '../transforms/elf-header-rewriter.js';
import { poisonPageSkipper } from '../transforms/poison-page-skipper.js';
import { dumpSerializer } from '../src/pipeline/serializer.js';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { dataSegments } from '../src/dump/layout.js';
import { FaultList, mapFaults, normalizeFaults } from '../src/faults/fault-map.js';
import { encodeCauseNote } from '../src/notes/slimcore-notes.js';
import { ForwardReader } from '../src/sources/forward-reader.js';
import type { DumpEvent } from '../src/stream/events.js';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { bufferRangeReader, splitPull } from './helpers/buffer-readers.js';

const DUMP = makeSyntheticVmcore({
  segments: [
    { paddr: 0x100000n, size: 0x6000 },
    { paddr: 0x300000n, size: 0x9000 },
  ],
  noteTrailer: 'terminator',
});

async function runChain(events: AsyncIterable<DumpEvent> | DumpEvent[], faults: bigint[]): Promise<Buffer> {
  const prefix = await readDumpPrefix(bufferRangeReader(DUMP.bytes));
  const segments = dataSegments(prefix);
  const faultMap = mapFaults(normalizeFaults(FaultList.of(faults.map((paddr) => ({ paddr, length: 0n, reason: 2, origin: 'test' }))), 4096), segments);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(events, { objectMode: true }),
    chain([noteInjector(encodeCauseNote('test', 'le')), elfHeaderRewriter(segments), poisonPageSkipper(faultMap.bySegment), dumpSerializer()]),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(Buffer.from(chunk));
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

async function* splitEvents(splits: number[], chunkSize: number): AsyncGenerator<DumpEvent> {
  const forward = new ForwardReader(splitPull(DUMP.bytes, splits));
  const prefix = await readDumpPrefix(forward.rangeReader());
  yield { kind: 'prefix', prefix, noteBytes: prefix.noteSegment };
  yield* forward.segments(dataSegments(prefix), chunkSize);
}

test('whole input and random chunk splits give the same bytes, with and without faults', async (t) => {
  const whole = await runChain(splitEvents([DUMP.bytes.length], 1 << 20), [0x102000n, 0x308000n]);
  const back = await readDumpPrefix(bufferRangeReader(whole));
  t.is(back.phnum, 3);
  t.is(back.notes.notes[back.notes.notes.length - 1].name, 'SLIMCORE');
  const seg = back.phdrs.toArray()[1];
  t.true(whole.subarray(Number(seg.offset) + 0x2000, Number(seg.offset) + 0x3000).every((b) => b === 0));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 0x5000 }), async (splits, chunkSize) => {
      const split = await runChain(splitEvents(splits, chunkSize), [0x102000n, 0x308000n]);
      t.true(split.equals(whole));
    }),
    { numRuns: 50 },
  );
});
