// SIGTERM, SIGINT and SIGHUP during a capture: remove the temporary output, say why the capture ended, die by the signal.

import os from 'node:os';
import { removePartialFiles } from '../sinks/dump-sink.js';
import { reportFailure } from './failure.js';

const STOPPING_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Installs the handlers until the returned function is called. `json` adds the --json error object. */
export function stopOnSignals(json: boolean): () => void {
  const handlers = STOPPING_SIGNALS.map((signal) => {
    const handler = () => {
      // Synchronous on purpose: a read may be blocked on a pipe, and nothing after the handler is sure to run.
      const removed = removePartialFiles();
      const what = removed.length > 0 ? `; removed the unfinished ${removed.join(', ')}` : '';
      const exitCode = 128 + os.constants.signals[signal];
      reportFailure({ message: `capture stopped by ${signal}${what}`, exitCode }, json, { signal });
      // Dying by the signal itself, not exit(): a read of a stuck pipe may hold a thread-pool thread, and exit() would
      // wait for it forever (libuv joins its threads at exit). The parent sees the signal; a shell says 128+N.
      for (const s of STOPPING_SIGNALS) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
