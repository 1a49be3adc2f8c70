// Stage: appends slim-core's notes to the original notes, inside the first PT_NOTE, after the last real note.

import type { DumpEvent } from '../src/stream/events.js';

/**
 * Keeps the original notes byte for byte and drops what followed them (an empty terminator
 * note or zero padding), since readers stop there and would never reach our notes.
 */
export function noteInjector(ourNotes: Buffer) {
  return (event: DumpEvent): DumpEvent => {
    if (event.kind !== 'prefix') return event;
    const original = event.prefix.noteSegment.subarray(0, event.prefix.notes.end);
    return { ...event, noteBytes: [original, ourNotes] };
  };
}
