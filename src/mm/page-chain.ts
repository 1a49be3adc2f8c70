// makedumpfile's classification chain over one window of struct pages: the hot loop, typed arrays only.

import type { MmInfo } from './mm-info.js';
import type { PfnRangeList } from './pfn-ranges.js';

export const DL_EXCLUDE_ZERO = 1;
export const DL_EXCLUDE_CACHE = 2;
export const DL_EXCLUDE_CACHE_PRI = 4;
export const DL_EXCLUDE_USER_DATA = 8;
export const DL_EXCLUDE_FREE = 16;

/** Indices into the counts array. */
export const C_FREE = 0;
export const C_CACHE = 1;
export const C_CACHE_PRIVATE = 2;
export const C_USER = 3;
export const C_HWPOISON = 4;
export const C_OFFLINE = 5;
export const C_UNCLASSIFIED = 6;
export const C_INVALID_FREE_ORDER = 7;
export const COUNT_SLOTS = 8;
const KEEP = -1;

/** Everything the loop needs, as plain numbers: word offsets into the window and 32-bit masks. */
export interface ChainParams {
  words: number;
  flagsW: number;
  mappingW: number;
  mapcountW: number;
  privateW: number;
  headW: number;
  headLo: number;
  headHi: number;
  lru: number;
  private: number;
  swapcache: number;
  /** 0: PG_swapbacked unknown, so PG_swapcache alone counts. */
  swapbacked: number;
  slabLo: number;
  slabHi: number;
  hwpoison: number;
  slabValue: number;
  buddyValue: number;
  offlineValue: number;
  unacceptedValue: number;
  /** 0 none, 1 byte field, 2 u16 field, 3 low byte of the first tail's flags. */
  orderKind: number;
  orderByte: number;
  /** 0 none, 1 byte dtor, 2 u16 dtor, 3 first tail's PG_hugetlb, 4 head's page_type. */
  hugeKind: number;
  hugeByte: number;
  hugeValue: number;
  hugeLo: number;
  hugeHi: number;
  freeAreaLength: number;
  unacceptedOrder: number;
  excludeFree: boolean;
  excludeCache: boolean;
  excludeCachePri: boolean;
  excludeUser: boolean;
}

function lowMask(bit: number | undefined): number {
  return bit === undefined ? 0 : (1 << (bit & 31)) >>> 0;
}

export function chainParams(info: MmInfo, dumpLevel: number): ChainParams {
  const p = info.page;
  const w = (off: number) => off / 4;
  const slabBit = info.bits.slab;
  const huge = info.hugetlb;
  const order = info.order;
  const NaN32 = Number.NaN; // compares unequal to every _mapcount
  return {
    words: p.size / 4,
    flagsW: w(p.flags),
    mappingW: w(p.mapping),
    mapcountW: w(p.mapcount),
    privateW: w(p.private),
    headW: w(p.compoundHead),
    headLo: info.bits.headMaskLo,
    headHi: info.bits.headMaskHi,
    lru: lowMask(info.bits.lru),
    private: lowMask(info.bits.private),
    swapcache: lowMask(info.bits.swapcache),
    swapbacked: lowMask(info.bits.swapbacked),
    slabLo: slabBit !== undefined && slabBit < 32 ? (1 << slabBit) >>> 0 : 0,
    slabHi: slabBit !== undefined && slabBit >= 32 ? (1 << (slabBit - 32)) >>> 0 : 0,
    hwpoison: lowMask(info.bits.hwpoison),
    slabValue: info.types.slab ?? NaN32,
    buddyValue: info.types.buddy ?? NaN32,
    offlineValue: info.types.offline ?? NaN32,
    unacceptedValue: info.freeAreaLength !== undefined ? (info.types.unaccepted ?? NaN32) : NaN32,
    orderKind: order.kind === 'none' ? 0 : order.kind === 'flags1' ? 3 : order.width,
    orderByte: order.kind === 'field' ? order.offset : p.flags,
    hugeKind: huge.kind === 'none' ? 0 : huge.kind === 'dtor' ? huge.width : huge.kind === 'flag' ? 3 : 4,
    hugeByte: huge.kind === 'dtor' ? huge.offset : 0,
    hugeValue: huge.kind === 'dtor' || huge.kind === 'mapcount' ? huge.value : 0,
    hugeLo: huge.kind === 'flag' && huge.bit < 32 ? (1 << huge.bit) >>> 0 : 0,
    hugeHi: huge.kind === 'flag' && huge.bit >= 32 ? (1 << (huge.bit - 32)) >>> 0 : 0,
    freeAreaLength: info.freeAreaLength ?? 64,
    unacceptedOrder: (info.freeAreaLength ?? 1) - 1,
    excludeFree: (dumpLevel & DL_EXCLUDE_FREE) !== 0 && info.hasBuddyTest,
    excludeCache: (dumpLevel & DL_EXCLUDE_CACHE) !== 0,
    excludeCachePri: (dumpLevel & DL_EXCLUDE_CACHE_PRI) !== 0,
    excludeUser: (dumpLevel & DL_EXCLUDE_USER_DATA) !== 0,
  };
}

export interface ChainWindow {
  u8: Uint8Array;
  u32: Uint32Array;
  i32: Int32Array;
  unreadable: Uint8Array;
  /** pfn of entry 0. */
  firstPfn: number;
  /** Entries [0, count) are classified; entry `count` is there only when hasExtra (the last one's first tail). */
  count: number;
  hasExtra: boolean;
}

export interface ChainOutput {
  dumpable: Uint8Array;
  /** pfn of bit 0 of dumpable, and one past the last pfn it covers: blocks are clamped here. */
  start: number;
  end: number;
  counts: Float64Array;
  poisoned: PfnRangeList;
  offline: PfnRangeList;
  unreadable: PfnRangeList;
}

/**
 * Classifies entries [0, count) and returns the end of the last excluded block: makedumpfile's loop skips ahead
 * over it, and so does the chain here, looking only for PG_hwpoison there. First match wins; an excluded head drops its block.
 * Unlike makedumpfile, a tail page with PG_hwpoison is dropped too, even when its head is kept.
 */
export function classifyWindow(c: ChainParams, win: ChainWindow, out: ChainOutput, skipUntil: number): number {
  const { u8, u32, i32, unreadable } = win;
  const { dumpable, counts, start, end } = out;
  const words = c.words;
  const bytes = words * 4;
  const first = win.firstPfn;
  const limit = win.hasExtra ? win.count + 1 : win.count;
  for (let i = 0; i < win.count; i++) {
    const pfn = first + i;
    const w = i * words;
    const fl = u32[w + c.flagsW];
    const poisoned = (fl & c.hwpoison) !== 0;
    if (pfn < skipUntil) {
      // Already dropped with its block; a poisoned page in it is still reported, whatever the level.
      if (poisoned && unreadable[i] === 0) out.poisoned.add(pfn, pfn + 1);
      continue;
    }
    if (unreadable[i] !== 0) {
      counts[C_UNCLASSIFIED]++;
      out.unreadable.add(pfn, pfn + 1);
      continue;
    }
    if ((u32[w + c.headW] & 1) !== 0) {
      if (poisoned) {
        clear(dumpable, pfn - start);
        counts[C_HWPOISON]++;
        out.poisoned.add(pfn, pfn + 1);
      }
      continue;
    }
    const fh = u32[w + c.flagsW + 1];
    const mc = i32[w + c.mapcountW];
    const slab = mc === c.slabValue || (fl & c.slabLo) !== 0 || (fh & c.slabHi) !== 0;
    let order = 0;
    let huge = false;
    if (((fl & c.headLo) !== 0 || (fh & c.headHi) !== 0) && pfn % 512 !== 511 && i + 1 < limit && unreadable[i + 1] === 0) {
      const t = w + words;
      const tb = (i + 1) * bytes;
      const ok = c.orderKind;
      if (ok === 1) order = u8[tb + c.orderByte];
      else if (ok === 2) order = u8[tb + c.orderByte] | (u8[tb + c.orderByte + 1] << 8);
      else if (ok === 3) order = u32[t + c.flagsW] & 0xff;
      const hk = c.hugeKind;
      if (hk === 1) huge = u8[tb + c.hugeByte] === c.hugeValue;
      else if (hk === 2) huge = (u8[tb + c.hugeByte] | (u8[tb + c.hugeByte + 1] << 8)) === c.hugeValue;
      else if (hk === 3) huge = (u32[t + c.flagsW] & c.hugeLo) !== 0 || (u32[t + c.flagsW + 1] & c.hugeHi) !== 0;
      else if (hk === 4) huge = mc === c.hugeValue;
      if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
    }
    const anon = (u32[w + c.mappingW] & 1) !== 0 && !slab;
    const offline = !slab && mc === c.offlineValue;
    let cls = KEEP;
    let n = 2 ** order;
    if (c.excludeFree && !slab && mc === c.buddyValue) {
      const privLo = u32[w + c.privateW];
      if (u32[w + c.privateW + 1] !== 0 || privLo >= c.freeAreaLength) {
        counts[C_INVALID_FREE_ORDER]++;
        // makedumpfile keeps such a page without looking further; a poisoned one is still left out here.
        if (!poisoned) continue;
        cls = C_HWPOISON;
        n = 1;
      } else {
        cls = C_FREE;
        n = 2 ** privLo;
      }
    } else if (c.excludeFree && mc === c.unacceptedValue) {
      cls = C_FREE;
      n = 2 ** c.unacceptedOrder;
    } else {
      const cache = (fl & c.lru) !== 0 || ((c.swapbacked === 0 || (fl & c.swapbacked) !== 0) && (fl & c.swapcache) !== 0);
      const isPrivate = (fl & c.private) !== 0;
      if (c.excludeCache && cache && !isPrivate && !anon) cls = C_CACHE;
      else if (c.excludeCachePri && cache && !anon) cls = isPrivate ? C_CACHE_PRIVATE : C_CACHE;
      else if (c.excludeUser && (anon || huge)) cls = C_USER;
      else if (poisoned) cls = C_HWPOISON;
      else if (offline) cls = C_OFFLINE;
    }
    if (cls === KEEP) continue;
    const blockEnd = Math.min(pfn + n, end);
    if (n === 1) clear(dumpable, pfn - start);
    else clearRange(dumpable, pfn - start, blockEnd - start);
    counts[cls] += blockEnd - pfn;
    if (poisoned) out.poisoned.add(pfn, blockEnd);
    if (offline) out.offline.add(pfn, blockEnd);
    if (n > 1) skipUntil = pfn + n;
  }
  return skipUntil;
}

function clear(bitmap: Uint8Array, i: number): void {
  bitmap[i >>> 3] &= ~(1 << (i & 7));
}

/** Clears bits [a, b). */
export function clearRange(bitmap: Uint8Array, a: number, b: number): void {
  while (a < b && (a & 7) !== 0) clear(bitmap, a++);
  while (b > a && (b & 7) !== 0) clear(bitmap, --b);
  if (a < b) bitmap.fill(0, a >>> 3, b >>> 3);
}

/** Sets bits [a, b). */
export function setRange(bitmap: Uint8Array, a: number, b: number): void {
  while (a < b && (a & 7) !== 0) {
    bitmap[a >>> 3] |= 1 << (a & 7);
    a++;
  }
  while (b > a && (b & 7) !== 0) {
    b--;
    bitmap[b >>> 3] |= 1 << (b & 7);
  }
  if (a < b) bitmap.fill(0xff, a >>> 3, b >>> 3);
}
