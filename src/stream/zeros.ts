// Shared zero bytes: runs of one read-only zero buffer, so zero-filled pages cost no allocation.

const ZERO_RUN = Buffer.alloc(1 << 20);

/** Views of a shared zero buffer that add up to `length` bytes. Never write into them. */
export function zeroRuns(length: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = length; left > 0; left -= ZERO_RUN.length) out.push(ZERO_RUN.subarray(0, Math.min(left, ZERO_RUN.length)));
  return out;
}
