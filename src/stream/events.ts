// The objects that flow between pipeline stages: one prefix, then segment data in file order.

import type { OutputLayout } from '../dump/layout.js';
import type { DumpPrefix } from '../dump/prefix.js';

/** First event: the parsed input prefix and the notes that the output's PT_NOTE will hold. */
export interface PrefixEvent {
  kind: 'prefix';
  prefix: DumpPrefix;
  /**
   * The PT_NOTE bytes to write: the original notes, then ours once the note injector has run (as parts, so that an
   * OMITTED note of megabytes is not copied into a joined buffer only to be copied again into the header block).
   */
  noteBytes: Buffer | readonly Buffer[];
}

/** The output's header block (ELF header, section header 0, program headers, notes, padding). */
export interface HeaderEvent {
  kind: 'header';
  bytes: Buffer;
  layout: OutputLayout;
}

/** Bytes of one segment, at `offset` within that segment's file data. */
export interface DataEvent {
  kind: 'data';
  /** Program header index. */
  segment: number;
  offset: number;
  bytes: Buffer;
  /**
   * The read buffer these bytes came from, kept on every piece cut from it (zero runs that replace its bytes
   * included), so that the buffer can be reused once all of them are written.
   */
  chunk?: Buffer;
  /** The reader already wrote zeros over every faulty page in these bytes (it never read them). */
  zeroFilled?: boolean;
}

export type DumpEvent = PrefixEvent | HeaderEvent | DataEvent;
