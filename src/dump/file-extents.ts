// File-aliased segments (program headers over the same file bytes, as QEMU's `dump-guest-memory -p` writes): read and written once.

import type { DataSegment } from './layout.js';
import type { OmittedRanges } from '../notes/omitted-ranges.js';

/**
 * The runs of input file bytes that data segments lie in, in file order. A segment alone in its bytes (every segment of
 * the usual dump) is its own extent, the same object: 128 Ki segments cost no second list of objects.
 */
export interface FileExtents {
  /** Each starts where its first member does and carries that member's index and paddr. */
  extents: DataSegment[];
  /** The members of each extent that holds more than one segment, keyed by the extent's index. */
  shared: Map<number, DataSegment[]>;
}

/** Unites segments (sorted by file offset) whose file bytes overlap. */
export function fileExtents(sorted: readonly DataSegment[]): FileExtents {
  const extents: DataSegment[] = [];
  const shared = new Map<number, DataSegment[]>();
  for (const seg of sorted) {
    const last = extents[extents.length - 1];
    if (last && seg.inOffset < last.inOffset + last.size) {
      const members = shared.get(last.index);
      if (members) members.push(seg);
      else {
        // The first member stays as it is: its extent becomes an object of its own that can grow.
        shared.set(last.index, [last, seg]);
        extents[extents.length - 1] = { index: last.index, inOffset: last.inOffset, size: last.size, paddr: last.paddr };
      }
      const grown = extents[extents.length - 1];
      grown.size = Math.max(grown.size, seg.inOffset + seg.size - grown.inOffset);
    } else extents.push(seg);
  }
  return { extents, shared };
}

/** The segments of one extent. */
export function membersOf(files: FileExtents, extent: DataSegment): readonly DataSegment[] {
  return files.shared.get(extent.index) ?? [extent];
}

/** Per extent (keyed by its index): the faulty [start, end) offsets of all its members, united, relative to the extent. */
export function faultsByExtent(files: FileExtents, bySegment: ReadonlyMap<number, Float64Array>): Map<number, Float64Array> {
  const out = new Map<number, Float64Array>();
  if (bySegment.size === 0) return out;
  for (const extent of files.extents) {
    const members = membersOf(files, extent);
    if (members.length === 1) {
      // The usual segment, alone in its bytes: its offsets as they are, with no pair made per fault.
      const offsets = bySegment.get(extent.index);
      if (offsets && offsets.length > 0) out.set(extent.index, offsets);
      continue;
    }
    const pairs: [number, number][] = [];
    for (const member of members) {
      const offsets = bySegment.get(member.index);
      if (!offsets) continue;
      const shift = member.inOffset - extent.inOffset;
      for (let i = 0; i < offsets.length; i += 2) pairs.push([offsets[i] + shift, offsets[i + 1] + shift]);
    }
    if (pairs.length === 0) continue;
    pairs.sort((a, b) => a[0] - b[0]);
    const united: number[] = [];
    for (const [s, e] of pairs) {
      const n = united.length;
      if (n > 0 && s <= united[n - 1]) united[n - 1] = Math.max(united[n - 1], e);
      else united.push(s, e);
    }
    out.set(extent.index, Float64Array.from(united));
  }
  return out;
}

/** OMITTED entries once per physical range among segments that share file bytes: they are the same bytes. */
export function dropFileAliasedEntries(entries: OmittedRanges, files: FileExtents): OmittedRanges {
  // No two segments share file bytes (the usual dump): nothing can repeat, and a key per entry would cost 100,000 strings.
  if (files.shared.size === 0 || entries.length === 0) return entries;
  const extentOf = new Map<number, number>();
  for (const [index, members] of files.shared) for (const m of members) extentOf.set(m.index, index);
  const seen = new Set<string>();
  return entries.filter((i) => {
    const e = entries.at(i);
    const key = `${extentOf.get(e.segmentIndex) ?? `s${e.segmentIndex}`}:${e.paddr}:${e.length}:${e.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
