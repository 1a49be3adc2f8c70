// The kdump format on the real fixture at -d 31 and -d 0, beside makedumpfile -c and -l at the same level, in the same run.

import { expectSummary, outputPath, slimCore, type Scenario, type ScenarioContext } from './scenarios.js';
import { shellQuote as q } from './measure.js';

const MiB = 1 << 20;
export const KDUMP_LEVELS = [31, 0] as const;

export function kdumpScenarios(ctx: ScenarioContext, withMakedumpfile: boolean): Scenario[] {
  const IN = q(ctx.inputPath);
  const out = (id: string) => outputPath(ctx, id);
  return KDUMP_LEVELS.flatMap((d) => {
    const mdf = (flag: '-c' | '-l'): Scenario => {
      const id = `mdf${flag}-d${d}`;
      return {
        id, label: `\`makedumpfile ${flag} -d ${d} IN FILE\``, tool: 'baseline', readsWholeInput: true, comparedWith: [],
        spec: { script: (t) => `${t(`makedumpfile ${flag} -d ${d} ${IN} ${q(out(id))}`)} > /dev/null`, outputs: [out(id)], minOutputBytes: MiB },
      };
    };
    const ours = (compress: string, threads?: number): Scenario => {
      const id = `kdump-${compress}-d${d}${threads === undefined ? '' : `-t${threads}`}`;
      const threadArg = threads === undefined ? '' : ` --threads ${threads}`;
      const against = withMakedumpfile ? [`mdf-c-d${d}`, `mdf-l-d${d}`] : [];
      return {
        id, label: `kdump -d ${d} --compress ${compress}${threadArg} → new FILE (\`--no-sync\`)`, tool: 'slim-core', readsWholeInput: true,
        comparedWith: against, sizeComparedWith: against,
        spec: {
          script: (t) => t(slimCore(ctx, `${IN} --mode full -d ${d} --format kdump --compress ${compress}${threadArg} -o ${q(out(id))} --no-sync`)),
          outputs: [out(id)], check: expectSummary('full', MiB), minOutputBytes: MiB,
        },
      };
    };
    return [
      ...(withMakedumpfile ? [mdf('-c'), mdf('-l')] : []),
      ours('zlib'),
      // One thread: what the second core adds.
      ...(d === 31 ? [ours('zlib', 1)] : []),
      ours('zstd'),
      ours('snappy'),
    ];
  });
}
