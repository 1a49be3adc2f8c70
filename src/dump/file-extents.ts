// File-aliased segments (program headers over the same file bytes, as QEMU's `dump-guest-memory -p` writes): read and written once.

import type { DataSegment } from './layout.js';
import type { OmittedRanges } from '../notes/omitted-ranges.js';

/** One run of input file bytes that one or more data segments lie in; it carries its first member's index and paddr. */
export interface FileExtent extends DataSegment {
  members: DataSegment[];
}

/** Unites segments (sorted by file offset) whose file bytes overlap; each extent starts where its first member does. */
export function fileExtents(sorted: readonly DataSegment[]): FileExtent[] {
  const out: FileExtent[] = [];
  for (const seg of sorted) {
    const last = out[out.length - 1];
    if (last && seg.inOffset < last.inOffset + last.size) {
      last.size = Math.max(last.size, seg.inOffset + seg.size - last.inOffset);
      last.members.push(seg);
    } else {
      // Built whole, not spread and grown: a spread copy given one more field gets a map of its own, 250 B per segment.
      out.push({ index: seg.index, inOffset: seg.inOffset, size: seg.size, paddr: seg.paddr, members: [seg] });
    }
  }
  return out;
}

/** Per extent (keyed by its index): the faulty [start, end) offsets of all its members, united, relative to the extent. */
export function faultsByExtent(extents: readonly FileExtent[], bySegment: ReadonlyMap<number, Float64Array>): Map<number, Float64Array> {
  const out = new Map<number, Float64Array>();
  for (const extent of extents) {
    const pairs: [number, number][] = [];
    for (const member of extent.members) {
      const offsets = bySegment.get(member.index);
      if (!offsets) continue;
      const shift = member.inOffset - extent.inOffset;
      for (let i = 0; i < offsets.length; i += 2) pairs.push([offsets[i] + shift, offsets[i + 1] + shift]);
    }
    if (pairs.length === 0) continue;
    if (extent.members.length === 1) {
      out.set(extent.index, bySegment.get(extent.index)!);
      continue;
    }
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
export function dropFileAliasedEntries(entries: OmittedRanges, extents: readonly FileExtent[]): OmittedRanges {
  // No two segments share file bytes (the usual dump): nothing can repeat, and a key per entry would cost 100,000 strings.
  if (extents.every((extent) => extent.members.length === 1)) return entries;
  const extentOf = new Map<number, number>();
  extents.forEach((extent, i) => extent.members.forEach((m) => extentOf.set(m.index, i)));
  const seen = new Set<string>();
  return entries.filter((i) => {
    const e = entries.at(i);
    const key = `${extentOf.get(e.segmentIndex) ?? `s${e.segmentIndex}`}:${e.paddr}:${e.length}:${e.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
