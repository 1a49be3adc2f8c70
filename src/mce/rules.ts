// The one MCE decision table (docs/mce-rules.md): is the address usable, which pages to skip, is the error fatal.
// Every source of records (dump note, crashed kernel's log, user's records) goes through judgeMce.

import { hex } from '../elf/byte-order.js';
import { CPU_VENDOR, type MceRecord } from './record.js';

export type RecordOrigin = 'dump-note' | 'kernel-log' | 'user-records';

export interface MceVerdict {
  /** MCi_STATUS.VAL: the record holds an error at all. */
  valid: boolean;
  /** MCi_STATUS.UC: the error was not corrected. */
  uncorrected: boolean;
  /** MCi_STATUS.PCC: processor context corrupt. */
  pcc: boolean;
  /** VAL and UC, and PCC or a record from the crashed kernel: auto mode chooses a slim dump. */
  fatal: boolean;
  /** The address passes slim-core's usable-address rule (the kernel's, plus coarse granularity). */
  addressUsable: boolean;
  /** MCi_MISC[8:6], where the vendor defines it (Intel, Zhaoxin) and MISCV is set. */
  addressMode?: number;
  addressModeName?: string;
  /** The low valid address bit: MCi_MISC[5:0] (Intel, Zhaoxin) or the SMCA LSB field (AMD, Hygon). */
  granularityBits?: number;
  /** Granularity larger than a page. */
  coarse: boolean;
  /** Granularity above MAX_GRANULARITY_BITS: the address was refused. */
  tooCoarse: boolean;
  /** Page-aligned range to zero-fill, when any. */
  skip?: { paddr: bigint; length: bigint };
  /** Human reasons, in decision order. */
  messages: string[];
}

/** MCi_STATUS bits named by the kernel (arch/x86/include/asm/mce.h). */
export const MCI_STATUS = {
  VAL: 1n << 63n,
  OVER: 1n << 62n,
  UC: 1n << 61n,
  EN: 1n << 60n,
  MISCV: 1n << 59n,
  ADDRV: 1n << 58n,
  PCC: 1n << 57n,
  /** Intel: signaled (SER). */
  S: 1n << 56n,
  /** Intel: action required (SER). */
  AR: 1n << 55n,
  /** AMD: task context corrupt. */
  TCC: 1n << 55n,
  /** AMD: MCA_ADDR holds a valid system physical address (PhysAddrV, where MCA_CONFIG advertises it). */
  PADDRV: 1n << 54n,
  /** AMD: MCA_SYND valid. */
  SYNDV: 1n << 53n,
  /** AMD: uncorrected error whose exception was deferred. */
  DEFERRED: 1n << 44n,
  /** AMD: poison consumed. */
  POISON: 1n << 43n,
} as const;

/** MCi_MISC[8:6] address modes (Intel SDM). */
export const ADDRESS_MODE_NAMES: Record<number, string> = {
  0: 'segment offset',
  1: 'linear',
  2: 'physical',
  3: 'memory',
  4: 'reserved',
  5: 'reserved',
  6: 'reserved',
  7: 'generic',
};
export const MCI_MISC_ADDR_PHYS = 2;

const COMMON_BITS: Array<[bigint, string]> = [
  [MCI_STATUS.VAL, 'VAL'],
  [MCI_STATUS.OVER, 'OVER'],
  [MCI_STATUS.UC, 'UC'],
  [MCI_STATUS.EN, 'EN'],
  [MCI_STATUS.MISCV, 'MISCV'],
  [MCI_STATUS.ADDRV, 'ADDRV'],
  [MCI_STATUS.PCC, 'PCC'],
];
const INTEL_BITS: Array<[bigint, string]> = [...COMMON_BITS, [MCI_STATUS.S, 'S'], [MCI_STATUS.AR, 'AR']];
const AMD_BITS: Array<[bigint, string]> = [
  ...COMMON_BITS,
  [MCI_STATUS.TCC, 'TCC'],
  [MCI_STATUS.PADDRV, 'PADDRV'],
  [MCI_STATUS.SYNDV, 'SYNDV'],
  [MCI_STATUS.DEFERRED, 'DEFERRED'],
  [MCI_STATUS.POISON, 'POISON'],
];

function isAmdLike(vendor: number): boolean {
  return vendor === CPU_VENDOR.AMD || vendor === CPU_VENDOR.HYGON;
}
function isIntelLike(vendor: number): boolean {
  return vendor === CPU_VENDOR.INTEL || vendor === CPU_VENDOR.ZHAOXIN;
}

/** Names of the set MCi_STATUS bits, highest first; bits 55 and below are named per vendor. */
export function statusBitNames(status: bigint, cpuvendor: number): string[] {
  const table = isAmdLike(cpuvendor) ? AMD_BITS : INTEL_BITS;
  return table.filter(([bit]) => (status & bit) !== 0n).map(([, name]) => name);
}

/** log2 of a page size that is a power of two from 1 KiB up; RangeError otherwise. */
export function pageShiftOf(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1024 || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`page size ${pageSize} is not a power of two of at least 1024`);
  }
  return Math.log2(pageSize);
}

/** CPU family from CPUID(1).EAX, as the kernel's x86_family(). */
export function cpuFamily(cpuid: number): number {
  const base = (cpuid >>> 8) & 0xf;
  return base === 0xf ? base + ((cpuid >>> 20) & 0xff) : base;
}

/**
 * Whether a record comes from a Scalable MCA (SMCA) CPU. The kernel asks the CPU (X86_FEATURE_SMCA); a record does
 * not carry that, so: MCA_IPID exists only on SMCA, and SMCA starts with family 0x17 (Zen; Hygon is family 0x18).
 */
export function isSmcaRecord(rec: MceRecord): boolean {
  return rec.ipid !== 0n || cpuFamily(rec.cpuid) >= 0x17;
}

function genmask(high: number, low: number): bigint {
  if (low > high) return 0n;
  return ((1n << BigInt(high - low + 1)) - 1n) << BigInt(low);
}

interface AddressAnalysis {
  usable: boolean;
  /** The address with the bits below the granularity and any non-address bits cleared. */
  paddr: bigint;
  mode?: number;
  modeName?: string;
  granularityBits?: number;
  /** Why not usable, long form for messages. */
  why?: string;
  /** Why not usable, a few words for describeMceCause. */
  short?: string;
  /** How the kernel itself treats a coarse granularity for this vendor. */
  kernelCoarse: string;
}

function notUsable(paddr: bigint, why: string, short: string, extra: Partial<AddressAnalysis> = {}): AddressAnalysis {
  return { usable: false, paddr, why, short, kernelCoarse: '', ...extra };
}

/** Intel and Zhaoxin: intel_mce_usable_address(), less its `LSB <= PAGE_SHIFT` test. */
function intelAddress(rec: MceRecord): AddressAnalysis {
  const kernelCoarse = 'the kernel would refuse this address';
  if ((rec.status & MCI_STATUS.MISCV) === 0n) {
    return notUsable(rec.addr, 'MISCV clear, so MISC[8:6] (address mode) is unknown', 'MISCV clear');
  }
  const lsb = Number(rec.misc & 0x3fn);
  const mode = Number((rec.misc >> 6n) & 7n);
  const modeName = ADDRESS_MODE_NAMES[mode];
  const extra = { mode, modeName, granularityBits: lsb, kernelCoarse };
  if (mode !== MCI_MISC_ADDR_PHYS) {
    return notUsable(rec.addr, `MISC[8:6] mode ${mode} (${modeName})`, modeName, extra);
  }
  return { usable: true, paddr: rec.addr & ~genmask(lsb - 1, 0), ...extra };
}

/**
 * smca_extract_err_addr(): the LSB sits in MCA_STATUS[29:24] on banks with McaLsbInStatusSupported (address bits
 * 56:0), else in MCA_ADDR[61:56] (address bits 55:0). Records the kernel logged are already masked.
 */
function smcaAddress(rec: MceRecord): { paddr: bigint; granularityBits?: number } {
  const lsbInStatus = Number((rec.status >> 24n) & 0x3fn);
  const lsbInAddr = Number((rec.addr >> 56n) & 0x3fn);
  if (lsbInStatus !== 0) return { paddr: rec.addr & genmask(56, lsbInStatus), granularityBits: lsbInStatus };
  if (lsbInAddr !== 0) return { paddr: rec.addr & genmask(55, lsbInAddr), granularityBits: lsbInAddr };
  return { paddr: rec.addr & genmask(56, 0) };
}

const SMCA_COARSE = 'the kernel would act on the page holding the address only';

/**
 * AMD: amd_mce_usable_address() of the current kernel, with what a record cannot tell approximated:
 * SMCA from isSmcaRecord(), and MCA_CONFIG[PhysAddrValidSupported] by PADDRV itself being set.
 */
function amdAddress(rec: MceRecord): AddressAnalysis {
  const kernelCoarse = SMCA_COARSE;
  const smca = isSmcaRecord(rec);
  const { paddr, granularityBits } = smca ? smcaAddress(rec) : { paddr: rec.addr, granularityBits: undefined };
  const extra = { granularityBits, kernelCoarse };
  if (!smca) {
    // Legacy northbridge: DRAM ECC errors are bank 4 with extended error code 8; bank 4 has no POISON bit.
    const xec = Number((rec.status >> 16n) & 0x1fn);
    if (rec.bank === 4 && xec === 8) return { usable: true, paddr, ...extra };
    if (rec.bank === 4) {
      return notUsable(paddr, `legacy northbridge bank 4 error with extended error code ${xec}, not 8 (DRAM ECC)`, 'northbridge, not DRAM ECC', extra);
    }
  }
  if (smca && (rec.status & MCI_STATUS.PADDRV) !== 0n) return { usable: true, paddr, ...extra };
  if ((rec.status & MCI_STATUS.POISON) !== 0n) return { usable: true, paddr, ...extra };
  return notUsable(
    paddr,
    `AMD: neither POISON${smca ? ' nor PADDRV' : ''} is set, so MCA_ADDR need not be a system physical address`,
    'not a system physical address',
    extra,
  );
}

function vendorAddress(rec: MceRecord): AddressAnalysis {
  if ((rec.status & MCI_STATUS.ADDRV) === 0n) return notUsable(rec.addr, 'ADDRV clear (no address)', 'no address');
  if (isIntelLike(rec.cpuvendor)) return intelAddress(rec);
  // As in the kernel's mce_usable_address(), only AMD takes the AMD rule; Hygon falls to the default branch, but its
  // address was still extracted by smca_extract_err_addr() (mce_flags.smca is set on Hygon too).
  if (rec.cpuvendor === CPU_VENDOR.AMD) return amdAddress(rec);
  if (rec.cpuvendor === CPU_VENDOR.HYGON) return { usable: true, ...smcaAddress(rec), kernelCoarse: SMCA_COARSE };
  return { usable: true, paddr: rec.addr, kernelCoarse: '' };
}

/** Coarser than this, a granularity names no pages worth zero-filling: the address is refused (MCE_COARSE_GRANULARITY). */
export const MAX_GRANULARITY_BITS = 30;

function analyzeAddress(rec: MceRecord): AddressAnalysis {
  const a = vendorAddress(rec);
  if (a.usable && a.granularityBits !== undefined && a.granularityBits > MAX_GRANULARITY_BITS) {
    const why = `granularity 2^${a.granularityBits} is coarser than the 2^${MAX_GRANULARITY_BITS} (1 GiB) slim-core accepts`;
    return { ...a, usable: false, why, short: `granularity 2^${a.granularityBits}` };
  }
  return a;
}

/** Applies the decision table to one record. `pageSize` is the dump's page size (VMCOREINFO PAGESIZE). */
export function judgeMce(rec: MceRecord, origin: RecordOrigin, pageSize: number): MceVerdict {
  const pageShift = pageShiftOf(pageSize);
  const valid = (rec.status & MCI_STATUS.VAL) !== 0n;
  const uncorrected = (rec.status & MCI_STATUS.UC) !== 0n;
  const pcc = (rec.status & MCI_STATUS.PCC) !== 0n;
  const a = analyzeAddress(rec);
  const coarse = a.granularityBits !== undefined && a.granularityBits > pageShift;
  const verdict: MceVerdict = {
    valid,
    uncorrected,
    pcc,
    fatal: false,
    addressUsable: a.usable,
    coarse,
    tooCoarse: a.granularityBits !== undefined && a.granularityBits > MAX_GRANULARITY_BITS,
    messages: [],
  };
  if (a.mode !== undefined) verdict.addressMode = a.mode;
  if (a.modeName !== undefined) verdict.addressModeName = a.modeName;
  if (a.granularityBits !== undefined) verdict.granularityBits = a.granularityBits;
  const say = (m: string) => verdict.messages.push(m);

  if (!valid) {
    say('VAL clear: the record holds no valid error; nothing skipped, not fatal');
    return verdict;
  }
  if (!uncorrected) {
    const deferred = isAmdLike(rec.cpuvendor) && (rec.status & MCI_STATUS.DEFERRED) !== 0n;
    say(deferred ? 'corrected error (UC clear; AMD DEFERRED set): nothing skipped' : 'corrected error: nothing skipped');
  }
  if (!a.usable) say(`address not usable: ${a.why}`);

  if (uncorrected && a.usable) {
    const g = a.granularityBits;
    if (coarse && g !== undefined) {
      const length = 1n << BigInt(g);
      verdict.skip = { paddr: a.paddr & ~(length - 1n), length };
      say(`granularity 2^${g} is coarser than a page: skipping ${hex(length)} bytes (${a.kernelCoarse})`);
      say(`uncorrected error at physical address ${hex(a.paddr)}: skipping ${hex(verdict.skip.paddr)}..${hex(verdict.skip.paddr + length - 1n)}`);
    } else {
      const length = BigInt(pageSize);
      verdict.skip = { paddr: a.paddr & ~(length - 1n), length };
      say(`uncorrected error at physical address ${hex(a.paddr)}: skipping page ${hex(verdict.skip.paddr)} (${hex(length)} bytes)`);
    }
  } else if (uncorrected) {
    say('uncorrected error without a usable address: nothing skipped');
  }

  if (uncorrected) {
    if (pcc) {
      verdict.fatal = true;
      say('fatal: PCC set (processor context corrupt)');
    } else if (origin === 'dump-note' || origin === 'kernel-log') {
      verdict.fatal = true;
      say(`fatal: uncorrected error recorded by the crashed kernel (${origin})`);
    } else {
      say('not fatal: uncorrected without PCC, from the records given by the user');
    }
  }
  return verdict;
}

/**
 * One line naming a record, e.g. "MCE bank 1 status 0xbe00000000100134 addr 0x345000 (physical)". The address part
 * says "(physical)", "(physical, granularity 2^N)" when coarser than a 4 KiB page, "(not usable: REASON)" or
 * "(no address)".
 */
export function describeMceCause(rec: MceRecord): string {
  const head = `MCE bank ${rec.bank} status ${hex(rec.status)}`;
  if ((rec.status & MCI_STATUS.ADDRV) === 0n) return `${head} (no address)`;
  const a = analyzeAddress(rec);
  let what: string;
  if (!a.usable) what = `not usable: ${a.short}`;
  else if (a.granularityBits !== undefined && a.granularityBits > 12) what = `physical, granularity 2^${a.granularityBits}`;
  else what = 'physical';
  return `${head} addr ${hex(rec.addr)} (${what})`;
}
