// Runs makedumpfile 1.7.2 on a vmcore and reads the two bitmaps of its kdump-compressed output (doc §7.2).

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KdumpBitmaps {
  maxMapnr: number;
  present: Uint8Array;
  kept: Uint8Array;
  /** makedumpfile's --message-level 31 report, for its class counters. */
  report: string;
}

/** `makedumpfile -c -d LEVEL --message-level 31 -f vmcore DIR/out.LEVEL`; throws with its output when it fails. */
export async function makedumpfileBitmaps(vmcore: string, dumpLevel: number, dir: string): Promise<KdumpBitmaps> {
  const out = path.join(dir, `out.${dumpLevel}`);
  const { stdout, stderr } = await run('makedumpfile', ['-c', '-d', String(dumpLevel), '--message-level', '31', '-f', vmcore, out], { maxBuffer: 1 << 24 }).catch(
    (err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`makedumpfile -c -d ${dumpLevel} failed (is Debian's makedumpfile installed? scripts/apt-deps.sh): ${err.message} ${err.stderr ?? ''}`);
    },
  );
  const file = await readFile(out);
  if (file.subarray(0, 8).toString('latin1') !== 'KDUMP   ') throw new Error(`${out}: not a kdump-compressed file`);
  const blockSize = file.readInt32LE(428);
  const subHdrSize = file.readInt32LE(432);
  const bitmapBlocks = file.readUInt32LE(436);
  const maxMapnr = Number(file.readBigUInt64LE(blockSize + 96));
  const b1 = (1 + subHdrSize) * blockSize;
  const half = (bitmapBlocks * blockSize) / 2;
  return {
    maxMapnr,
    present: new Uint8Array(file.subarray(b1, b1 + half)),
    kept: new Uint8Array(file.subarray(b1 + half, b1 + 2 * half)),
    report: stdout + stderr,
  };
}

/** A counter from the report, such as "Free pages" or "Hwpoison pages". */
export function reportCount(report: string, label: string): number {
  const m = new RegExp(`${label}\\s*: 0x([0-9a-f]+)`).exec(report);
  if (!m) throw new Error(`makedumpfile's report has no "${label}" line`);
  return Number.parseInt(m[1], 16);
}
