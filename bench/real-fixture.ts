// The real 423 MB vmcore for the makedumpfile comparison: the tests' unpacked copy if there is one, else unpacked here.

import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { FIXTURE_SIZE, fixtureCacheDir, realFixturePath } from '../test/helpers/fixture.js';

export { FIXTURE_SIZE };

const FIXTURE_NAME = 'vmcore-6.1-mce.elf';
const HEADER_BYTES = 64 * 1024;
const PT_LOAD = 1;

/** The tests' copy, if it is complete (the helper renames only a verified file into place). */
export async function cachedFixture(): Promise<string | undefined> {
  const cached = path.join(fixtureCacheDir(), FIXTURE_NAME);
  const st = await stat(cached).catch(() => undefined);
  return st?.size === FIXTURE_SIZE ? cached : undefined;
}

/** Streams the .gz through zlib into dir, checking its sha256 (the tests' helper does it, pointed at dir). */
export async function unpackFixtureInto(dir: string): Promise<string> {
  process.env.SLIMCORE_CACHE_DIR = dir;
  return realFixturePath();
}

/** Sum of the PT_LOAD sizes: a full dump of the fixture holds at least this much. ELF64 little-endian, as the fixture is. */
export async function loadBytes(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    await fh.read(head, 0, HEADER_BYTES, 0);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    let total = 0;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (head.readUInt32LE(at) === PT_LOAD) total += Number(head.readBigUInt64LE(at + 32));
    }
    return total;
  } finally {
    await fh.close();
  }
}
