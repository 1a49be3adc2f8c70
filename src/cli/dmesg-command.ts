// The `dmesg <file>` command: prints the crashed kernel's log from a vmcore, as vmcore-dmesg does.

import type { CommandModule } from 'yargs';
import { pathArgument } from './format.js';

export const dmesgCommand: CommandModule<{}, { file: string }> = {
  command: 'dmesg <file>',
  describe: "Print the crashed kernel's log (printk buffer) from a vmcore, as vmcore-dmesg does",
  builder: (yargs) => yargs.positional('file', { type: 'string', demandOption: true, describe: 'vmcore: ELF (a /proc/vmcore copy) or kdump-compressed, flattened or not; or - for stdin (ELF only)' }),
  handler: async (args) => {
    const [{ formatDmesgBytes }, { loadKernelLog }, { writeStdout }] = await Promise.all([import('../klog/dmesg-format.js'), import('../pipeline/kernel-log-source.js'), import('./stdout.js')]);
    await writeStdout(formatDmesgBytes(await loadKernelLog(pathArgument(args.file, 'file'))));
  },
};
