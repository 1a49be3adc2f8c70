// Small helpers for the CLI: human-readable sizes, and path arguments.

import { UsageError } from '../errors.js';

/** yargs turns a lone "-" into ""; give it back, and refuse a really empty path. */
export function pathArgument(value: string | undefined, what: string): string | undefined {
  if (value !== '') return value;
  if (process.argv.includes('-')) return '-';
  throw new UsageError(`the ${what} path is empty`);
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
