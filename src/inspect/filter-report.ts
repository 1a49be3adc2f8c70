// The page filter's summary as JSON and as a line of text, for --json, the capture's notices and inspect.

import { FilterFlag, PageClassCode, type FilterSummary } from '../notes/filter-note.js';

const JSON_NAMES: Record<number, string> = {
  [PageClassCode.ZERO]: 'zero',
  [PageClassCode.CACHE]: 'cache',
  [PageClassCode.CACHE_PRIVATE]: 'cachePrivate',
  [PageClassCode.USER]: 'user',
  [PageClassCode.FREE]: 'free',
  [PageClassCode.HWPOISON]: 'hwpoison',
  [PageClassCode.OFFLINE]: 'offline',
  [PageClassCode.UNCLASSIFIED]: 'unclassified',
  [PageClassCode.KEPT]: 'kept',
};

export interface FilterJson {
  dumpLevel: number;
  pageFlagsChecked: boolean;
  filtered: boolean;
  /** Pages left out per class (unclassified and kept: pages kept). */
  pages: Record<string, number>;
}

export function filterJson(summary: FilterSummary): FilterJson {
  const pages: Record<string, number> = {};
  for (const [code, n] of [...summary.pages.entries()].sort((a, b) => a[0] - b[0])) pages[JSON_NAMES[code] ?? `class${code}`] = n;
  return {
    dumpLevel: summary.dumpLevel,
    pageFlagsChecked: (summary.flags & FilterFlag.PAGE_FLAGS_CHECKED) !== 0,
    filtered: (summary.flags & FilterFlag.NOT_FILTERED) === 0,
    pages,
  };
}

export function formatFilterSummary(summary: FilterSummary): string {
  return describeFilter(filterJson(summary));
}

/** One line for `inspect`: from the JSON form, which is what inspect keeps. */
export function describeFilter(f: FilterJson): string {
  if (!f.filtered) return `dump level ${f.dumpLevel}, not applied: the page descriptors could not be read`;
  const parts = Object.entries(f.pages).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n}`);
  return `dump level ${f.dumpLevel}${f.pageFlagsChecked ? ', page flags checked' : ''}; pages left out: ${parts.length > 0 ? parts.join(', ') : 'none'}`;
}
