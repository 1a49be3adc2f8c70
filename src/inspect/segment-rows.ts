// inspect's program header rows, made one at a time from the table, and the report written out in pieces.

import { hex } from '../elf/byte-order.js';
import { programHeaderTypeName } from '../elf/program-header.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';

export interface SegmentRow {
  index: number;
  type: string;
  offset: string;
  vaddr: string;
  paddr: string;
  filesz: string;
  memsz: string;
  flags: number;
  align: string;
}

/** A row of 9 strings per program header would hold 40 MiB for 128 Ki of them: rows are made as they are read. */
export class SegmentRows implements Iterable<SegmentRow> {
  constructor(private readonly table: ProgramHeaderTable) {}

  get length(): number {
    return this.table.length;
  }

  at(index: number): SegmentRow {
    const ph = this.table.get(index);
    return {
      index,
      type: programHeaderTypeName(ph.type),
      offset: hex(ph.offset),
      vaddr: hex(ph.vaddr),
      paddr: hex(ph.paddr),
      filesz: hex(ph.filesz),
      memsz: hex(ph.memsz),
      flags: ph.flags,
      align: hex(ph.align),
    };
  }

  *[Symbol.iterator](): Iterator<SegmentRow> {
    for (let i = 0; i < this.table.length; i++) yield this.at(i);
  }

  /** JSON.stringify of a report sees an array (the whole of it: the CLI uses jsonPieces instead). */
  toJSON(): SegmentRow[] {
    return [...this];
  }
}

const ROWS_PER_PIECE = 512;

/**
 * `JSON.stringify(report, null, 2)`, in pieces of a few hundred rows: the same text, without the whole of it (26 MB
 * for 128 Ki program headers) in memory at once.
 */
export function* jsonPieces(report: { segments: SegmentRows }): Generator<string> {
  const rest = JSON.stringify({ ...report, segments: [] }, null, 2);
  const slot = '\n  "segments": []';
  const at = rest.indexOf(slot);
  if (at < 0 || report.segments.length === 0) {
    yield rest + '\n';
    return;
  }
  yield rest.slice(0, at) + '\n  "segments": [\n';
  const rows = report.segments;
  for (let from = 0; from < rows.length; from += ROWS_PER_PIECE) {
    const piece: string[] = [];
    for (let i = from; i < Math.min(rows.length, from + ROWS_PER_PIECE); i++) {
      piece.push('    ' + JSON.stringify(rows.at(i), null, 2).replace(/\n/g, '\n    '));
    }
    yield piece.join(',\n') + (from + ROWS_PER_PIECE < rows.length ? ',\n' : '\n  ]');
  }
  yield rest.slice(at + slot.length) + '\n';
}
