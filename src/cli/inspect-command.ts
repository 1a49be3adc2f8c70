// `inspect FILE`: print a dump's headers and notes, decoded.

import type { Argv, CommandModule } from 'yargs';
import { pathArgument } from './format.js';

export const inspectCommand: CommandModule<object, { file: string; json: boolean; pages: boolean }> = {
  command: 'inspect <file>',
  describe: 'Show a dump\'s headers, segments and notes (CPU notes, VMCOREINFO, cause, MCE records, omitted ranges): ELF or kdump-compressed, flattened too',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'dump to read (ELF or kdump), or - for stdin (ELF only)' })
      .option('json', { type: 'boolean', default: false, describe: 'print stable JSON (docs/inspect-json.md)' })
      .option('pages', { type: 'boolean', default: false, describe: "pages per class, the dump's size at each level and the poisoned pages, as makedumpfile --mem-usage (reads the page descriptors)" }) as unknown as Argv<{ file: string; json: boolean; pages: boolean }>,
  handler: async (args) => {
    if (args.pages) {
      const { pageUsage, formatPageUsage } = await import('../inspect/page-usage.js');
      const usage = await pageUsage(pathArgument(args.file, 'file'));
      process.stdout.write(args.json ? JSON.stringify(usage, null, 2) + '\n' : formatPageUsage(usage));
      return;
    }
    const [{ formatInspectPieces, inspectDump }, { jsonPieces }, { writeStdout }] = await Promise.all([import('../inspect/inspect.js'), import('../inspect/segment-rows.js'), import('./stdout.js')]);
    const report = await inspectDump(pathArgument(args.file, 'file'));
    await writeStdout(args.json ? jsonPieces(report) : formatInspectPieces(report));
  },
};
