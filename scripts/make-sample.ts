// Derives the small bundled sample dump from the shared real vmcore: real headers, notes, kernel log and some memory.

import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { slimProgramHeaders, keptRangesFromPages } from '../src/dump/slim-table.js';
import { encodeHeader } from '../src/elf/header.js';
import { encodeProgramHeaders } from '../src/elf/program-header.js';
import { fdReadAt } from '../src/klog/physical-memory.js';
import { findKernelLog } from '../src/pipeline/kernel-log-source.js';
import { openSource } from '../src/sources/byte-source.js';
import { positionalRangeReader } from '../src/sources/positional-reader.js';

/** Memory kept besides the log: the first 1 MiB of each PT_LOAD, and the pages around 0x345000, which the MCE names. */
const HEAD = 1n << 20n;
const AROUND_POISON = { paddr: 0x340000n, length: 0x10000n };

async function main(input: string, output: string): Promise<void> {
  const source = await openSource(input);
  const prefix = await readDumpPrefix(positionalRangeReader(source));
  const readAt = fdReadAt(source.fd, input);
  const log = await findKernelLog(prefix, readAt);
  if ('problem' in log) throw new Error(log.problem);
  const pages: bigint[] = [...log.pages];
  for (const ph of prefix.phdrs.toArray().slice(1)) for (let at = 0n; at < HEAD && at < ph.filesz; at += 0x1000n) pages.push(ph.paddr + at);
  for (let at = 0n; at < AROUND_POISON.length; at += 0x1000n) pages.push(AROUND_POISON.paddr + at);
  const table = slimProgramHeaders(prefix.phdrs, prefix.noteIndex, keptRangesFromPages(pages, prefix.pageSize), () => true);

  const parts: { at: number; bytes: Buffer }[] = [];
  let cursor = 0x2000 + Math.ceil((table.phdrs.length * 56) / 0x1000) * 0x1000;
  const phdrs = table.phdrs.toArray().map((ph, i) => {
    if (i === table.noteIndex || ph.filesz === 0n) return { ...ph, offset: i === table.noteIndex ? 0x1000n : 0n };
    parts.push({ at: cursor, bytes: readAt(Number(ph.offset), Number(ph.filesz)) });
    const placed = { ...ph, offset: BigInt(cursor) };
    cursor += Math.ceil(Number(ph.filesz) / 0x1000) * 0x1000;
    return placed;
  });
  await source.close();
  const image = Buffer.alloc(cursor);
  encodeHeader({ ...prefix.header, phnum: phdrs.length }).copy(image, 0);
  encodeProgramHeaders(phdrs, prefix.format).copy(image, Number(prefix.header.phoff));
  prefix.noteSegment.copy(image, 0x1000);
  for (const part of parts) part.bytes.copy(image, part.at);
  await writeFile(output, gzipSync(image, { level: 9 }));
  process.stderr.write(`wrote ${output}: ${image.length} bytes unpacked, ${phdrs.length} program headers\n`);
}

await main(process.argv[2], process.argv[3]);
