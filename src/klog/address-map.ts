// Kernel virtual to physical addresses, from what the dump itself says: PT_LOAD pairs and VMCOREINFO numbers.

import { PT_LOAD } from '../elf/constants.js';
import type { ProgramHeaderTable } from '../elf/program-header-table.js';

export interface AddressMap {
  toPhysical(vaddr: bigint): bigint | undefined;
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;
/** x86-64 __START_KERNEL_map: the kernel image mapping starts here, KASLR or not. */
const X86_64_START_KERNEL_MAP = 0xffffffff80000000n;
/** x86-64 KERNEL_IMAGE_SIZE with KASLR, used when VMCOREINFO lacks NUMBER(KERNEL_IMAGE_SIZE). */
const X86_64_DEFAULT_KERNEL_IMAGE_SIZE = 1n << 30n;
const U64 = (1n << 64n) - 1n;

/** A VMCOREINFO NUMBER(): the kernel prints most in decimal (phys_base may be negative), a few as 0x hex. */
export function parseVmcoreinfoNumber(raw: string | undefined): bigint | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^-?\d+$/.test(text)) return BigInt(text);
  if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text);
  return undefined;
}

/**
 * Order of trust: a PT_LOAD that maps the address (what vmcore-dmesg itself uses), then the
 * architecture's kernel-image rule. SYMBOL() values are run-time addresses, KASLR slide included,
 * so KERNELOFFSET must not be added again; on x86-64 the slide shows up in phys_base instead.
 */
export function buildAddressMap(
  phdrs: ProgramHeaderTable,
  vmcoreinfo: Map<string, string>,
  machine: number,
): AddressMap {
  // Table indices, not an object per PT_LOAD: the table may hold 128 Ki of them.
  const picked: number[] = [];
  for (let i = 0; i < phdrs.length; i++) if (phdrs.type(i) === PT_LOAD && phdrs.memsz(i) > 0n && !isUnsetVaddr(phdrs.vaddr(i))) picked.push(i);
  const loads = Uint32Array.from(picked);
  const fallback = kernelImageRule(vmcoreinfo, machine);

  return {
    toPhysical(vaddr) {
      for (const i of loads) {
        const vstart = phdrs.vaddr(i);
        if (vaddr >= vstart && vaddr < vstart + phdrs.memsz(i)) return phdrs.paddr(i) + (vaddr - vstart);
      }
      return fallback?.(vaddr);
    },
  };
}

/** p_vaddr of all ones (in either ELF class) means "no virtual address" in /proc/vmcore. */
function isUnsetVaddr(vaddr: bigint): boolean {
  return vaddr === U64 || vaddr === 0xffffffffn;
}

function kernelImageRule(vmcoreinfo: Map<string, string>, machine: number): ((vaddr: bigint) => bigint | undefined) | undefined {
  if (machine === EM_X86_64) {
    const physBase = parseVmcoreinfoNumber(vmcoreinfo.get('NUMBER(phys_base)'));
    if (physBase === undefined) return undefined;
    const imageSize = parseVmcoreinfoNumber(vmcoreinfo.get('NUMBER(KERNEL_IMAGE_SIZE)')) ?? X86_64_DEFAULT_KERNEL_IMAGE_SIZE;
    return (vaddr) => {
      if (vaddr < X86_64_START_KERNEL_MAP || vaddr - X86_64_START_KERNEL_MAP >= imageSize) return undefined;
      const paddr = vaddr - X86_64_START_KERNEL_MAP + physBase;
      return paddr >= 0n ? paddr : undefined;
    };
  }
  if (machine === EM_AARCH64) {
    const voffset = parseVmcoreinfoNumber(vmcoreinfo.get('NUMBER(kimage_voffset)'));
    if (voffset === undefined) return undefined;
    // Only kernel-image addresses reach this rule: linear-map ones are covered by the PT_LOADs.
    return (vaddr) => (vaddr >= voffset ? vaddr - voffset : undefined);
  }
  return undefined;
}
