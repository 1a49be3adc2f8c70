// zlib for kdump pages: each page a whole zlib stream (what crash's uncompress() reads), on one deflate handle reused page after page.

import { constants, createDeflate, deflateSync, type Deflate } from 'node:zlib';
import type { PageCodec } from './compress.js';

/** The native handle under a zlib stream: `deflateSync` builds one per call, which costs more than deflating 4 KiB. */
interface DeflateHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

interface StreamInternals {
  _handle?: Partial<DeflateHandle>;
  _writeState?: unknown;
}

// makedumpfile: compress2(..., Z_BEST_SPEED), zlib's default window and memory level.
const OPTIONS = { level: constants.Z_BEST_SPEED };

function byDeflateSync(page: Buffer, out: Buffer, at: number): number {
  const packed = deflateSync(page, OPTIONS);
  if (packed.length >= page.length) return 0;
  out.set(packed, at);
  return packed.length;
}

/**
 * After deflateReset() the next page starts a new stream with the same parameters, so the bytes are deflateSync's
 * (the tests compare them). Node's stream internals are not public: without them, deflateSync per page.
 */
export function zlibPageCodec(): PageCodec {
  const stream: Deflate = createDeflate(OPTIONS);
  const internals = stream as unknown as StreamInternals;
  const handle = internals._handle;
  const state = internals._writeState;
  if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array)) return byDeflateSync;
  const deflate = handle as DeflateHandle;
  let failure: string | undefined;
  deflate.onerror = (message) => void (failure = message);
  // The handle lives as long as its stream: the codec holds both.
  const owner = { stream, deflate };
  return (page, out, at) => {
    // Room for exactly one page: a stream that ends with room to spare is strictly smaller than the page.
    owner.deflate.writeSync(constants.Z_FINISH, page, 0, page.length, out, at, page.length);
    const [outLeft, inLeft] = state;
    deflate.reset();
    if (failure !== undefined) throw new Error(`zlib: ${failure}`);
    if (outLeft === 0) return 0;
    if (inLeft !== 0) throw new Error(`zlib: the stream ended with ${inLeft} bytes of the page unread`);
    return page.length - outLeft;
  };
}
