// What the kdump header says about the dumped machine, taken from the ELF dump: utsname, crash time, CPUs, phys_base, notes.

import type { DumpPrefix } from '../dump/prefix.js';
import { PT_LOAD } from '../elf/constants.js';
import { isVmcoreinfo } from '../elf/vmcoreinfo.js';
import { buildAddressMap, parseVmcoreinfoNumber } from '../klog/address-map.js';
import type { PhysicalMemory } from '../klog/physical-memory.js';
import { UTSNAME_SIZE, utsnameFields } from './header.js';
import type { KdumpMetadata } from './writer.js';

const NT_PRSTATUS = 1;
const X86_64_START_KERNEL_MAP = 0xffffffff80000000n;
const MACHINE_NAMES: Record<number, string> = { 62: 'x86_64', 183: 'aarch64', 21: 'ppc64le', 22: 's390x', 243: 'riscv64' };

/** The 390 bytes of init_uts_ns.name in the dumped memory, or fields rebuilt from VMCOREINFO when they cannot be read. */
export function utsnameOf(prefix: DumpPrefix, memory: PhysicalMemory | undefined): Buffer {
  const info = prefix.vmcoreinfo ?? new Map<string, string>();
  const symbol = info.get('SYMBOL(init_uts_ns)');
  const offset = parseVmcoreinfoNumber(info.get('OFFSET(uts_namespace.name)')) ?? 0n;
  if (symbol && /^[0-9a-f]+$/i.test(symbol) && memory) {
    const paddr = buildAddressMap(prefix.phdrs, info, prefix.header.machine).toPhysical(BigInt(`0x${symbol}`) + offset);
    const bytes = paddr === undefined ? undefined : memory.read(paddr, UTSNAME_SIZE);
    if (bytes && bytes.toString('latin1', 0, 5) === 'Linux') return Buffer.from(bytes);
  }
  return utsnameFields(['Linux', '', info.get('OSRELEASE') ?? '', '', MACHINE_NAMES[prefix.header.machine] ?? '', '']);
}

/** NUMBER(phys_base), or what the kernel-text PT_LOAD implies (x86_64), or 0. */
export function physBaseOf(prefix: DumpPrefix): bigint {
  const given = parseVmcoreinfoNumber(prefix.vmcoreinfo?.get('NUMBER(phys_base)'));
  if (given !== undefined) return given;
  const { phdrs } = prefix;
  // By column: no object per entry tried, of 128 Ki.
  for (let i = 0; i < phdrs.length; i++) {
    const vaddr = phdrs.vaddr(i);
    if (phdrs.type(i) === PT_LOAD && vaddr >= X86_64_START_KERNEL_MAP && vaddr < 0xffffffffffffffffn) return phdrs.paddr(i) - (vaddr - X86_64_START_KERNEL_MAP);
  }
  return 0n;
}

/** `ourNotes` (CAUSE, MCE, OMITTED) follow the input's notes, which are kept byte for byte up to their last real note. */
export function kdumpMetadata(prefix: DumpPrefix, ourNotes: Buffer, memory: PhysicalMemory | undefined): KdumpMetadata {
  const notes = Buffer.concat([prefix.noteSegment.subarray(0, prefix.notes.end), ourNotes]);
  const info = prefix.notes.notes.find(isVmcoreinfo);
  const crashTime = parseVmcoreinfoNumber(prefix.vmcoreinfo?.get('CRASHTIME')) ?? 0n;
  return {
    endian: prefix.format.endian,
    utsname: utsnameOf(prefix, memory),
    crashTime: crashTime > 0n ? crashTime : 0n,
    nrCpus: prefix.notes.notes.filter((n) => n.type === NT_PRSTATUS && n.name === 'CORE').length,
    physBase: physBaseOf(prefix),
    notes,
    vmcoreinfo: info ? { offset: info.desc.byteOffset - prefix.noteSegment.byteOffset, size: info.desc.length } : undefined,
  };
}
