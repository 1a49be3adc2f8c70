// Start-up beside bare `node -e 0` (issue #13): --version, inspect and a slim capture of the real fixture, as ratios.

import { expectSummary, outputPath, slimCore, type Scenario, type ScenarioContext } from './scenarios.js';
import { shellQuote as q } from './measure.js';
import type { ScenarioResult, Target } from './report.js';

const NODE = q(process.execPath);
const MAX_TIME_RATIO = 1.5;
const MAX_RSS_RATIO = 1.2;
export const BARE_NODE_ID = 'node-e0';
const OURS = ['startup-version', 'startup-inspect', 'startup-slim'];

export function startupScenarios(ctx: ScenarioContext): Scenario[] {
  const IN = q(ctx.inputPath);
  const CLI = `${NODE} ${q(ctx.cli)}`;
  const slimOut = outputPath(ctx, 'startup-slim');
  // Ratios against bare node are worked out in startupTargets, as time and RSS multiples rather than throughput.
  const run = (id: string, label: string, tool: Scenario['tool'], command: string, extra: Partial<Scenario['spec']> = {}): Scenario => ({
    id, label, tool, readsWholeInput: false, comparedWith: [], spec: { script: (t) => `${t(command)} > /dev/null`, outputs: [], ...extra },
  });
  return [
    run(BARE_NODE_ID, '`node -e 0`', 'baseline', `${NODE} -e 0`),
    run('startup-version', '`slim-core --version`', 'slim-core', `${CLI} --version`),
    run('startup-inspect', '`slim-core inspect IN`', 'slim-core', `${CLI} inspect ${IN}`),
    run('startup-slim', 'slim capture → new FILE (`--mode slim --no-sync`)', 'slim-core', slimCore(ctx, `${IN} --mode slim -o ${q(slimOut)} --no-sync`), {
      outputs: [slimOut], check: expectSummary('slim', 4096), minOutputBytes: 4096,
    }),
  ];
}

/** Each command's median time and peak RSS over bare node's, in the same run: at most 1.5× and 1.2×. */
export function startupTargets(results: ScenarioResult[]): Target[] {
  const node = results.find((r) => r.id === BARE_NODE_ID);
  const targets: Target[] = [];
  for (const id of OURS) {
    const ours = results.find((r) => r.id === id);
    if (!ours) continue;
    const name = `start-up: ${ours.label} vs \`node -e 0\``;
    if (ours.medianSeconds === undefined || ours.peakRssMiB === undefined || node?.medianSeconds === undefined || node.peakRssMiB === undefined) {
      targets.push({ name, value: '–', status: 'n/a', note: ours.error ?? node?.error ?? '`node -e 0` not run' });
      continue;
    }
    const time = ours.medianSeconds / node.medianSeconds;
    const rss = ours.peakRssMiB / node.peakRssMiB;
    targets.push({
      name,
      value: `time ${time.toFixed(2)}× (≤ ${MAX_TIME_RATIO}×), peak RSS ${rss.toFixed(2)}× (≤ ${MAX_RSS_RATIO}×)`,
      status: time <= MAX_TIME_RATIO && rss <= MAX_RSS_RATIO ? 'met' : 'NOT met',
      note: `${ours.medianSeconds.toFixed(3)} s, ${ours.peakRssMiB.toFixed(1)} MiB against ${node.medianSeconds.toFixed(3)} s, ${node.peakRssMiB.toFixed(1)} MiB`,
    });
  }
  return targets;
}
