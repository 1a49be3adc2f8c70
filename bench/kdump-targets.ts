// Issue #11's targets for the kdump format: -d 31 with zlib faster than makedumpfile -c -d 31, at most 1.05x its size (peak RSS: report.ts's target).

import type { ScenarioResult, Target } from './report.js';

const MAX_SIZE_RATIO = 1.05;

export function kdumpTargets(results: ScenarioResult[]): Target[] {
  const ours = results.find((r) => r.id === 'kdump-zlib-d31');
  const name = (what: string) => `real fixture: kdump -d 31 (zlib) ${what} \`makedumpfile -c -d 31\``;
  if (!ours) return [];
  if (ours.medianSeconds === undefined) return [{ name: name('vs'), value: '–', status: 'n/a', note: ours.error ?? 'not run' }];
  const speed = ours.ratios.find((x) => x.id === 'mdf-c-d31');
  const size = ours.sizeRatios?.find((x) => x.id === 'mdf-c-d31');
  const targets: Target[] = [];
  if (speed) targets.push({ name: name('time vs'), value: `${(1 / speed.ratio).toFixed(2)}× its time`, status: speed.ratio > 1 ? 'met' : 'NOT met', note: 'faster: < 1×' });
  if (size) targets.push({ name: name('size vs'), value: `${size.ratio.toFixed(3)}× (≤ ${MAX_SIZE_RATIO}×)`, status: size.ratio <= MAX_SIZE_RATIO ? 'met' : 'NOT met' });
  return targets;
}
