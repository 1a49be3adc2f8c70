// File-aliased segments (program headers over the same file bytes, as QEMU's `dump-guest-memory -p` writes): read and written once.

import type { OmittedRanges } from '../notes/omitted-ranges.js';
import { SegmentListBuilder, type DataSegment, type SegmentList } from './segment-list.js';

/**
 * The runs of input file bytes that data segments lie in, in file order. When no two segments share bytes (every
 * segment of the usual dump), the extents are the segment list itself: 128 Ki segments cost no second list.
 */
export interface FileExtents {
  /** Each starts where its first member does and carries that member's index and paddr. */
  extents: SegmentList;
  /** The members of each extent that holds more than one segment, keyed by the extent's index. */
  shared: Map<number, DataSegment[]>;
}

/** Unites segments (sorted by file offset) whose file bytes overlap. */
export function fileExtents(sorted: SegmentList): FileExtents {
  const shared = new Map<number, DataSegment[]>();
  let overlaps = false;
  for (let i = 1; i < sorted.length && !overlaps; i++) overlaps = sorted.inOffset(i) < sorted.inEnd(i - 1);
  if (!overlaps) return { extents: sorted, shared };
  const extents = new SegmentListBuilder(sorted.length);
  let lastIndex = -1;
  for (let i = 0; i < sorted.length; i++) {
    const inOffset = sorted.inOffset(i);
    if (extents.length > 0 && inOffset < extents.lastEnd()) {
      const members = shared.get(lastIndex);
      if (members) members.push(sorted.at(i));
      // An extent with no members listed yet holds only the segment before this one.
      else shared.set(lastIndex, [sorted.at(i - 1), sorted.at(i)]);
      extents.setLastSize(Math.max(extents.lastEnd(), sorted.inEnd(i)) - extents.lastInOffset());
    } else {
      extents.push(sorted.index(i), inOffset, sorted.size(i), sorted.paddr(i));
      lastIndex = sorted.index(i);
    }
  }
  return { extents: extents.build(), shared };
}

/** Per extent (keyed by its index): the faulty [start, end) offsets of all its members, united, relative to the extent. */
export function faultsByExtent(files: FileExtents, bySegment: ReadonlyMap<number, Float64Array>): Map<number, Float64Array> {
  const out = new Map<number, Float64Array>();
  if (bySegment.size === 0) return out;
  const { extents } = files;
  for (let e = 0; e < extents.length; e++) {
    const index = extents.index(e);
    const members = files.shared.get(index);
    if (!members) {
      // The usual segment, alone in its bytes: its offsets as they are, with no pair made per fault.
      const offsets = bySegment.get(index);
      if (offsets && offsets.length > 0) out.set(index, offsets);
      continue;
    }
    const extentOffset = extents.inOffset(e);
    const pairs: [number, number][] = [];
    for (const member of members) {
      const offsets = bySegment.get(member.index);
      if (!offsets) continue;
      const shift = member.inOffset - extentOffset;
      for (let i = 0; i < offsets.length; i += 2) pairs.push([offsets[i] + shift, offsets[i + 1] + shift]);
    }
    if (pairs.length === 0) continue;
    pairs.sort((a, b) => a[0] - b[0]);
    const united: number[] = [];
    for (const [from, to] of pairs) {
      const n = united.length;
      if (n > 0 && from <= united[n - 1]) united[n - 1] = Math.max(united[n - 1], to);
      else united.push(from, to);
    }
    out.set(index, Float64Array.from(united));
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
