// Synthetic dumps served by the faulty FUSE file, and checks of a copy of them: failed pages zero, all else identical.

import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { OmitReason } from '../../src/notes/slimcore-notes.js';
import { mountFaulty, type FaultyMountOptions } from './faulty-mount.js';
import { writeSyntheticVmcore, type SyntheticOptions, type SyntheticVmcore } from './synthetic-vmcore.js';
import { readBack } from './read-dump.js';
import { tempDir } from './tmp.js';

export const PAGE = 4096;

export async function faultyDump(t: ExecutionContext, opts: SyntheticOptions, badPage: (dump: SyntheticVmcore) => number[], mountOptions: Omit<FaultyMountOptions, 'backing' | 'badPages'> = {}) {
  const dir = await tempDir(t, 'rerr');
  const backing = path.join(dir, 'vmcore.elf');
  const dump = await writeSyntheticVmcore(backing, opts);
  const badPages = badPage(dump);
  const mount = await mountFaulty(t, { backing, badPages, ...mountOptions });
  return { dir, backing, dump, mount, badPages };
}

/** Memory pages (inside segment data) that were read more than twice. */
export async function overRead(mount: Awaited<ReturnType<typeof mountFaulty>>, dump: SyntheticVmcore): Promise<string[]> {
  const counts = (await mount.readCounts()).counts;
  const firstData = Math.min(...dump.segments.map((s) => s.fileOffset));
  return Object.entries(counts)
    .filter(([offset, reads]) => Number(offset) >= firstData && reads > 2)
    .map(([offset, reads]) => `page at file offset 0x${Number(offset).toString(16)} read ${reads} times`);
}

/** Checks the output segment by segment: failed pages zero, every other byte as in the input. */
export async function assertCopy(t: ExecutionContext, out: string, backing: string, dump: SyntheticVmcore, badPages: readonly number[]) {
  const back = await readBack(out);
  const input = await readFile(backing);
  const bad = new Set(badPages);
  for (const load of dump.segments) {
    const got = back.segment(load.index);
    t.is(got.length, load.size);
    for (let at = 0; at < load.size; at += PAGE) {
      const page = got.subarray(at, at + PAGE);
      if (bad.has(load.fileOffset + at)) t.true(page.every((b) => b === 0), `page at 0x${(load.fileOffset + at).toString(16)} is zero`);
      else if (!page.equals(input.subarray(load.fileOffset + at, load.fileOffset + at + page.length))) t.fail(`page at 0x${(load.fileOffset + at).toString(16)} differs`);
    }
  }
  return back;
}

/** The physical ranges the failed pages should be listed as, merged where neighbours. */
export function expectedRanges(dump: SyntheticVmcore, badPages: readonly number[]): [bigint, bigint, number][] {
  const out: [bigint, bigint, number][] = [];
  for (const offset of [...badPages].sort((a, b) => a - b)) {
    const load = dump.segments.find((s) => s.fileOffset <= offset && offset < s.fileOffset + s.size)!;
    const paddr = load.paddr + BigInt(offset - load.fileOffset);
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === paddr) last[1] += BigInt(PAGE);
    else out.push([paddr, BigInt(PAGE), OmitReason.READ_ERROR]);
  }
  return out;
}
