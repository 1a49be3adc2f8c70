// The `dmesg <file>` command: prints the crashed kernel's log from a vmcore, as vmcore-dmesg does.

import type { CommandModule } from 'yargs';
import { formatDmesgBytes } from '../klog/dmesg-format.js';
import { loadKernelLog } from '../pipeline/kernel-log-source.js';
import { pathArgument } from './format.js';
import { writeStdout } from './stdout.js';

export const dmesgCommand: CommandModule<{}, { file: string }> = {
  command: 'dmesg <file>',
  describe: "Print the crashed kernel's log (printk buffer) from a vmcore, as vmcore-dmesg does",
  builder: (yargs) => yargs.positional('file', { type: 'string', demandOption: true, describe: 'vmcore: ELF (a /proc/vmcore copy) or kdump-compressed, flattened or not; or - for stdin (ELF only)' }),
  handler: async (args) => {
    await writeStdout(formatDmesgBytes(await loadKernelLog(pathArgument(args.file, 'file'))));
  },
};
