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

export async function endStream(stream: Writable): Promise<void> {
  stream.end();
  await finished(stream);
}

/** Writes that wait for 'drain'. One watch on the stream's end serves every wait: one per wait would pile up listeners. */
export function backpressuredWriter(stream: Writable): (bytes: Buffer) => Promise<void> {
  let closed: Promise<never> | undefined;
  return async (bytes) => {
    if (stream.write(bytes)) return;
    if (!closed) {
      closed = finished(stream).then(() => {
        throw new Error('the output closed');
      });
      closed.catch(() => undefined);
    }
    await Promise.race([once(stream, 'drain'), closed]);
  };
}

/** Turns positioned writes into records on a forward-only stream. */
export function flatteningOutput(stream: Writable): FinishableOutput {
  const writeWithBackpressure = backpressuredWriter(stream);
  let started = false;
  const start = async () => {
    if (started) return;
    started = true;
    await writeWithBackpressure(encodeFlatHeader());
  };
  return {
    flattened: true,
    async write(offset, bytes) {
      await start();
      for (let at = 0; at < bytes.length; at += MAX_FLAT_RECORD) {
        // A copy: the stream keeps what it is given until it is flushed, and the writer reuses its buffer at once.
        const piece = Buffer.from(bytes.subarray(at, at + MAX_FLAT_RECORD));
        stream.write(encodeRecordHeader(offset + at, piece.length));
        await writeWithBackpressure(piece);
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
