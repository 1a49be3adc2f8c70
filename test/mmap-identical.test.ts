// The mmap and read(2) readers write byte-identical dumps: both real fixtures and synthetic dumps, in every mode.

import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { capture, type CaptureOptions } from '../src/pipeline/capture.js';
import { loadMmapAddon } from '../src/sources/mmap-addon.js';
import { FIXTURE_NAMES, realFixturePath } from './helpers/fixture.js';
import { writeSyntheticVmcore, type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const MODES = ['auto', 'slim', 'full'] as const;

test.before(() => {
  const loaded = loadMmapAddon();
  if ('problem' in loaded) throw new Error(`these tests need the mmap addon: ${loaded.problem} (sh scripts/build-native.sh)`);
});

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Captures with each reader in turn; the outputs' hashes must match, and the mmap run must really have mapped. */
async function assertSameBothWays(t: ExecutionContext, dir: string, options: CaptureOptions, label: string): Promise<void> {
  const hashes: string[] = [];
  for (const reader of ['mmap', 'read'] as const) {
    const output = path.join(dir, `${reader}.elf`);
    const result = await capture({ ...options, output, reader, sync: false });
    t.is(result.reader, result.plan.copySegments.length > 0 ? reader : 'read', `${label}: ${reader}`);
    hashes.push(await sha256(output));
    await rm(output);
  }
  t.is(hashes[0], hashes[1], `${label}: mmap and read(2) outputs differ`);
}

for (const name of FIXTURE_NAMES) {
  test(`real fixture ${name}: mmap and read(2) give the same dump in auto, slim and full mode`, async (t) => {
    const input = await realFixturePath(name);
    const dir = await tempDir(t, 'mmap-same');
    for (const mode of MODES) await assertSameBothWays(t, dir, { input, mode }, `${name}, ${mode}`);
  });
}

const SYNTHETIC: [string, SyntheticOptions, Partial<CaptureOptions>][] = [
  ['three segments, odd chunk size', { segments: [{ paddr: 0x100000n, size: 40 * PAGE }, { paddr: 0x900000n, size: 3 * PAGE }, { paddr: 0x2000000n, size: 100 * PAGE }] }, { chunkSize: 5 * PAGE + 512 }],
  ['faults named by the user, at segment edges and in runs', { segments: [{ paddr: 0x100000n, size: 64 * PAGE }, { paddr: 0x800000n, size: 64 * PAGE }] }, {
    userFaults: [0x100000n, 0x105000n, 0x106000n, 0x13f000n, 0x800000n, 0x820000n].map((paddr) => ({ paddr, length: 0n, origin: 'test' })),
    chunkSize: 16 * PAGE,
  }],
  ['segments in reverse file order, data off page alignment, ELF32 big-endian', {
    elfClass: 32, endian: 'be', segmentOrder: 'reversed', dataGapBytes: 100,
    segments: [{ paddr: 0x100000n, size: 9 * PAGE }, { paddr: 0x400000n, size: 20 * PAGE }],
  }, { chunkSize: 3 * PAGE, userFaults: [{ paddr: 0x402000n, length: 0n, origin: 'test' }] }],
  ['an MCE note in the dump (auto goes slim)', {
    segments: [{ paddr: 0x100000n, size: 32 * PAGE }],
    mceRecords: [{ status: 0xbe00000000100134n, addr: 0x104000n, misc: 0x86n, mcgstatus: 0x5n }],
  }, {}],
];

for (const [label, opts, extra] of SYNTHETIC) {
  test(`synthetic, ${label}: mmap and read(2) give the same dump in every mode`, async (t) => {
    const dir = await tempDir(t, 'mmap-same');
    const input = path.join(dir, 'in.elf');
    await writeSyntheticVmcore(input, opts);
    for (const mode of MODES) await assertSameBothWays(t, dir, { input, mode, kernelLog: false, ...extra }, `${label}, ${mode}`);
  });
}
