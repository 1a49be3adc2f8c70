// The `dmesg <file>` command: prints the crashed kernel's log from a vmcore, as vmcore-dmesg does.

import type { CommandModule } from 'yargs';
import { IoError } from '../errors.js';
import { formatDmesgBytes } from '../klog/dmesg-format.js';
import { loadKernelLog } from '../pipeline/kernel-log-source.js';

function writeOut(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (err) => (err ? reject(new IoError(`stdout: write failed: ${err.message}`, { cause: err })) : resolve()));
  });
}

export const dmesgCommand: CommandModule<{}, { file: string }> = {
  command: 'dmesg <file>',
  describe: "Print the crashed kernel's log (printk buffer) from a vmcore, as vmcore-dmesg does",
  builder: (yargs) => yargs.positional('file', { type: 'string', demandOption: true, describe: 'vmcore: ELF (a /proc/vmcore copy) or kdump-compressed, flattened or not' }),
  handler: async (args) => {
    await writeOut(formatDmesgBytes(await loadKernelLog(args.file)));
  },
};
