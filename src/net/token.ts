// The shared token of a sender and a receiver: read from a file with a size cap, and compared in constant time.

import { open } from 'node:fs/promises';
import { createHash, timingSafeEqual } from 'node:crypto';
import { IoError, UsageError } from '../errors.js';
import { MAX_TOKEN_BYTES } from './protocol.js';

/** The file's contents less a trailing newline (as `echo` or an editor leaves it). */
export async function readTokenFile(file: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    // Reads one byte past the cap (plus a CRLF) so that an oversized file is refused without being read whole.
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_TOKEN_BYTES + 3);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      bytes = buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new IoError(`cannot read --token-file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const token = bytes.subarray(0, bytes.length - (/\r?\n$/.exec(bytes.toString('latin1'))?.[0].length ?? 0));
  if (token.length === 0) throw new UsageError(`--token-file ${file} is empty`);
  if (token.length > MAX_TOKEN_BYTES) throw new UsageError(`--token-file ${file} holds ${token.length} bytes; a token is at most ${MAX_TOKEN_BYTES}`);
  return token;
}

/** Hashing first makes the comparison take the same time whatever the lengths. */
export function tokensMatch(expected: Buffer, given: Buffer): boolean {
  const digest = (b: Buffer) => createHash('sha256').update(b).digest();
  return timingSafeEqual(digest(expected), digest(given));
}
