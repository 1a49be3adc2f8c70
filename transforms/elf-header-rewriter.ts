// Stage: turns the prefix into the output's header block, with program headers moved to the new layout.

import { encodeHeader } from '../src/elf/header.js';
import { planOutputLayout, type OutputLayout, type PlannedLayout } from '../src/dump/layout.js';
import type { SegmentList } from '../src/dump/segment-list.js';
import type { DumpEvent } from '../src/stream/events.js';

/** Completes the layout's header block (its program headers are in place) with the ELF header and the notes. */
export function encodeHeaderBlock(layout: PlannedLayout, noteBytes: Buffer | readonly Buffer[]): Buffer {
  const block = layout.headerBlock;
  encodeHeader(layout.header).copy(block, 0);
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
export function elfHeaderRewriter(segments: SegmentList, onLayout?: (layout: OutputLayout) => void) {
  return (event: DumpEvent): DumpEvent => {
    if (event.kind !== 'prefix') return event;
    const planned = planOutputLayout(event.prefix, segments, partsOf(event.noteBytes).reduce((n, part) => n + part.length, 0));
    const bytes = encodeHeaderBlock(planned, event.noteBytes);
    // The block goes out once: the layout that stays (for patching) holds offsets only.
    const { headerBlock: _block, programHeaders: _table, ...layout } = planned;
    onLayout?.(layout);
    return { kind: 'header', bytes, layout };
  };
}
