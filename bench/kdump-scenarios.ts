// The kdump format on the real fixture beside makedumpfile -c and -l (-d 0), with the output sizes, in the same run.

import { expectSummary, outputPath, slimCore, type Scenario, type ScenarioContext } from './scenarios.js';
import { shellQuote as q } from './measure.js';

const MiB = 1 << 20;

export function kdumpScenarios(ctx: ScenarioContext, withMakedumpfile: boolean): Scenario[] {
  const IN = q(ctx.inputPath);
  const out = (id: string) => outputPath(ctx, id);
  const mdf = (id: string, flag: string): Scenario => ({
    id, label: `\`makedumpfile ${flag} -d 0 IN FILE\``, tool: 'baseline', readsWholeInput: true, comparedWith: [],
    spec: { script: (t) => `${t(`makedumpfile ${flag} -d 0 ${IN} ${q(out(id))}`)} > /dev/null`, outputs: [out(id)], minOutputBytes: MiB },
  });
  const ours = (id: string, compress: string, against: string[]): Scenario => ({
    id, label: `kdump --compress ${compress} → new FILE (\`--no-sync\`)`, tool: 'slim-core', readsWholeInput: true,
    comparedWith: withMakedumpfile ? against : [],
    spec: {
      script: (t) => t(slimCore(ctx, `${IN} --mode full --format kdump --compress ${compress} -o ${q(out(id))} --no-sync`)),
      outputs: [out(id)], check: expectSummary('full', MiB), minOutputBytes: MiB,
    },
  });
  return [
    ...(withMakedumpfile ? [mdf('mdf-c', '-c'), mdf('mdf-l', '-l')] : []),
    ours('kdump-zlib', 'zlib', ['mdf-c']),
    ours('kdump-zstd', 'zstd', ['mdf-c', 'mdf-l']),
    ours('kdump-snappy', 'snappy', ['mdf-l']),
  ];
}
