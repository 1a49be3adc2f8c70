// Text and bytes for stdout from the reading commands (inspect, dmesg): a reader that stops early (`| head`) ends them quietly.

import { IoError } from '../errors.js';

/** Resolves once written, or once the reader has gone (EPIPE): like dmesg(1), a closed pipe is not an error to report. */
export function writeStdout(data: string | Buffer | Iterable<string>): Promise<void> {
  if (typeof data !== 'string' && !Buffer.isBuffer(data)) return writePieces(data);
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

/** Pieces one after another, each once the one before is written: the whole text is never in memory. */
async function writePieces(pieces: Iterable<string>): Promise<void> {
  const stdout = process.stdout;
  let gone = false;
  let failed: Error | undefined;
  // One listener for all the pieces; a reader that has gone ends the writing quietly.
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') gone = true;
    else failed ??= new IoError(`stdout: write failed: ${err.message}`, { cause: err });
  };
  stdout.on('error', onError);
  for (const piece of pieces) {
    if (gone || failed) break;
    await new Promise<void>((resolve) => stdout.write(piece, (err) => {
      if (err) onError(err as NodeJS.ErrnoException);
      resolve();
    }));
  }
  if (failed) throw failed;
}
