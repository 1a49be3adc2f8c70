// x86 machine-check record: the uapi `struct mce` codec (any record size from 88 bytes on), and its JSON form.

import { BadInputError, UsageError } from '../errors.js';
import { hex, readU32, readU64, writeU32, writeU64, type Endian } from '../elf/byte-order.js';

export interface MceRecord {
  status: bigint;
  misc: bigint;
  addr: bigint;
  mcgstatus: bigint;
  ip: bigint;
  tsc: bigint;
  time: bigint;
  cpuvendor: number;
  injectFlags: number;
  severity: number;
  cpuid: number;
  cs: number;
  bank: number;
  cpu: number;
  finished: number;
  extcpu: number;
  socketid: number;
  apicid: number;
  mcgcap: bigint;
  synd: bigint;
  ipid: bigint;
  ppin: bigint;
  microcode: number;
  kflags: bigint;
}

/** Size of `struct mce` in current kernels, and what slim-core writes. */
export const MCE_RECORD_SIZE = 128;
/** Oldest record size accepted: the struct up to and including mcgcap. */
export const MCE_MIN_RECORD_SIZE = 88;

/** The kernel's X86_VENDOR_* numbers (arch/x86/include/asm/processor.h), as stored in `cpuvendor`. */
export const CPU_VENDOR = {
  INTEL: 0,
  CYRIX: 1,
  AMD: 2,
  UMC: 3,
  CENTAUR: 5,
  TRANSMETA: 7,
  NSC: 8,
  HYGON: 9,
  ZHAOXIN: 10,
  VORTEX: 11,
  UNKNOWN: 0xff,
} as const;

export function cpuVendorName(vendor: number): string {
  for (const [name, value] of Object.entries(CPU_VENDOR)) {
    if (value === vendor) return name.charAt(0) + name.slice(1).toLowerCase();
  }
  return `vendor ${vendor}`;
}

type FieldKind = 'u8' | 'u32' | 'u64';

interface FieldSpec {
  name: keyof MceRecord;
  offset: number;
  kind: FieldKind;
}

/** The uapi layout, in order. Pad bytes (59, 116..119) are not fields. */
export const MCE_FIELDS: readonly FieldSpec[] = [
  { name: 'status', offset: 0, kind: 'u64' },
  { name: 'misc', offset: 8, kind: 'u64' },
  { name: 'addr', offset: 16, kind: 'u64' },
  { name: 'mcgstatus', offset: 24, kind: 'u64' },
  { name: 'ip', offset: 32, kind: 'u64' },
  { name: 'tsc', offset: 40, kind: 'u64' },
  { name: 'time', offset: 48, kind: 'u64' },
  { name: 'cpuvendor', offset: 56, kind: 'u8' },
  { name: 'injectFlags', offset: 57, kind: 'u8' },
  { name: 'severity', offset: 58, kind: 'u8' },
  { name: 'cpuid', offset: 60, kind: 'u32' },
  { name: 'cs', offset: 64, kind: 'u8' },
  { name: 'bank', offset: 65, kind: 'u8' },
  { name: 'cpu', offset: 66, kind: 'u8' },
  { name: 'finished', offset: 67, kind: 'u8' },
  { name: 'extcpu', offset: 68, kind: 'u32' },
  { name: 'socketid', offset: 72, kind: 'u32' },
  { name: 'apicid', offset: 76, kind: 'u32' },
  { name: 'mcgcap', offset: 80, kind: 'u64' },
  { name: 'synd', offset: 88, kind: 'u64' },
  { name: 'ipid', offset: 96, kind: 'u64' },
  { name: 'ppin', offset: 104, kind: 'u64' },
  { name: 'microcode', offset: 112, kind: 'u32' },
  { name: 'kflags', offset: 120, kind: 'u64' },
];

const KIND_SIZE: Record<FieldKind, number> = { u8: 1, u32: 4, u64: 8 };
const FIELD_BY_NAME = new Map(MCE_FIELDS.map((f) => [f.name, f]));

export function emptyMceRecord(): MceRecord {
  return {
    status: 0n, misc: 0n, addr: 0n, mcgstatus: 0n, ip: 0n, tsc: 0n, time: 0n,
    cpuvendor: 0, injectFlags: 0, severity: 0, cpuid: 0, cs: 0, bank: 0, cpu: 0, finished: 0,
    extcpu: 0, socketid: 0, apicid: 0, mcgcap: 0n, synd: 0n, ipid: 0n, ppin: 0n, microcode: 0, kflags: 0n,
  };
}

/**
 * Decodes one record of `recordSize` bytes at the start of `buf`. A field is read only when the record covers it
 * whole; later fields stay 0. Bytes past 128 (fields of future kernels) are ignored.
 */
export function decodeMceRecord(buf: Buffer, endian: Endian, recordSize: number): MceRecord {
  if (!Number.isInteger(recordSize) || recordSize < MCE_MIN_RECORD_SIZE) {
    throw new BadInputError(`MCE record: record size ${recordSize} is below the minimum of ${MCE_MIN_RECORD_SIZE} bytes`);
  }
  const need = Math.min(recordSize, MCE_RECORD_SIZE);
  if (buf.length < need) {
    throw new BadInputError(`MCE record: ${buf.length} bytes given, but a record of size ${recordSize} needs ${need}`);
  }
  const rec = emptyMceRecord();
  const r = rec as unknown as Record<string, bigint | number>;
  for (const f of MCE_FIELDS) {
    if (f.offset + KIND_SIZE[f.kind] > recordSize) break;
    if (f.kind === 'u64') r[f.name] = readU64(buf, f.offset, endian);
    else if (f.kind === 'u32') r[f.name] = readU32(buf, f.offset, endian);
    else r[f.name] = buf[f.offset];
  }
  return rec;
}

/** Encodes a record in the current 128-byte layout, pad bytes zero. Throws RangeError on a value too wide for its field. */
export function encodeMceRecord(rec: MceRecord, endian: Endian): Buffer {
  const buf = Buffer.alloc(MCE_RECORD_SIZE);
  const r = rec as unknown as Record<string, bigint | number>;
  for (const f of MCE_FIELDS) {
    const value = r[f.name];
    if (f.kind === 'u64') {
      if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) {
        throw new RangeError(`MCE record: ${f.name} ${String(value)} is not a 64-bit unsigned value`);
      }
      writeU64(buf, f.offset, value, endian);
    } else {
      const max = f.kind === 'u32' ? 0xffffffff : 0xff;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        throw new RangeError(`MCE record: ${f.name} ${String(value)} does not fit in a ${f.kind}`);
      }
      if (f.kind === 'u32') writeU32(buf, f.offset, value, endian);
      else buf[f.offset] = value;
    }
  }
  return buf;
}

/** Accepted spellings of keys in the JSON form besides the MceRecord names: the kernel's own. */
const JSON_KEY_ALIASES: Record<string, keyof MceRecord> = {
  inject_flags: 'injectFlags',
};

/** Vendor names accepted for `cpuvendor` in the JSON form, besides numbers. */
function vendorFromName(name: string): number | undefined {
  const key = name.trim().toUpperCase() as keyof typeof CPU_VENDOR;
  return Object.prototype.hasOwnProperty.call(CPU_VENDOR, key) ? CPU_VENDOR[key] : undefined;
}

function parseJsonInteger(value: unknown, where: string, key: string): bigint {
  const bad = (why: string): never => {
    throw new UsageError(`${where}: ${JSON.stringify(key)}: ${why}`);
  };
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return bad(`${value} is not a non-negative integer`);
    if (!Number.isSafeInteger(value)) return bad(`${value} is too large to be exact as a JSON number; write it as a "0x..." string`);
    return BigInt(value);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text);
    if (/^[0-9]+$/.test(text)) return BigInt(text);
    return bad(`${JSON.stringify(value)} is neither hex ("0x...") nor decimal`);
  }
  return bad(`expected a number or a string, got ${value === null ? 'null' : typeof value}`);
}

/**
 * Reads one record of the JSON form: an object whose keys are MceRecord field names (or `inject_flags`), with
 * numbers or strings (hex "0x..." or decimal) as values; `cpuvendor` may also be a vendor name ("intel", "amd").
 * `status` is required; fields left out are 0. `where` names the record in error messages.
 */
export function mceRecordFromJson(obj: unknown, where: string): MceRecord {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new UsageError(`${where}: an MCE record must be a JSON object, got ${obj === null ? 'null' : Array.isArray(obj) ? 'an array' : typeof obj}`);
  }
  const rec = emptyMceRecord();
  const r = rec as unknown as Record<string, bigint | number>;
  const seen = new Set<string>();
  for (const [rawKey, value] of Object.entries(obj as Record<string, unknown>)) {
    const name = (JSON_KEY_ALIASES[rawKey] ?? rawKey) as keyof MceRecord;
    const field = FIELD_BY_NAME.get(name);
    if (!field) {
      throw new UsageError(`${where}: unknown key ${JSON.stringify(rawKey)} (known: ${MCE_FIELDS.map((f) => f.name).join(', ')})`);
    }
    if (seen.has(name)) throw new UsageError(`${where}: ${JSON.stringify(rawKey)} is given twice`);
    seen.add(name);
    let n: bigint;
    if (name === 'cpuvendor' && typeof value === 'string' && vendorFromName(value) !== undefined) {
      n = BigInt(vendorFromName(value)!);
    } else {
      n = parseJsonInteger(value, where, rawKey);
    }
    const bits = KIND_SIZE[field.kind] * 8;
    if (n >= 1n << BigInt(bits)) throw new UsageError(`${where}: ${JSON.stringify(rawKey)}: ${hex(n)} does not fit in ${bits} bits`);
    r[name] = field.kind === 'u64' ? n : Number(n);
  }
  if (!seen.has('status')) throw new UsageError(`${where}: "status" is required`);
  return rec;
}

/** The JSON form of a record: every field, 64-bit ones as "0x..." strings, the others as numbers. */
export function mceRecordToJson(rec: MceRecord): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const r = rec as unknown as Record<string, bigint | number>;
  for (const f of MCE_FIELDS) {
    const value = r[f.name];
    out[f.name] = typeof value === 'bigint' ? hex(value) : value;
  }
  return out;
}

/** Field-by-field equality. */
export function mceRecordsEqual(a: MceRecord, b: MceRecord): boolean {
  const ra = a as unknown as Record<string, bigint | number>;
  const rb = b as unknown as Record<string, bigint | number>;
  return MCE_FIELDS.every((f) => ra[f.name] === rb[f.name]);
}
