// VMCOREINFO note decoding: KEY=value lines, and the few keys slim-core acts on.

import type { Note } from './note.js';

export const VMCOREINFO_NAME = 'VMCOREINFO';
export const DEFAULT_PAGE_SIZE = 4096;
const MIN_PAGE_SIZE = 4096;
const MAX_PAGE_SIZE = 1 << 20;

export function isVmcoreinfo(note: Note): boolean {
  return note.name === VMCOREINFO_NAME && note.type === 0;
}

/** Parses KEY=value lines; the first value of a repeated key wins, as in the kernel's readers. */
export function parseVmcoreinfo(desc: Buffer): Map<string, string> {
  const map = new Map<string, string>();
  let text = desc.toString('latin1');
  const nul = text.indexOf('\0');
  if (nul >= 0) text = text.slice(0, nul);
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!map.has(key)) map.set(key, line.slice(eq + 1));
  }
  return map;
}

/** PAGESIZE from VMCOREINFO when it is a power of two from 4 KiB to 1 MiB; otherwise undefined. */
export function vmcoreinfoPageSize(info: Map<string, string> | undefined): number | undefined {
  const raw = info?.get('PAGESIZE');
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const size = Number(raw);
  if (size < MIN_PAGE_SIZE || size > MAX_PAGE_SIZE || (size & (size - 1)) !== 0) return undefined;
  return size;
}
