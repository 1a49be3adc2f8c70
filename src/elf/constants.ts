// ELF constants and field offsets for the headers that a vmcore uses.

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_NIDENT = 16;

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const ET_CORE = 4;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_NOTE = 4;

/** e_phnum value meaning "the real count is in section header 0's sh_info". */
export const PN_XNUM = 0xffff;

export const NT_PRSTATUS = 1;
export const NT_PRPSINFO = 3;
export const NT_TASKSTRUCT = 4;
export const NT_DISKDUMP = 0x70000001;

export const EM_NAMES: Record<number, string> = {
  2: 'SPARC',
  3: 'i386',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 's390',
  40: 'ARM',
  42: 'SuperH',
  43: 'SPARCv9',
  50: 'IA-64',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};

/** Field offsets and sizes, per ELF class. */
export interface ClassLayout {
  ehsize: number;
  phentsize: number;
  shentsize: number;
  eh: {
    type: number; machine: number; version: number; entry: number; phoff: number; shoff: number;
    flags: number; ehsize: number; phentsize: number; phnum: number; shentsize: number; shnum: number; shstrndx: number;
  };
  ph: { type: number; flags: number; offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; align: number };
  sh: { name: number; type: number; flags: number; addr: number; offset: number; size: number; link: number; info: number; addralign: number; entsize: number };
  /** Size of an address-sized field: 4 or 8. */
  word: 4 | 8;
}

export const ELF64: ClassLayout = {
  ehsize: 64,
  phentsize: 56,
  shentsize: 64,
  eh: { type: 16, machine: 18, version: 20, entry: 24, phoff: 32, shoff: 40, flags: 48, ehsize: 52, phentsize: 54, phnum: 56, shentsize: 58, shnum: 60, shstrndx: 62 },
  ph: { type: 0, flags: 4, offset: 8, vaddr: 16, paddr: 24, filesz: 32, memsz: 40, align: 48 },
  sh: { name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, addralign: 48, entsize: 56 },
  word: 8,
};

export const ELF32: ClassLayout = {
  ehsize: 52,
  phentsize: 32,
  shentsize: 40,
  eh: { type: 16, machine: 18, version: 20, entry: 24, phoff: 28, shoff: 32, flags: 36, ehsize: 40, phentsize: 42, phnum: 44, shentsize: 46, shnum: 48, shstrndx: 50 },
  ph: { type: 0, offset: 4, vaddr: 8, paddr: 12, filesz: 16, memsz: 20, flags: 24, align: 28 },
  sh: { name: 0, type: 4, flags: 8, addr: 12, offset: 16, size: 20, link: 24, info: 28, addralign: 32, entsize: 36 },
  word: 4,
};
