// The `dmesg <file>` command: prints the crashed kernel's log from a vmcore, as vmcore-dmesg does.

import type { CommandModule } from 'yargs';
import { IoError } from '../errors.js';
import { buildAddressMap } from '../klog/address-map.js';
import { formatDmesgBytes } from '../klog/dmesg-format.js';
import { readKernelLog, type KernelLog } from '../klog/kernel-log.js';
import { openFileMemory } from '../klog/physical-memory.js';

/** Opens a vmcore file and reads its kernel log. */
export async function loadKernelLog(path: string): Promise<KernelLog> {
  const opened = await openFileMemory(path);
  try {
    const addressMap = buildAddressMap(opened.phdrs, opened.vmcoreinfo, opened.machine);
    return readKernelLog(opened.memory, opened.vmcoreinfo, addressMap, opened.format.endian, opened.wordSize);
  } finally {
    await opened.close();
  }
}

function writeOut(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (err) => (err ? reject(new IoError(`stdout: write failed: ${err.message}`, { cause: err })) : resolve()));
  });
}

export const dmesgCommand: CommandModule<{}, { file: string }> = {
  command: 'dmesg <file>',
  describe: "Print the crashed kernel's log (printk buffer) from a vmcore, as vmcore-dmesg does",
  builder: (yargs) => yargs.positional('file', { type: 'string', demandOption: true, describe: 'ELF vmcore (kdump /proc/vmcore copy)' }),
  handler: async (args) => {
    await writeOut(formatDmesgBytes(await loadKernelLog(args.file)));
  },
};
