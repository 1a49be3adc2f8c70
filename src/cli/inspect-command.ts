// `inspect FILE`: print a dump's headers and notes, decoded.

import type { Argv, CommandModule } from 'yargs';
import { formatInspect, inspectDump } from '../inspect/inspect.js';
import { pathArgument } from './format.js';

export const inspectCommand: CommandModule<object, { file: string; json: boolean }> = {
  command: 'inspect <file>',
  describe: 'Show a dump\'s headers, segments and notes (CPU notes, VMCOREINFO, cause, MCE records, omitted ranges): ELF or kdump-compressed, flattened too',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'dump to read (ELF or kdump), or - for stdin (ELF only)' })
      .option('json', { type: 'boolean', default: false, describe: 'print stable JSON (docs/inspect-json.md)' }) as unknown as Argv<{ file: string; json: boolean }>,
  handler: async (args) => {
    const report = await inspectDump(pathArgument(args.file, 'file'));
    process.stdout.write(args.json ? JSON.stringify(report, null, 2) + '\n' : formatInspect(report));
  },
};
