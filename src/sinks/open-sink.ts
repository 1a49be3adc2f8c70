// Chooses the sink for an -o value: stdout, a file, a device or FIFO.

import { openFileSink, openStdoutSink, type DumpSink, type SinkOptions } from './dump-sink.js';

export interface OutputSpec {
  /** What -o said: undefined or "-" for stdout. */
  output?: string;
  sync?: boolean;
}

export async function openSink(spec: OutputSpec): Promise<DumpSink> {
  const options: SinkOptions = { sync: spec.sync };
  return spec.output === undefined || spec.output === '-' ? openStdoutSink() : openFileSink(spec.output, options);
}
