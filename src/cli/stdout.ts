// Text and bytes for stdout from the reading commands (inspect, dmesg): a reader that stops early (`| head`) ends them quietly.

import { IoError } from '../errors.js';

/** Resolves once written, or once the reader has gone (EPIPE): like dmesg(1), a closed pipe is not an error to report. */
export function writeStdout(data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdout = process.stdout;
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') resolve();
      else reject(new IoError(`stdout: write failed: ${err.message}`, { cause: err }));
    };
    // A later EPIPE (the write callback already ran) must not become an unhandled 'error' event either.
    stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve() : onError(err)));
    stdout.write(data, (err) => (err ? onError(err as NodeJS.ErrnoException) : resolve()));
  });
}
