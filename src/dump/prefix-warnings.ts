// Warnings about the input's prefix: what of its layout the output cannot keep, and settings it had to replace.

import type { WarningHandler } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { PN_XNUM, PT_NOTE } from '../elf/constants.js';
import type { DumpPrefix } from './prefix.js';

export function warnAboutPrefix(prefix: DumpPrefix, warn: WarningHandler): void {
  if (prefix.badPageSize !== undefined) {
    warn({ code: 'BAD_PAGESIZE', message: `VMCOREINFO PAGESIZE=${prefix.badPageSize} is not a usable page size; using ${prefix.pageSize}` });
  }
  // Under PN_XNUM section header 0 holds the real count, and the output keeps (rewrites) it; any other is dropped.
  const kept = prefix.header.phnum === PN_XNUM ? 1 : 0;
  if (prefix.header.shoff !== 0n && prefix.header.shnum > kept) {
    warn({
      code: 'SECTION_HEADERS_DROPPED',
      message: `ELF header: the input's ${prefix.header.shnum} section header(s) at offset ${hex(prefix.header.shoff)} are dropped, since the layout changes (crash and vmcore-dmesg do not read them)`,
    });
  }
  const trailer = prefix.noteSegment.subarray(prefix.notes.end);
  const stray = trailer.findIndex((b) => b !== 0);
  if (stray >= 0) {
    warn({
      code: 'NOTE_SEGMENT_TRAILER',
      message: `program header ${prefix.noteIndex} (PT_NOTE): non-zero bytes at file offset ${hex(prefix.noteOffset + prefix.notes.end + stray)}, after the notes readers see, are dropped`,
    });
  }
  for (let index = 0; index < prefix.phdrs.length; index++) {
    if (prefix.phdrs.type(index) !== PT_NOTE || index === prefix.noteIndex) continue;
    warn({
      code: 'EXTRA_NOTE_SEGMENT',
      message: `program header ${index} is a second PT_NOTE: copied as it is, but its notes are not read (crash reads only the first)`,
    });
  }
}
