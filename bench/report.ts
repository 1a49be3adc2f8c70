// Turns timed runs into medians, ratios to baselines and the targets, as a markdown table and as JSON.

import { kdumpTargets } from './kdump-targets.js';
import type { RunOutcome } from './measure.js';
import { formatSize, GiB } from './options.js';

export interface InputInfo {
  label: string;
  bytes: number;
  kind: 'fixture' | 'dense' | 'sparse';
  /** Too big to stay in the page cache with its output: the figures measure the disk. */
  diskBound: boolean;
}

export interface ScenarioResult {
  input: InputInfo;
  id: string;
  label: string;
  tool: 'slim-core' | 'baseline';
  /** False for slim runs, which read only the headers and notes: GB/s of the input means nothing there. */
  readsWholeInput: boolean;
  runs: Array<Omit<RunOutcome, 'stderrTail'>>;
  error?: string;
  medianSeconds?: number;
  gbPerSecond?: number;
  peakRssMiB?: number;
  /** Size of the output file of the last run, for scenarios that compare sizes (kdump against makedumpfile). */
  outputBytes?: number;
  /** Throughput of this scenario over the other's, same input, same bench run. */
  ratios: Array<{ id: string; label: string; ratio: number }>;
  /** Output size of this scenario over the other's. */
  sizeRatios?: Array<{ id: string; label: string; ratio: number }>;
}

export interface Target {
  name: string;
  value: string;
  status: 'met' | 'NOT met' | 'n/a';
  note?: string;
}

const RSS_LIMIT_MIB = 128;
// "Not growing": the largest input may cost this much more RSS than the smallest, for allocator noise.
const RSS_GROWTH_TOLERANCE = 1.1;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(input: InputInfo, scenario: Pick<ScenarioResult, 'id' | 'label' | 'tool' | 'readsWholeInput'>, runs: RunOutcome[]): ScenarioResult {
  const { id, label, tool, readsWholeInput } = scenario;
  const result: ScenarioResult = { input, id, label, tool, readsWholeInput, runs: runs.map(({ stderrTail: _tail, ...r }) => r), ratios: [] };
  const failed = runs.find((r) => r.error);
  if (failed) {
    result.error = failed.error;
    return result;
  }
  result.medianSeconds = median(runs.map((r) => r.seconds));
  if (scenario.readsWholeInput) result.gbPerSecond = input.bytes / 1e9 / result.medianSeconds;
  result.peakRssMiB = Math.max(...runs.map((r) => r.peakRssKiB)) / 1024;
  result.outputBytes = runs[runs.length - 1].outputBytes;
  return result;
}

/** Fills in each scenario's ratios to the scenarios it names, within one input. */
export function addRatios(group: ScenarioResult[], comparedWith: Map<string, string[]>): void {
  for (const r of group) {
    for (const otherId of comparedWith.get(r.id) ?? []) {
      const other = group.find((o) => o.id === otherId);
      if (r.medianSeconds === undefined || other?.medianSeconds === undefined) continue;
      r.ratios.push({ id: other.id, label: other.label, ratio: other.medianSeconds / r.medianSeconds });
    }
  }
}

/** Fills in each scenario's output size over the sizes of the scenarios it names, within one input. */
export function addSizeRatios(group: ScenarioResult[], comparedWith: Map<string, string[] | undefined>): void {
  for (const r of group) {
    for (const otherId of comparedWith.get(r.id) ?? []) {
      const other = group.find((o) => o.id === otherId);
      if (!r.outputBytes || !other?.outputBytes) continue;
      (r.sizeRatios ??= []).push({ id: other.id, label: other.label, ratio: r.outputBytes / other.outputBytes });
    }
  }
}

const fmt = (n: number | undefined, digits: number): string => (n === undefined ? '–' : n.toFixed(digits));

export function inputCell(input: InputInfo): string {
  return `${input.label}${input.diskBound ? ' (disk-bound)' : ''}`;
}

// GitHub's tables split cells on "|" even inside code spans.
const cell = (text: string): string => text.replaceAll('|', '\\|');

export function markdownTable(results: ScenarioResult[]): string {
  const lines = [
    '| input | scenario | runs | median wall (s) | median GB/s | peak RSS (MiB) | throughput vs baselines |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of results) {
    const vs = r.error ? `**failed**: ${r.error}` : r.ratios.map((x) => `${x.ratio.toFixed(2)}× ${x.label}`).join('; ');
    const sizes = (r.sizeRatios ?? []).map((x) => `; ${x.ratio.toFixed(3)}× the size of ${x.label}`).join('');
    const label = r.id.startsWith('kdump') || r.id.startsWith('mdf-') ? `${r.label} (${r.outputBytes?.toLocaleString('en') ?? '?'} bytes out${sizes})` : r.label;
    lines.push(`| ${inputCell(r.input)} | ${cell(label)} | ${r.runs.length} | ${fmt(r.medianSeconds, 3)} | ${fmt(r.gbPerSecond, 2)} | ${fmt(r.peakRssMiB, 1)} | ${cell(vs)} |`);
  }
  return lines.join('\n');
}

function ratioTarget(name: string, scenario: ScenarioResult | undefined, baselineId: string, min: number, applies = true, why = ''): Target {
  const ratio = scenario?.ratios.find((x) => x.id === baselineId)?.ratio;
  const note = scenario?.input.diskBound ? 'disk-bound figure' : undefined;
  if (ratio === undefined) return { name, value: '–', status: 'n/a', note: scenario?.error ?? 'not run' };
  if (!applies) return { name, value: `${ratio.toFixed(2)}×`, status: 'n/a', note: why };
  return { name, value: `${ratio.toFixed(2)}× (≥ ${min}×)`, status: ratio >= min ? 'met' : 'NOT met', note };
}

export function computeTargets(results: ScenarioResult[]): Target[] {
  const targets: Target[] = [];
  const find = (kind: InputInfo['kind'], bytes: number | undefined, id: string) => results.find((r) => r.input.kind === kind && (bytes === undefined || r.input.bytes === bytes) && r.id === id);
  const denseSizes = [...new Set(results.filter((r) => r.input.kind === 'dense').map((r) => r.input.bytes))].sort((a, b) => a - b);
  for (const size of denseSizes) {
    const label = results.find((r) => r.input.kind === 'dense' && r.input.bytes === size)?.input.label ?? String(size);
    targets.push(ratioTarget(`${label}: full → /dev/null vs Node loop → /dev/null`, find('dense', size, 'full-devnull'), 'node-devnull', 0.9));
    targets.push(ratioTarget(`${label}: full → new file vs Node loop → new file`, find('dense', size, 'full-file'), 'node-file', 0.9, size >= GiB, 'the target is for inputs ≥ 1 GiB'));
    for (const sink of ['devnull', 'file'] as const) {
      const where = sink === 'devnull' ? '/dev/null' : 'new file';
      targets.push(ratioTarget(`${label}: full, mmap → ${where} vs read(2) → ${where}`, find('dense', size, `full-mmap-${sink}`), `full-read-${sink}`, 1));
    }
    if (size === 4 * GiB) targets.push(ratioTarget(`${label}: full, mmap → /dev/null vs \`cat IN > /dev/null\``, find('dense', size, 'full-mmap-devnull'), 'cat-devnull', 0.9));
    const faults = find('dense', size, 'full-faults');
    targets.push(ratioTarget(`${label}: ${faults?.label ?? 'full with faults'} vs full with none`, faults, 'full-devnull', 0.95));
  }
  const slimBase = denseSizes.includes(GiB) ? GiB : denseSizes[0];
  const largestSparse = Math.max(...results.filter((r) => r.input.kind === 'sparse').map((r) => r.input.bytes));
  for (const id of ['slim-file', 'slim-pipe']) {
    const small = slimBase === undefined ? undefined : find('dense', slimBase, id);
    const big = find('sparse', largestSparse, id);
    const name = `slim (${id === 'slim-file' ? 'file' : 'pipe'}): time on ${big?.input.label ?? 'largest'} vs on ${small?.input.label ?? '1 GiB'}`;
    if (small?.medianSeconds === undefined || big?.medianSeconds === undefined) targets.push({ name, value: '–', status: 'n/a', note: big?.error ?? small?.error ?? 'not run' });
    else {
      const ratio = big.medianSeconds / small.medianSeconds;
      targets.push({ name, value: `${ratio.toFixed(2)}× (≤ 1.2×)`, status: ratio <= 1.2 ? 'met' : 'NOT met' });
    }
  }
  const ours = results.filter((r) => r.tool === 'slim-core' && r.peakRssMiB !== undefined);
  const rssName = 'peak RSS of slim-core, every scenario';
  const worst = [...ours].sort((a, b) => (b.peakRssMiB ?? 0) - (a.peakRssMiB ?? 0))[0];
  if (!worst?.peakRssMiB) targets.push({ name: rssName, value: '–', status: 'n/a', note: 'nothing ran' });
  else {
    const status = worst.peakRssMiB <= RSS_LIMIT_MIB ? 'met' : 'NOT met';
    targets.push({ name: rssName, value: `${worst.peakRssMiB.toFixed(1)} MiB (≤ ${RSS_LIMIT_MIB})`, status, note: `worst: ${inputCell(worst.input)}, ${worst.label}` });
  }
  const fullRss = (size: number) => Math.max(...ours.filter((r) => r.input.kind === 'dense' && r.input.bytes === size && r.id.startsWith('full')).map((r) => r.peakRssMiB ?? 0));
  const [smallest, largest] = [denseSizes[0], denseSizes[denseSizes.length - 1]];
  const growthName = `peak RSS of full mode, ${formatSize(smallest ?? 0)} → ${formatSize(largest ?? 0)} input`;
  if (denseSizes.length < 2) targets.push({ name: growthName, value: '–', status: 'n/a', note: 'needs two input sizes' });
  else {
    const [lo, hi] = [fullRss(smallest), fullRss(largest)];
    const growth = `not growing: at most +${Math.round((RSS_GROWTH_TOLERANCE - 1) * 100)}%`;
    targets.push({ name: growthName, value: `${lo.toFixed(1)} → ${hi.toFixed(1)} MiB`, status: hi <= lo * RSS_GROWTH_TOLERANCE ? 'met' : 'NOT met', note: growth });
  }
  for (const sink of ['devnull', 'file'] as const) {
    const where = sink === 'devnull' ? '/dev/null' : 'new file';
    targets.push(ratioTarget(`real fixture: full, mmap → ${where} vs read(2) → ${where}`, find('fixture', undefined, `full-mmap-${sink}`), `full-read-${sink}`, 1));
  }
  const ourFixture = find('fixture', undefined, 'full-file');
  const mdf = ourFixture?.ratios.find((x) => x.id === 'makedumpfile');
  targets.push(mdf
    ? { name: 'real fixture: full → new file vs `makedumpfile -E -d 0`', value: `${(1 / mdf.ratio).toFixed(2)}× its time (${ourFixture?.medianSeconds?.toFixed(3)} s vs ${((ourFixture?.medianSeconds ?? 0) * mdf.ratio).toFixed(3)} s)`, status: mdf.ratio >= 1 ? 'met' : 'NOT met', note: 'aim: beat it (time < 1×)' }
    : { name: 'real fixture: full → new file vs `makedumpfile -E -d 0`', value: '–', status: 'n/a', note: ourFixture?.error ?? 'not run' });
  targets.push(...kdumpTargets(results));
  return targets;
}

export function targetsTable(targets: Target[]): string {
  const lines = ['| target | value | status | note |', '| --- | --- | --- | --- |'];
  for (const t of targets) lines.push(`| ${cell(t.name)} | ${t.value} | ${t.status} | ${cell(t.note ?? '')} |`);
  return lines.join('\n');
}
