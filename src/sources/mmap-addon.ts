// Loads the native addon (native/: the mmap reader and the reads between faults), or says why it cannot: slim-core then reads with read(2) from JavaScript.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { counted } from './native-reads.js';

/**
 * Reads dst[start, end) for each pair of `runs` (sorted, disjoint) from the input with one pread each, where dst[0] is
 * file offset `position`, in the thread pool, and zero-fills the rest of dst. Resolves to (start, end, result) triples
 * for the runs that did not read whole: result is the bytes read, or -errno (the rest of such a run is left as it was).
 */
export type ReadRuns = (fd: number, dst: Buffer, position: number, runs: Float64Array) => Promise<Float64Array>;

export interface MmapAddon {
  /**
   * Copies dst[start, end) for each pair of `ranges` from the input, where dst[0] is file offset `position`, through a
   * read-only mapping of each range alone. Resolves to the [start, end) pairs of the pages that raised SIGBUS (zeroed).
   */
  copy(fd: number, dst: Buffer, position: number, ranges: Float64Array): Promise<Float64Array>;
  /** Missing from an addon built before it. */
  readRuns?: ReadRuns;
  /** Bytes to the end of a file or block device; -1 if it cannot seek. */
  fileSize(fd: number): number;
  /** For tests: reads one mapped byte with no guard, so a SIGBUS there kills the process. */
  touchUnguarded(fd: number, offset: number): number;
  pageSize: number;
}

/** Set to anything but "" or "0": behave as if the addon were not built (for tests of the read(2) fallback). */
export const NO_ADDON_ENV = 'SLIMCORE_NO_MMAP_ADDON';
const ADDON_FILE = path.join('native', 'build', 'Release', 'slimcore_mmap.node');

let loaded: { addon: MmapAddon } | { problem: string } | undefined;

// src/sources/ under tsx, dist/src/sources/ once built: the package root is two or three levels up.
function addonPath(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, ADDON_FILE);
  }
  return undefined;
}

export function loadMmapAddon(): { addon: MmapAddon } | { problem: string } {
  if (loaded) return loaded;
  const disabled = process.env[NO_ADDON_ENV];
  if (disabled && disabled !== '0') return (loaded = { problem: `${NO_ADDON_ENV} is set` });
  const file = addonPath();
  if (!file || !existsSync(file)) return (loaded = { problem: `the native addon is not built (${file ?? ADDON_FILE}; npm install builds it)` });
  try {
    const addon = createRequire(import.meta.url)(file) as MmapAddon;
    // The asynchronous calls are counted, so that the input is not closed under them (native-reads.ts).
    return (loaded = { addon: { ...addon, copy: counted(addon.copy), readRuns: addon.readRuns && counted(addon.readRuns) } });
  } catch (err) {
    return (loaded = { problem: `the native addon does not load: ${(err as Error).message.split('\n')[0]}` });
  }
}
