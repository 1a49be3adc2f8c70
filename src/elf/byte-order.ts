// Endian- and class-aware field access on a Buffer, so codecs never branch on byte order themselves.

import { ELF32, ELF64, type ClassLayout } from './constants.js';

export type Endian = 'le' | 'be';
export type ElfClass = 32 | 64;

export interface Format {
  elfClass: ElfClass;
  endian: Endian;
}

export function classLayout(format: Format): ClassLayout {
  return format.elfClass === 64 ? ELF64 : ELF32;
}

export function readU16(buf: Buffer, off: number, endian: Endian): number {
  return endian === 'le' ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}
export function readU32(buf: Buffer, off: number, endian: Endian): number {
  return endian === 'le' ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
export function readU64(buf: Buffer, off: number, endian: Endian): bigint {
  return endian === 'le' ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
}
/** Reads an address-sized field (4 or 8 bytes) as a bigint. */
export function readWord(buf: Buffer, off: number, format: Format): bigint {
  return format.elfClass === 64 ? readU64(buf, off, format.endian) : BigInt(readU32(buf, off, format.endian));
}

export function writeU16(buf: Buffer, off: number, value: number, endian: Endian): void {
  if (endian === 'le') buf.writeUInt16LE(value, off);
  else buf.writeUInt16BE(value, off);
}
export function writeU32(buf: Buffer, off: number, value: number, endian: Endian): void {
  if (endian === 'le') buf.writeUInt32LE(value, off);
  else buf.writeUInt32BE(value, off);
}
export function writeU64(buf: Buffer, off: number, value: bigint, endian: Endian): void {
  if (endian === 'le') buf.writeBigUInt64LE(BigInt.asUintN(64, value), off);
  else buf.writeBigUInt64BE(BigInt.asUintN(64, value), off);
}
export function writeWord(buf: Buffer, off: number, value: bigint, format: Format): void {
  if (format.elfClass === 64) writeU64(buf, off, value, format.endian);
  else writeU32(buf, off, Number(BigInt.asUintN(32, value)), format.endian);
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function hex(value: number | bigint): string {
  return '0x' + value.toString(16);
}
