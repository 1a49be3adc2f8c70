// Positioned writes onto a sink: pwrite on a seekable file, positioned frames to the receiver, else makedumpfile's flattened records on the stream.

import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { encodeEndMarker, encodeFlatHeader, encodeRecordHeader, MAX_FLAT_RECORD } from '../flat/records.js';
import type { PositionedOutput } from '../kdump/writer.js';
import type { DumpSink } from './dump-sink.js';

export interface FinishableOutput extends PositionedOutput {
  /** True when the stream carries flattened records (stdout, ssh): what `makedumpfile -R` turns into the plain file. */
  flattened: boolean;
  /** Every write is out: the end marker of a flattened stream, the end of the sink's stream. */
  finish(): Promise<void>;
}

async function endStream(stream: Writable): Promise<void> {
  stream.end();
  await finished(stream);
}

async function writeWithBackpressure(stream: Writable, bytes: Buffer): Promise<void> {
  if (!stream.write(bytes)) await Promise.race([once(stream, 'drain'), finished(stream).then(() => { throw new Error('the output closed'); })]);
}

/** Turns positioned writes into records on a forward-only stream. */
export function flatteningOutput(stream: Writable): FinishableOutput {
  let started = false;
  const start = async () => {
    if (started) return;
    started = true;
    await writeWithBackpressure(stream, encodeFlatHeader());
  };
  return {
    flattened: true,
    async write(offset, bytes) {
      await start();
      for (let at = 0; at < bytes.length; at += MAX_FLAT_RECORD) {
        // A copy: the stream keeps what it is given until it is flushed, and the writer reuses its buffer at once.
        const piece = Buffer.from(bytes.subarray(at, at + MAX_FLAT_RECORD));
        stream.write(encodeRecordHeader(offset + at, piece.length));
        await writeWithBackpressure(stream, piece);
      }
    },
    async finish() {
      await start();
      stream.write(encodeEndMarker());
      await endStream(stream);
    },
  };
}

export function positionedOutput(sink: DumpSink): FinishableOutput {
  const writeAt = sink.writeAt?.bind(sink);
  if (!writeAt) return flatteningOutput(sink.stream);
  return {
    flattened: false,
    write: writeAt,
    finish: () => endStream(sink.stream),
  };
}
