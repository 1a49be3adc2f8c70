// Small helpers for the CLI: human-readable sizes, path and number arguments.

import { UsageError } from '../errors.js';

/** Stands for a lone "-" while yargs parses: it turns a positional "-" into "", the same as a really empty path. */
const DASH = '\u0000-';

export function protectDashes(argv: readonly string[]): string[] {
  return argv.map((arg) => (arg === '-' ? DASH : arg));
}

/** yargs middleware: every parsed value that was a lone "-" becomes "-" again. */
export function restoreDashes(args: Record<string, unknown>): void {
  const restore = (value: unknown): unknown => (value === DASH ? '-' : Array.isArray(value) ? value.map(restore) : value);
  for (const key of Object.keys(args)) args[key] = restore(args[key]);
}

/** "-" means stdin or stdout; an empty path is refused (see protectDashes). */
export function pathArgument(value: string | undefined, what: string): string | undefined {
  if (value !== '') return value;
  throw new UsageError(`the ${what} path is empty`);
}

/** A numeric option that must be a whole number in [min, max]: yargs gives NaN for "abc", and 0 may mean a loop. */
export function wholeNumberOption(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${option} must be a whole number ${range}, not ${Number.isNaN(value) ? 'a non-number' : value}`);
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "1048576", "512M", "64G", "2TiB": binary units. */
export function parseSize(value: string, option: string): number {
  const match = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`${option} ${value}: want a size such as 1073741824, 512M or 64G`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
