// `inspect --pages`: what makedumpfile --mem-usage prints for a vmcore: pages per class, the size at each level, poisoned pages.

import { BadInputError, UsageError } from '../errors.js';
import { hex } from '../elf/byte-order.js';
import { readDumpPrefix } from '../dump/prefix.js';
import { pfnExtents } from '../dump/pfn-map.js';
import { fdReadAt, memoryFromSegments } from '../klog/physical-memory.js';
import { createPageClassifier } from '../mm/page-classifier.js';
import { memUsage } from '../mm/mem-usage.js';
import { CYCLE_PFNS } from '../mm/page-selection.js';
import { KeepMap } from '../pipeline/keep-map.js';
import { openSource } from '../sources/byte-source.js';
import { positionalRangeReader } from '../sources/positional-reader.js';

/** The levels whose sizes are worked out exactly (each is one more pass over the page descriptors). */
export const USAGE_LEVELS = [0, 1, 2, 4, 8, 16, 31];

export interface PageUsageReport {
  file: string;
  pageSize: number;
  presentPages: number;
  /** Pages per class at level 31, first match wins, as makedumpfile counts; zero pages among what level 30 keeps. */
  classes: { zero: number; cache: number; cachePrivate: number; user: number; free: number; kernelData: number; hwpoison: number; offline: number; unclassified: number };
  /** Pages a dump at each level holds, and their bytes. */
  levels: { level: number; pages: number; bytes: number }[];
  /** Poisoned and offline pages, whatever their class: never read by a capture. */
  poisoned: { paddr: string; pages: number }[];
  offline: { paddr: string; pages: number }[];
}

export async function pageUsage(path: string | undefined): Promise<PageUsageReport> {
  const source = await openSource(path);
  try {
    if (!source.seekable) throw new UsageError('inspect --pages needs an input that can seek: the page descriptors lie all over memory');
    const prefix = await readDumpPrefix(positionalRangeReader(source));
    const memory = memoryFromSegments(prefix.phdrs, fdReadAt(source.fd, source.name));
    const classifier = createPageClassifier({ phdrs: prefix.phdrs, vmcoreinfo: prefix.vmcoreinfo, machine: prefix.header.machine, read: (p, l, into) => memory.read(p, l, into) });
    if ('unavailable' in classifier) throw new BadInputError(`${source.name}: page usage is not available for ${classifier.unavailable}`);
    const usage = memUsage(classifier);
    const extents = pfnExtents(prefix.phdrs, prefix.pageSize);
    const keptAt = async (level: number) => {
      const keep = new KeepMap({
        maxMapnr: classifier.segmentsMaxMapnr,
        pageSize: prefix.pageSize,
        classify: (s, e, into) => classifier.classifyCycle(s, e, level, into).dumpable,
        excluded: [],
        dropZeroPages: level & 1 ? { fd: source.fd, name: source.name, extents, maxReadErrors: Number.MAX_SAFE_INTEGER } : undefined,
      });
      let pages = 0;
      for (let start = 0; start < classifier.segmentsMaxMapnr; start += CYCLE_PFNS) pages += (await keep.cycle(start / CYCLE_PFNS)).count;
      return { pages, zero: keep.zeroPages };
    };
    const levels: PageUsageReport['levels'] = [];
    let zeroAt31 = 0;
    for (const level of USAGE_LEVELS) {
      const { pages, zero } = await keptAt(level);
      if (level === 31) zeroAt31 = zero;
      levels.push({ level, pages, bytes: pages * prefix.pageSize });
    }
    const c = usage.counts;
    const page = BigInt(prefix.pageSize);
    const ranges = (level: number, key: 'poisoned' | 'offline') => {
      const out: { paddr: string; pages: number }[] = [];
      for (let start = 0; start < classifier.segmentsMaxMapnr; start += CYCLE_PFNS) {
        const v = classifier.classifyCycle(start, Math.min(start + CYCLE_PFNS, classifier.segmentsMaxMapnr), level);
        for (const r of v[key]) out.push({ paddr: hex(BigInt(r.start) * page), pages: r.end - r.start });
      }
      return out;
    };
    return {
      file: source.name,
      pageSize: prefix.pageSize,
      presentPages: usage.presentPages,
      classes: {
        zero: zeroAt31,
        cache: c.cache,
        cachePrivate: c.cachePrivate,
        user: c.user,
        free: c.free,
        kernelData: c.kept - zeroAt31,
        hwpoison: usage.poisonedPages,
        offline: usage.offlinePages,
        unclassified: c.unclassified,
      },
      levels,
      poisoned: ranges(0, 'poisoned'),
      offline: ranges(0, 'offline'),
    };
  } finally {
    await source.close();
  }
}

export function formatPageUsage(r: PageUsageReport): string {
  const row = (type: string, pages: number, excludable: string, what: string) => `${type.padEnd(16)}${String(pages).padEnd(16)}${excludable.padEnd(12)}${what}`;
  const k = r.classes;
  const lines = [
    `${'TYPE'.padEnd(16)}${'PAGES'.padEnd(16)}${'EXCLUDABLE'.padEnd(12)}DESCRIPTION`,
    '-'.repeat(70),
    row('ZERO', k.zero, 'yes', 'Pages filled with zero'),
    row('NON_PRI_CACHE', k.cache, 'yes', 'Cache pages without private flag'),
    row('PRI_CACHE', k.cachePrivate, 'yes', 'Cache pages with private flag'),
    row('USER', k.user, 'yes', 'User process pages'),
    row('FREE', k.free, 'yes', 'Free pages'),
    row('KERN_DATA', k.kernelData, 'no', 'Dumpable kernel data'),
    row('HWPOISON', k.hwpoison, 'always', 'Poisoned pages (PG_hwpoison), never read'),
    row('OFFLINE', k.offline, 'always', 'Logically offline pages'),
    '',
    `page size:              ${r.pageSize}`,
    `Total pages on system:  ${r.presentPages}`,
    `Total size on system:   ${r.presentPages * r.pageSize} Byte`,
    '',
    'Dump level   pages kept   size (bytes)',
    ...r.levels.map((l) => `${String(l.level).padEnd(13)}${String(l.pages).padEnd(13)}${l.bytes}`),
  ];
  if (r.poisoned.length > 0) lines.push('', 'Poisoned pages:', ...r.poisoned.map((p) => `  ${p.paddr} (${p.pages} page${p.pages === 1 ? '' : 's'})`));
  if (r.offline.length > 0) lines.push('', 'Offline pages:', ...r.offline.map((p) => `  ${p.paddr} (${p.pages} page${p.pages === 1 ? '' : 's'})`));
  return lines.join('\n') + '\n';
}
