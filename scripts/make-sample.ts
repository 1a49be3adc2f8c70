// Derives the small bundled sample dump from the shared real vmcore: real headers, notes and memory, shorter segments.

import { open, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { readDumpPrefix, type RangeReader } from '../src/dump/prefix.js';
import { encodeHeader } from '../src/elf/header.js';
import { encodeProgramHeaders } from '../src/elf/program-header.js';

/** Bytes kept from the start of each PT_LOAD: 1 MiB, but enough of the RAM segment to hold the page its MCE names. */
const KEEP = 1 << 20;
const POISONED_PAGE_END = 0x346000n;
const KEEP_PAST_POISON = 0x40000n;

function bytesToKeep(paddr: bigint, filesz: bigint): number {
  const wanted = paddr < POISONED_PAGE_END && POISONED_PAGE_END <= paddr + filesz ? Number(POISONED_PAGE_END + KEEP_PAST_POISON - paddr) : KEEP;
  return Math.min(Number(filesz), wanted);
}

async function main(input: string, output: string): Promise<void> {
  const fh = await open(input);
  const read: RangeReader = async (offset, length) => {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  };
  const prefix = await readDumpPrefix(read);
  const phdrs = prefix.phdrs.map((ph) => ({ ...ph }));
  const parts: Buffer[] = [];
  let cursor = 0x2000;
  for (let i = 1; i < phdrs.length; i++) {
    const ph = phdrs[i];
    const keep = bytesToKeep(ph.paddr, ph.filesz);
    parts.push(await read(Number(ph.offset), keep, ''));
    Object.assign(ph, { offset: BigInt(cursor), filesz: BigInt(keep), memsz: BigInt(keep) });
    cursor += Math.ceil(keep / 0x1000) * 0x1000;
  }
  await fh.close();
  const image = Buffer.alloc(cursor);
  encodeHeader(prefix.header).copy(image, 0);
  encodeProgramHeaders(phdrs, prefix.format).copy(image, Number(prefix.header.phoff));
  prefix.noteSegment.copy(image, prefix.noteOffset);
  parts.forEach((part, k) => part.copy(image, Number(phdrs[k + 1].offset)));
  await writeFile(output, gzipSync(image, { level: 9 }));
  process.stderr.write(`wrote ${output}: ${image.length} bytes unpacked\n`);
}

await main(process.argv[2], process.argv[3]);
