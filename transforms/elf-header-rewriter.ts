// Stage: turns the prefix into the output's header block, with program headers moved to the new layout.

import { classLayout } from '../src/elf/byte-order.js';
import { encodeHeader } from '../src/elf/header.js';
import { planOutputLayout, type DataSegment, type OutputLayout } from '../src/dump/layout.js';
import type { DumpEvent } from '../src/stream/events.js';

export function encodeHeaderBlock(layout: OutputLayout, noteBytes: Buffer | readonly Buffer[]): Buffer {
  const block = Buffer.alloc(layout.headerBlockSize);
  encodeHeader(layout.header).copy(block, 0);
  const L = classLayout(layout.header);
  layout.sectionZero?.copy(block, L.ehsize);
  layout.programHeaders.copy(block, Number(layout.header.phoff));
  let at = layout.notesOffset;
  for (const part of partsOf(noteBytes)) at += part.copy(block, at);
  return block;
}

function partsOf(noteBytes: Buffer | readonly Buffer[]): readonly Buffer[] {
  return Buffer.isBuffer(noteBytes) ? [noteBytes] : noteBytes;
}

/**
 * `segments` are the data segments to copy, in input file order (none for a bare slim dump); segments that are not
 * among them keep their addresses and sizes with p_filesz 0.
 */
export function elfHeaderRewriter(segments: readonly DataSegment[], onLayout?: (layout: OutputLayout) => void) {
  return (event: DumpEvent): DumpEvent => {
    if (event.kind !== 'prefix') return event;
    const layout = planOutputLayout(event.prefix, segments, partsOf(event.noteBytes).reduce((n, part) => n + part.length, 0));
    onLayout?.(layout);
    return { kind: 'header', bytes: encodeHeaderBlock(layout, event.noteBytes), layout };
  };
}
