// makedumpfile's flattened format: a 4096-byte header, then {be64 offset, be64 size, data} records, ended by 16 bytes of 0xFF.

export const FLAT_SIGNATURE = Buffer.from('makedumpfile\0\0\0\0', 'latin1');
export const FLAT_HEADER_SIZE = 4096;
export const FLAT_RECORD_HEADER_SIZE = 16;
export const FLAT_TYPE = 1n;
export const FLAT_VERSION = 1n;
/** Readers (makedumpfile -R, crash, libkdumpfile) handle any size, but makedumpfile itself writes 64 KiB at most. */
export const MAX_FLAT_RECORD = 64 << 10;

export function encodeFlatHeader(): Buffer {
  const out = Buffer.alloc(FLAT_HEADER_SIZE);
  FLAT_SIGNATURE.copy(out, 0);
  out.writeBigInt64BE(FLAT_TYPE, 16);
  out.writeBigInt64BE(FLAT_VERSION, 24);
  return out;
}

/** A record's 16-byte header; `size` must be positive (a zero-length record ends makedumpfile -R early). */
export function encodeRecordHeader(offset: number, size: number): Buffer {
  if (!(size > 0)) throw new RangeError(`a flattened record must carry data (size ${size})`);
  const out = Buffer.alloc(FLAT_RECORD_HEADER_SIZE);
  out.writeBigInt64BE(BigInt(offset), 0);
  out.writeBigInt64BE(BigInt(size), 8);
  return out;
}

export function encodeEndMarker(): Buffer {
  return Buffer.alloc(FLAT_RECORD_HEADER_SIZE, 0xff);
}

/** True when the bytes start like a flattened file (signature and type 1); what crash itself checks. */
export function isFlatHeader(buf: Buffer): boolean {
  return buf.length >= 24 && buf.subarray(0, 13).equals(FLAT_SIGNATURE.subarray(0, 13)) && buf.readBigInt64BE(16) === FLAT_TYPE;
}
